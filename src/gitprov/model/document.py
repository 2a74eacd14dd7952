"""The record format: session ids, plain values, key order, YAML in and out."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import numbers
import re
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, cast

from gitprov._version import __version__
from gitprov.errors import InvalidSessionIdError
from gitprov.model.limits import MAX_BLOB_BYTES, load_stored

if TYPE_CHECKING:
    import yaml

    from gitprov.model.sections import Host, Provenance, Record

#: ``provenance.format``: 2 since ``run:`` is the same for every entry point (format 1 records,
#: written before, may have another ``run:``; the schema reads both).
FORMAT = 2

_ID = re.compile(r"[A-Za-z0-9_:+@][A-Za-z0-9._:+@-]{0,127}")

#: Keys Kedro writes, in the order a reader expects them; other keys follow alphabetically.
_LEADING = (
    "session_id",
    "parent",
    "project_path",
    "username",
    "cli",
    "env",
    "runtime_params",
    "run",
)
_TRAILING = ("exception", "git", "provenance")


def validate_session_id(session_id: object) -> str:
    """Return ``session_id`` if it is safe as a file name in a git tree, else raise.

    1-128 characters of letters, digits and ``._:+@-``, not starting with ``.`` or ``-``,
    never ``..``: no path traversal, no newline, nothing a shell or git would misread.
    """
    if not isinstance(session_id, str) or not _ID.fullmatch(session_id) or ".." in session_id:
        shown = repr(session_id)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise InvalidSessionIdError(
            f"invalid session id {shown}: use 1-128 characters of letters, digits and "
            f"'._:+@-', not starting with '.' or '-' and without '..' "
            f"(Kedro's own ids, like 2026-11-24T10.30.45.123Z, are valid)"
        )
    return session_id


def to_plain(value: Any, _seen: frozenset[int] = frozenset()) -> Any:
    """``value`` made of YAML's plain types only, so that a save never fails on a type.

    Paths, dates and unknown objects become strings, sets become sorted lists, enums their
    value, numbers of other types (``IntEnum`` aside, numpy's) plain ints and floats;
    cycles become ``"<cycle>"``.
    """
    if value is None or type(value) in (bool, int, float):
        return value
    if isinstance(value, enum.Enum):
        return to_plain(value.value, _seen)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if id(value) in _seen:
        return "<cycle>"
    seen = _seen | {id(value)}
    if isinstance(value, Mapping):
        return {str(to_plain(k, seen)): to_plain(v, seen) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v, seen) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((to_plain(v, seen) for v in value), key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_plain(dataclasses.asdict(value), seen)
    return to_plain(str(value), seen)


def build(
    session_id: str,
    data: Mapping[str, Any],
    git: Mapping[str, Any],
    *,
    host: Host,
    saved_at: str,
    packages: Mapping[str, str | None] | None = None,
    secret_keys: Iterable[str] = (),
) -> Record:
    """The full record: the session's own keys, then ``git`` and ``provenance``, ordered.

    Pure: where it runs (``host``, the project's ``packages``, :mod:`gitprov.state.environment`)
    and when it is saved are given. The captured ``git`` section replaces Kedro's own
    two-key one (``commit_sha`` and ``dirty`` are kept in it under the same names). The
    session's keys are redacted (``secret_keys`` adds secret words); a ``run:`` still under
    way ends at ``saved_at`` (:func:`gitprov.model.run.close`).
    """
    from gitprov.model import run  # what writes needs, imported by writers only
    from gitprov.model.redact import redact

    plain = to_plain({k: v for k, v in data.items() if k not in ("git", "provenance")})
    body: dict[str, Any] = redact(plain, secret_keys)
    if "run" in body:
        body["run"] = run.close(body["run"], saved_at, body.get("exception"))
    body["session_id"] = session_id
    body["git"] = to_plain(git)
    provenance: Provenance = {
        "format": FORMAT,
        "saved_at": saved_at,
        "gitprov": __version__,
        "host": host,
    }
    if packages is not None:
        provenance["packages"] = dict(packages)
    body["provenance"] = provenance
    head = [k for k in _LEADING if k in body]
    tail = [k for k in _TRAILING if k in body]
    middle = sorted(k for k in body if k not in _LEADING and k not in _TRAILING)
    return cast("Record", {k: body[k] for k in head + middle + tail})


def run_status(data: Mapping[str, Any]) -> str:
    """How the session ended, as far as the store knows (a record read back may say
    anything: its status is shown as it is)."""
    from gitprov.model.sections import FAILED, SUCCESS

    section = data.get("run")
    if isinstance(section, dict) and section.get("status"):
        return str(section["status"])
    return FAILED if data.get("exception") else SUCCESS


def dumper() -> type[yaml.SafeDumper]:
    """libyaml's emitter when PyYAML has it: the pure-Python one costs milliseconds a save.
    Both write the same YAML (libyaml escapes characters beyond the BMP, like emoji).
    PyYAML is imported here, when something is written: what reads the index alone (a
    warm ``gitprov list``) never pays for it."""
    import yaml

    found: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return found


def dump(record: Mapping[str, Any]) -> bytes:
    import yaml

    text = yaml.dump(
        dict(record),
        Dumper=dumper(),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return text.encode("utf-8")


def load(data: bytes, session_id: str, where: str) -> dict[str, Any]:
    """Parse a stored record (the blob ``where``, as ``<ref>:<path>``); a broken one is
    named, in one line, never silently skipped.

    Records come from any remote, so one beyond :mod:`gitprov.model.limits` (too large, too
    deep, or whose aliases expand too far) is refused before any of it is built.
    """

    def check(record: Any) -> None:
        if not isinstance(record, dict):
            raise ValueError("is not a YAML mapping")
        if not isinstance(record.get("git") or {}, dict):
            raise ValueError("has a git section that is not a mapping")
        claimed = record.get("session_id")
        # a record is stored under its own id; conflict copies of older versions
        # (``<id>+<remote>-<blob>``) kept the id they copied
        if claimed is not None and str(claimed) != session_id:
            copy = re.fullmatch(rf"{re.escape(str(claimed))}\+[\w@-]+-[0-9a-f]{{8,}}", session_id)
            if copy is None:
                raise ValueError(f"claims to be session {str(claimed)[:60]!r}")

    named = f"the stored record of session {session_id}"
    record: dict[str, Any] = load_stored(
        data, MAX_BLOB_BYTES, named, where, check, " (other records are unaffected)"
    )
    return record
