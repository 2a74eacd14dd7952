"""The record format: ids, plain values, key order, YAML."""

from __future__ import annotations

import datetime as dt
import enum
from collections import OrderedDict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from gitprov._version import __version__
from gitprov.errors import CorruptRecordError, InvalidSessionIdError
from gitprov.model.document import build, dump, load, to_plain, validate_session_id
from gitprov.model.sections import Host

#: Where and when a test record is built.
WHERE: dict[str, Any] = {
    "host": Host(hostname="h", platform="Linux-x", python="3.11.7"),
    "saved_at": "2026-11-24T10:31:02.117Z",
}


@pytest.mark.parametrize(
    "good", ["2026-11-24T10.30.45.123Z", "a", "run_1+exp@host:2", "X" * 128, "_x", "@a", "+x", ":x"]
)
def test_valid_ids(good: str) -> None:
    assert validate_session_id(good) == good


@pytest.mark.parametrize(
    "bad",
    ["", "../etc/passwd", "a/b", "a\nb", "x" * 300, ".hidden", "-rf", "a..b", "a b", "ü", None, 12],
)
def test_invalid_ids(bad: object) -> None:
    with pytest.raises(InvalidSessionIdError, match="invalid session id") as info:
        validate_session_id(bad)
    assert isinstance(info.value, ValueError)
    assert "letters, digits" in str(info.value)


class Color(enum.Enum):
    RED = "red"


class Opaque:
    def __str__(self) -> str:
        return "opaque-object"


class Level(enum.IntEnum):
    HIGH = 3


class Meters(float):
    pass


class Count(int):
    pass


class Name(str):
    pass


def test_to_plain_makes_everything_representable() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    value = {
        "path": Path("/a/b"),
        "pure": PurePosixPath("x/y"),
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "day": dt.date(2026, 1, 2),
        "set": {3, 1, 2},
        "tuple": (1, "a"),
        "enum": Color.RED,
        "obj": Opaque(),
        "bytes": b"\xffab",
        1: "int key",
        "nested": OrderedDict(a=[{"b": {4, 5}}]),
        "cycle": cyclic,
        "surrogate": "bad\udcff",
        "int_enum": Level.HIGH,
        "float_sub": Meters(2.5),  # as numpy.float64 subclasses float
        "int_sub": Count(7),
        "fraction": Fraction(1, 4),  # a numbers.Real that is no float
        "decimal": Decimal("0.10"),  # not Real: kept exact, as text
        "str_sub": Name("n"),
    }
    plain = to_plain(value)
    assert plain == {
        "path": "/a/b",
        "pure": "x/y",
        "when": "2026-01-02T03:04:05+00:00",
        "day": "2026-01-02",
        "set": [1, 2, 3],
        "tuple": [1, "a"],
        "enum": "red",
        "obj": "opaque-object",
        "bytes": "\\xffab",
        "1": "int key",
        "nested": {"a": [{"b": [4, 5]}]},
        "cycle": ["<cycle>"],
        "surrogate": "bad\\udcff",
        "int_enum": 3,
        "float_sub": 2.5,
        "int_sub": 7,
        "fraction": 0.25,
        "decimal": "0.10",
        "str_sub": "n",
    }
    assert [type(plain[k]) for k in ("int_enum", "float_sub", "int_sub", "str_sub")] == [
        int,
        float,
        int,
        str,
    ]
    assert yaml.safe_load(dump(plain)) == plain


def test_build_orders_keys_and_replaces_kedro_git() -> None:
    data = {
        "zeta": 1,
        "git": {"commit_sha": "old", "dirty": False},
        "username": "ann",
        "project_path": Path("/p"),
        "exception": {"type": "ValueError"},
        "alpha": 2,
    }
    record = build("s1", data, {"commit_sha": "abc1234", "dirty": True}, **WHERE)
    assert list(record) == [
        "session_id",
        "project_path",
        "username",
        "alpha",
        "zeta",
        "exception",
        "git",
        "provenance",
    ]
    assert record["git"] == {"commit_sha": "abc1234", "dirty": True}
    assert record["provenance"] == {
        "format": 2,
        "saved_at": WHERE["saved_at"],
        "gitprov": __version__,
        "host": WHERE["host"],
    }
    assert load(dump(record), "s1", "r:p") == record


def test_build_is_pure() -> None:
    """Where and when come in as arguments: the same arguments build the same record, and
    the arguments are left as they were."""
    data = {"run": {"status": "success", "argv": ["x"]}, "params": {"token": "t"}}
    packages = {"kedro": "1.0", "missing": None}
    first = build("s1", data, {"commit": None}, packages=packages, **WHERE)
    assert build("s1", data, {"commit": None}, packages=packages, **WHERE) == first
    assert data == {"run": {"status": "success", "argv": ["x"]}, "params": {"token": "t"}}
    assert first["provenance"]["packages"] == packages
    assert first["provenance"]["packages"] is not packages


def test_load_names_the_broken_session() -> None:
    with pytest.raises(CorruptRecordError) as info:
        load(b"a: b\nc: [unclosed", "s9", "refs/provenance/sessions:ab/s9.yaml")
    message = str(info.value)
    assert "session s9 is not valid YAML" in message and "at line " in message
    assert "`git show refs/provenance/sessions:ab/s9.yaml`" in message and "\n" not in message
    with pytest.raises(CorruptRecordError, match="not a YAML mapping"):
        load(b"- just a list", "s9", "r:p")
    with pytest.raises(CorruptRecordError, match="git section that is not a mapping"):
        load(b"session_id: s9\ngit: just text\n", "s9", "r:p")
    with pytest.raises(CorruptRecordError, match="not UTF-8"):
        load(b"k: \xff\n", "s9", "r:p")
