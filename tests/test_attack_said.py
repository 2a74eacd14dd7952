"""Attacks on the leaves a record's field says (d75d031, :data:`~gitprov.index.extract.
COLUMNED`): such a leaf is no row, only a bit of ``recs.cols``, and conditions and columns on
its key read the field back. Whatever a hostile teammate or a hand edit stores, every answer
must be the whole record's (``_Test.record`` of the record ``SessionLog`` reads, flattened),
built save after save or at once in parsing processes, with fetched copies and forget."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest

from gitprov.audit.compare import flatten_record
from gitprov.audit.log import SessionLog
from gitprov.index.api import Condition, Query
from gitprov.index.extract import COLUMNED, leaf
from gitprov.index.query import QueryIndex, _Test
from test_index import TRACKING, _fetch, _rows_of, index_of, rebuilt_in_processes, save

from conftest import cli, make_repo

#: YAML scalars as a hand edit writes them: every type, and texts that look like others.
_SCALARS = [
    "success", "failed", "''", "'0'", "0", "-1", "72.5", "72", "0.0", "-0.0", "-72.5", ".nan",
    ".inf", "-.inf", "1e308", "1.7976931348623157e+308", "5e-324", "2.2250738585072014e-308",
    "true", "false", "null", "2024-03-01", "2024-03-01T10:00:00Z", "2024-03-01 10:00:00",
    "'2024-03-01'", "'2024-03-01T10:00:00Z'", "'2024-03-01T11:00:00+01:00'",
    "2024-03-01T10:00:00.5+01:00", "'2024-13-45'", "'72.5'", "'1e3'", "'true'", "ü日本",
    "'x y'", "123456789012345678901234567890", "9223372036854775808", "0x1f", "'-0.0'",
    "[1, 2]", "{a: 1}", "[]", "{}", "main", "'nan'", "1_000", "'.5'", '"a\\0b"', "!!float 3",
    "!!str 5",
]  # fmt: skip
#: Keys a condition or a column names: the columned ones, those found under ``run.``, and
#: their ``run.``-prefixed spellings.
_KEYS = [*COLUMNED, "status", "started_at", "duration_s", "run.git.commit"]
_OPS = ("=", "!=", "<", "<=", ">", ">=", "~")
_VALUES = [
    "success", "72.5", "72", "-0", "1e308", "5e-324", "2024-03-01", "2024-03-01T10:00:00Z",
    "true", "", "main", "nan", "1", "a\0b", "0x1f", "x y", "false", "2024-03-01T01:00:00+01:00",
]  # fmt: skip
#: Top-level keys that may shadow or stand beside a columned leaf.
_DOTTED = [
    "run.status", "run.started_at", "run.duration_s", "git.commit", "git.branch", "git.dirty",
    "status", "started_at", "duration_s", "run.run.status", "run.git.commit",
]  # fmt: skip
_FIELDS = {"run": ("status", "started_at", "duration_s"), "git": ("commit", "branch", "dirty")}


def _hostile(rng: random.Random, sid: str) -> str:
    """A record as a hand edit could write it: the keys in any order and type, the section
    not a mapping, a key spelt with dots before or after the section (often the same
    value), an exception."""
    parts: list[str] = []
    held: dict[str, str] = {}
    for section, names in _FIELDS.items():
        pick = rng.random()
        if section == "run" and pick < 0.1:  # (a git that is no mapping: not a record)
            parts.append(f"run: {rng.choice(_SCALARS)}\n")
        elif pick < 0.9:
            values = {n: rng.choice(_SCALARS) for n in names if rng.random() < 0.85}
            held.update(values)
            body = "".join(f"  {n}: {v}\n" for n, v in values.items())
            parts.append(f"{section}:\n{body}" if body else f"{section}: {{}}\n")
    for key in _DOTTED:
        if rng.random() < 0.1:
            same = held.get(key.rpartition(".")[2]) if rng.random() < 0.6 else None
            parts.append(f"{key}: {same or rng.choice(_SCALARS)}\n")
    if rng.random() < 0.2:
        parts.append(f"exception: {rng.choice(['{type: ValueError}', 'null', 'x', '[]'])}\n")
    if rng.random() < 0.5:
        parts.append("provenance:\n  saved_at: '2024-03-01T10:00:00Z'\n")
    rng.shuffle(parts)
    return f"session_id: {sid}\n" + "".join(parts)


def _whole(repo: Path) -> dict[str, dict[str, Any]]:
    """Each listed session's record as ``SessionLog`` reads it (the local one, else a
    fetched copy), flattened; one that does not parse has no leaves."""
    broken: dict[str, Any] = {}
    found = {sid: flatten_record(r) for sid, r in SessionLog(repo).items(broken=broken)}
    return {**found, **{sid: {} for sid in broken}}


def _agree(index: QueryIndex, whole: dict[str, dict[str, Any]], limits: bool = True) -> int:
    """Assert every condition on :data:`_KEYS` and every such column answers as the whole
    records do; the number of matches checked (so an empty answer cannot pass for all)."""
    assert sorted(e.session_id for e in index.query(Query())) == sorted(whole)
    checked = 0
    for key in _KEYS:
        for entry in index.query(Query(columns=(key,))):
            flat = whole[entry.session_id]
            found = next((k for k in (key, f"run.{key}") if k in flat), None)
            if found is None:
                assert key not in entry.values, (entry.session_id, key)
            else:  # as a row gives it back (dates and times as their text)
                got = leaf(found, entry.values[key])
                assert repr(got) == repr(leaf(found, flat[found])), (entry.session_id, key)
        for op in _OPS:
            for value in _VALUES:
                condition = Condition(key, op, value)  # type: ignore[arg-type]
                test = _Test(condition)
                expected = sorted(s for s, flat in whole.items() if test.record(flat))
                got = sorted(e.session_id for e in index.query(Query(where=(condition,))))
                assert got == expected, condition
                if limits and expected:
                    few = index.query(Query(where=(condition,), limit=2))
                    assert {e.session_id for e in few} <= set(expected), condition
                    assert len(few) == min(2, len(expected)), condition
                checked += len(expected)
    return checked


#: Each record alone, the smallest that tells a wrong reading: a dotted key before the
#: section (kept by the flattening) or after it (hidden), a column whose type or sign the
#: field changes, both a key and its ``run.`` form.
_ODD = [
    "run.status: x\nrun:\n  status: y\n",
    "run:\n  status: y\nrun.status: x\n",
    "run.status: y\nrun:\n  status: y\n",
    "status: failed\nrun:\n  status: success\n",
    "started_at: '2024-01-01'\nrun:\n  started_at: '2024-03-01T10:00:00Z'\n",
    "duration_s: 1\nrun:\n  duration_s: 72.5\n",
    "run:\n  status: ''\nexception: {type: E}\n",
    "run:\n  status: '2024-03-01'\n",
    "run:\n  status: 1\n",
    "run: [status]\nrun.status: success\n",
    "run:\n  duration_s: 72\n",
    "run.duration_s: 72.0\nrun:\n  duration_s: 72\n",
    "run:\n  duration_s: -0.0\n",
    "run:\n  duration_s: .nan\n",
    "run:\n  duration_s: .inf\n",
    "run:\n  duration_s: 5e-324\n",
    "run:\n  duration_s: 1.7976931348623157e+308\n",
    "run:\n  duration_s: 123456789012345678901234567890\n",
    "run:\n  duration_s: true\n",
    "run:\n  started_at: 2024-03-01T10:00:00Z\nprovenance:\n  saved_at: '2024-03-01'\n",
    "run.started_at: '2024-03-01'\nprovenance:\n  saved_at: '2024-03-01'\n",
    "run:\n  started_at: ''\n",
    "run:\n  started_at: 'x'\n",
    "git:\n  commit: '2024-03-01'\n  branch: '72'\n  dirty: false\n",
    "git:\n  commit: 12345\n  branch: ''\n  dirty: 0\n",
    "git.dirty: false\ngit:\n  dirty: true\n",
    "git:\n  dirty: null\n  branch: null\nrun:\n  duration_s: null\n  status: null\n",
    "git:\n  branch: '1e308'\n  commit: 'a\\0b'\n",
]


def test_each_odd_record_is_answered_as_its_whole_reading(repo: Path) -> None:
    for n, text in enumerate(_ODD):
        save(repo, f"o{n:02d}", f"session_id: o{n:02d}\n{text}")
    index = index_of(repo)
    assert _agree(index, _whole(repo)) > 300
    assert index.db.execute("SELECT COUNT(*) FROM recs WHERE cols <> 0").fetchone()[0] > 10


def test_hostile_records_saved_fetched_forgotten_are_answered_as_read_whole(
    tmp_path: Path,
) -> None:
    """Saved one by one (the index caught up after each), with a teammate's copies of some
    of the same sessions (the local record wins) and of others, some forgotten."""
    rng = random.Random(20)
    mine = make_repo(tmp_path / "mine")
    theirs = make_repo(tmp_path / "theirs")
    index = index_of(mine)
    for n in range(40):
        sid = f"s{n:02d}"
        if n % 3:
            save(mine, sid, _hostile(rng, sid))
            index.query(Query(limit=1))
        if n % 2:
            save(theirs, sid, _hostile(rng, sid))
    _fetch(mine, theirs)
    SessionLog(mine).forget(["s01", "s04"], "attack")
    SessionLog(theirs).forget(["s07"], "attack")
    _fetch(mine, theirs)
    whole = _whole(mine)
    assert {"s03", "s05"} <= whole.keys() and not {"s01", "s04", "s07"} & whole.keys()
    assert index.query(Query(ids=["s05"]))[0].source == "refs/provenance/sessions"
    assert index.query(Query(ids=["s03"]))[0].source == TRACKING
    assert _agree(index, whole, limits=False) > 1000


def test_a_build_in_parsing_processes_says_what_saves_one_by_one_say(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(21)
    index = index_of(repo)
    for n in range(30):
        save(repo, f"p{n:02d}", _hostile(rng, f"p{n:02d}"))
        index.query(Query(limit=1))
    one_by_one = _rows_of(repo)
    assert any(row[10] for row in one_by_one[:30])  # some fields say their leaf
    with rebuilt_in_processes(repo, monkeypatch) as index:
        assert _agree(index, _whole(repo), limits=False) > 500
    assert _rows_of(repo) == one_by_one


def test_list_shows_a_said_leaf_as_the_record_holds_it(repo: Path) -> None:
    """``list --format json/csv --columns``: the leaf itself (a float stays a float, a
    flag a flag, a date its text), also where the field says it."""
    records = {
        "a": "run:\n  duration_s: 72.5\n  status: failed\ngit:\n  dirty: true\n",
        "b": "run:\n  duration_s: 72\n  status: '2024-03-01'\ngit:\n  dirty: 'no'\n",
        "c": "run.duration_s: 0.1\nrun:\n  duration_s: 0.1\ngit:\n  dirty: false\n",
        "d": "run:\n  duration_s: 1.0e+16\n  started_at: '2024-03-01T10:00:00Z'\n",
    }
    for sid, text in records.items():
        save(repo, sid, f"session_id: {sid}\n{text}")
    columns = "run.duration_s,git.dirty,run.status"
    shown = json.loads(
        cli("-C", str(repo), "list", "--format", "json", "--columns", columns).stdout
    )
    got = {e["session_id"]: {k: e.get(k) for k in columns.split(",")} for e in shown}
    assert got == {
        "a": {"run.duration_s": 72.5, "git.dirty": True, "run.status": "failed"},
        "b": {"run.duration_s": 72, "git.dirty": "no", "run.status": "2024-03-01"},
        "c": {"run.duration_s": 0.1, "git.dirty": False, "run.status": None},
        "d": {"run.duration_s": 1e16, "git.dirty": None, "run.status": None},
    }  # fmt: skip
    assert [type(e["run.duration_s"]) for e in sorted(shown, key=lambda e: e["session_id"])] == [
        float,
        int,
        float,
        float,
    ]
    out = cli("-C", str(repo), "list", "--format", "csv", "--columns", columns).stdout
    cells = {
        row["session_id"]: [row[k] for k in columns.split(",")]
        for row in csv.DictReader(out.splitlines())
    }
    assert cells == {
        "a": ["72.5", "true", "failed"],
        "b": ["72", "no", "2024-03-01"],
        "c": ["0.1", "false", ""],
        "d": ["1e+16", "", ""],
    }


def test_a_condition_on_a_said_key_is_one_term_the_other_filters_still_hold(
    tmp_path: Path,
) -> None:
    """Found by a field or by a row (``run.status: success`` said, ``1`` a row), the test is
    one term: it once escaped ``AND`` and listed a fetched copy the local record stands
    for, and a run ``--since`` leaves out."""
    mine = make_repo(tmp_path / "mine")
    theirs = make_repo(tmp_path / "theirs")
    save(mine, "a", "session_id: a\nrun:\n  status: success\n")
    save(mine, "b", "session_id: b\nrun:\n  status: 1\n  started_at: '2020-01-01T00:00:00Z'\n")
    save(theirs, "a", "session_id: a\nrun:\n  status: 1\n")
    _fetch(mine, theirs)
    found = cli("-C", str(mine), "list", "--format", "ids", "--where", "run.status=1")
    assert found.stdout.split() == ["b"]
    since = ("--since", "2023-01-01")
    found = cli("-C", str(mine), "list", "--format", "ids", "--where", "run.status=1", *since)
    assert found.stdout.split() == []
    index = index_of(mine)
    for key in ("run.status", "status"):
        condition = Condition(key, "=", "1")
        assert [e.session_id for e in index.query(Query(where=(condition,)))] == ["b"]
        assert index.query(Query(where=(condition,), since=1.6e9)) == []
