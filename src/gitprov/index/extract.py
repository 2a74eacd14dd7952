"""What the index keeps of one record: the fields every listing shows, and its leaves.

A record read back may hold anything (a hand edit, a remote's): each field is taken when
it has the type gitprov writes, and otherwise left empty and named in ``problem``, so one
odd record is indexed as far as it goes and ``verify`` can say what is wrong with it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from sys import intern
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from gitprov.index.fastyaml import Shape, Shaped

#: What of gitprov's own sections is kept as rows of the key/value table (with everything
#: under it): ``git``'s few keys asked for most, and ``run``'s but the bulky ones (what ran
#: and what went in and out: dozens of leaves a record, which would make the table many
#: times larger than the records). A condition on a key left out reads the records
#: themselves (slower, as rare). Parameters, metrics and the user's own keys are rows.
KEPT = {"git": frozenset({"commit", "branch", "dirty"})}
LEFT_OUT = {
    "run": frozenset(
        {"inputs", "outputs", "config", "nodes", "datasets_saved", "argv", "cwd", "tags"}
        | {"pipeline_names", "error", "finished_at", "failed_node", "signal"}
    )
}


@cache
def skimmed() -> dict[str, re.Pattern[str]]:
    """The entries the index's reader skips (:func:`gitprov.index.fastyaml.skim`): what
    neither the rows nor :func:`extract`'s fields read (``run``'s bulk but what ran,
    ``git`` but its commit, branch, dirty and snapshot, ``provenance`` but saved_at)."""
    from gitprov.index.fastyaml import entries

    return {
        "run": entries(named=LEFT_OUT["run"] - {"pipeline_names", "argv"}),
        "git": entries(but=KEPT["git"] | {"snapshot"}),
        "provenance": entries(but={"saved_at"}),
    }


def _kept(section: Any, name: Any) -> bool:
    """Whether the key ``name`` of the top-level ``section`` is a row."""
    kept, left_out = KEPT.get(section), LEFT_OUT.get(section)
    return (kept is None or name in kept) and (left_out is None or name not in left_out)


def in_table(key: str) -> bool:
    """Whether a key's leaves are rows of the key/value table (else only in the record)."""
    section, _, rest = key.partition(".")
    return _kept(section, rest.partition(".")[0])


#: Keys nearly every record holds whose leaf its fields already say (``run.status`` is
#: ``status``...): ``{key: (bit, field)}``. A leaf its field says exactly is not a row (a
#: third of all rows, and most distinct values: each run's start and duration), only its
#: bit in ``cols``; one the field does not say (another type, a NaN...) is a row as usual.
COLUMNED = {
    "run.status": (1, "status"),
    "run.started_at": (2, "started_at"),
    "run.duration_s": (4, "duration"),
    "git.commit": (8, "commit"),
    "git.branch": (16, "branch"),
    "git.dirty": (32, "dirty"),
}


def _said(value: Any, name: str, field_: Any) -> bool:
    """Whether the field ``name`` holding ``field_`` says the leaf ``value`` exactly: the
    same type and value, which a column gives back unchanged (a finite float, no negative
    zero) and as the same kind (a text field, but the start, holds no date)."""
    kind = type(value)
    if kind is not type(field_) or value != field_:
        return False
    if kind is float:
        return math.isfinite(value) and math.copysign(1.0, value) > 0
    if kind is str:  # the start is a date or not as its epoch seconds say (``started``)
        return name == "started_at" or instant(value) is None
    return kind is bool


def _leaves(
    record: Mapping[str, Any],
    fields_: Extracted,
    shaped: Shaped | None,
) -> tuple[list[Leaf], int]:
    """The leaves of ``record`` that are rows, in the record's order, and the bits of those
    its fields say (:data:`COLUMNED`): the record flattened as a whole (the same keys, the
    same values), but what is left out is not flattened; by its shape's plan when it was
    read by one (``shaped``: the shape, its values and their texts)."""
    said = fields_.__dict__
    if shaped is not None:
        planned = _planned(*shaped, said)
        if planned is not None:
            return planned
    flat = _flat(record)
    cols = 0
    for key, (bit, name) in COLUMNED.items():
        value = flat.get(key, flat)
        if value is not flat and _said(value, name, said[name]):
            del flat[key]
            cols |= bit
    # each key interned: a batch of records sent to the index's process pickles it once
    return [leaf(intern(key), value) for key, value in flat.items()], cols


def _flat(record: Mapping[str, Any]) -> dict[str, Any]:
    """The leaves of ``record`` that are rows, by flattened key."""
    from gitprov.audit.compare import NOT_COMPARED, _flatten_into

    flat: dict[str, Any] = {}
    sift = False  # whether some flattened key may still be left out (see in_table)
    for key, value in record.items():
        if key in NOT_COMPARED:
            continue
        name = str(key)
        if key in _SIFTED and isinstance(value, Mapping):
            # by the first part of its flattened key (``commit.x`` is under git.commit)
            value = {
                k: v
                for k, v in value.items()
                if _kept(key, k if type(k) is str and "." not in k else str(k).partition(".")[0])
            }
        elif name.partition(".")[0] in _SIFTED:  # not a mapping, or a key spelt with dots
            sift = True
        _flatten_into(value, name, flat)
    return {k: v for k, v in flat.items() if in_table(k)} if sift else flat


class _Slot:
    """Where a value of a shape goes (:func:`_plan`)."""

    __slots__ = ("at",)

    def __init__(self, at: int) -> None:
        self.at = at


class _ShapeRows(NamedTuple):
    """Which value of a record of a shape is which row (``rows``: key and place, in the
    record's order), and which of those its fields may say (``said``: key, place, bit and
    field of :data:`COLUMNED`)."""

    rows: list[tuple[str, int]]
    said: list[tuple[str, int, int, str]]


def _plan(shape: Shape) -> _ShapeRows | None:
    """The plan of ``shape``, by flattening it with its values' places for values; ``None``
    when where they go depends on the values (a list of mappings is keyed by its items'
    names, a list of values is one leaf)."""
    flat = _flat(shape.build([_Slot(at) for at in range(len(shape.values))]))
    if not all(type(value) is _Slot for value in flat.values()):
        return None
    rows = [(intern(key), value.at) for key, value in flat.items()]
    said = [(key, at, *COLUMNED[key]) for key, at in rows if key in COLUMNED]
    return _ShapeRows(rows, said)


#: Leaves already made, by key and the text of their value (which says the value exactly:
#: ``-0.0`` is not ``0.0``, ``'1'`` not ``1``): most recur, and a batch of records sent to
#: the index's process pickles a leaf it holds twice once.
_MADE: dict[tuple[str, str], Leaf] = {}


def _planned(
    shape: Shape, values: list[Any], texts: list[str], said: Mapping[str, Any]
) -> tuple[list[Leaf], int] | None:
    """:func:`_leaves` of the record ``shape`` read with ``values`` (none a collection:
    see :class:`~gitprov.index.fastyaml.Shapes`) from ``texts``, by the shape's plan;
    ``None`` when it has none."""
    if shape.plan is None:
        shape.plan = _plan(shape) or False  # made once: False, it has none
    plan = shape.plan
    if not isinstance(plan, _ShapeRows):
        return None
    cols = 0
    told = set()
    for key, at, bit, name in plan.said:
        if _said(values[at], name, said[name]):
            cols |= bit
            told.add(key)
    made = _MADE
    if len(made) > 100_000:
        made.clear()
    leaves = []
    for key, at in plan.rows:
        if key in told:
            continue
        text = texts[at]
        found = made.get((key, text))
        if found is None:
            found = leaf(key, values[at])
            if len(text) <= 256:  # a long one is kept by no record but its own
                made[(key, text)] = found
        leaves.append(found)
    return leaves, cols


_SIFTED = KEPT.keys() | LEFT_OUT.keys()


_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)

#: Kinds of a leaf: int, float, bool, null, date/time, text, anything else (JSON).
INT, FLOAT, BOOL, NULL, INSTANT, TEXT, JSON = "i", "f", "b", "z", "d", "s", "j"
NUMBERS = (INT, FLOAT)


def instant(text: str) -> float | None:
    """Epoch seconds of an ISO date or time (UTC when it names no zone), else ``None``."""
    if not "0" <= text[:1] <= "9" or not _INSTANT.fullmatch(text):  # most are not: cheap
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return _epoch(when)


def _epoch(when: dt.date) -> float:
    if not isinstance(when, dt.datetime):
        when = dt.datetime(when.year, when.month, when.day)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def number(text: str) -> float | None:
    """``text`` as a number when it spells one (``0.01``, ``-3``, ``1e-5``), else ``None``."""
    return float(text) if _NUMBER.fullmatch(text) else None


Leaf = tuple[str, str, str, "int | float | None"]  # key, kind, text, num


def _float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def leaf(key: str, value: Any) -> Leaf:
    """One flattened value as stored: its kind, its text (what ``=`` and ``~`` compare)
    and its number (numbers, and dates as epoch seconds)."""
    kind = type(value)  # the common types first, by identity (a bool is no int here)
    if kind is str:
        when = instant(value)
        return key, (TEXT if when is None else INSTANT), value, when
    if kind is float:
        return key, FLOAT, repr(value), value
    if kind is int:
        return key, INT, str(value), value if -(2**63) <= value < 2**63 else _float(value)
    if isinstance(value, bool):
        return key, BOOL, "true" if value else "false", None
    if isinstance(value, int):  # beyond a float's range: an infinity, still ordered
        big = value if -(2**63) <= value < 2**63 else _float(value)
        return key, INT, str(value), big
    if isinstance(value, float):
        return key, FLOAT, repr(value), value
    if value is None:
        return key, NULL, "null", None
    if isinstance(value, str):
        when = instant(value)
        return key, (TEXT if when is None else INSTANT), value, when
    if isinstance(value, dt.date):
        return key, INSTANT, value.isoformat(), _epoch(value)
    import json  # a list or mapping leaf (rare): not at start-up

    return key, JSON, json.dumps(value, default=str, ensure_ascii=False), None


def value_of(kind: str, text: str) -> Any:
    """The value a :func:`leaf` stood for (dates and times as their text)."""
    if kind == INT:
        return int(text)
    if kind == FLOAT:
        return float(text)
    if kind == BOOL:
        return text == "true"
    if kind == NULL:
        return None
    if kind == JSON:
        import json

        return json.loads(text)
    return text


@dataclass
class Extracted:
    """The indexed fields of one record (see :class:`gitprov.index.api.IndexEntry`)."""

    started: float | None = None
    started_at: str | None = None
    duration: float | None = None
    status: str = "unknown"
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    snapshot: str | None = None
    what: str = ""
    user: str | None = None
    problem: str | None = None
    leaves: list[Leaf] = field(default_factory=list)
    cols: int = 0  # the bits of COLUMNED whose leaf a field says


class _Fields:
    """Typed reads of a record's fields; what has another type is noted, not taken."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def odd(self, name: str, value: Any, wanted: str) -> None:
        self.problems.append(f"{name} is {_kind(value)}, not {wanted}")

    def section(self, record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
        value = record.get(name)
        if value is None or isinstance(value, Mapping):
            return value or {}
        self.odd(name, value, "a mapping")
        return {}

    def text(self, section: Mapping[str, Any], name: str, where: str) -> str | None:
        value = section.get(name)
        if value is None or isinstance(value, str):
            return value
        self.odd(f"{where}{name}", value, "text")
        return None

    def strings(self, section: Mapping[str, Any], name: str, where: str) -> list[str] | None:
        value = section.get(name)
        if value is None:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        self.odd(f"{where}{name}", value, "a list of text")
        return None


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is True or value is False:
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"


def extract(record: Mapping[str, Any], shaped: Shaped | None = None) -> Extracted:
    """The indexed fields and leaves of ``record`` (a parsed record: a mapping; ``shaped``:
    the shape that read it and its values, see :class:`~gitprov.index.fastyaml.Shapes`)."""
    from gitprov.model.document import run_status

    read = _Fields()
    run = read.section(record, "run")
    git = read.section(record, "git")
    out = Extracted()
    out.started_at = read.text(run, "started_at", "run.")
    if out.started_at is None:
        out.started_at = read.text(read.section(record, "provenance"), "saved_at", "provenance.")
    out.started = None if out.started_at is None else instant(out.started_at)
    if out.started_at is not None and out.started is None:
        read.problems.append(f"its start {out.started_at[:40]!r} is not an ISO date and time")
    duration = run.get("duration_s")
    if isinstance(duration, (int, float)) and not isinstance(duration, bool):
        out.duration = float(duration)
    elif duration is not None:
        read.odd("run.duration_s", duration, "a number")
    out.status = run_status({"run": run, "exception": record.get("exception")})
    out.commit = read.text(git, "commit", "git.")
    out.branch = read.text(git, "branch", "git.")
    out.snapshot = read.text(git, "snapshot", "git.")
    dirty = git.get("dirty")
    if isinstance(dirty, bool):
        out.dirty = dirty
    elif dirty is not None:
        read.odd("git.dirty", dirty, "true or false")
    pipelines = read.strings(run, "pipeline_names", "run.")
    argv = read.strings(run, "argv", "run.")
    if pipelines:
        out.what = ", ".join(pipelines)
    elif argv:
        import shlex  # commands are a part of the records: not at every command's start

        out.what = shlex.join(argv)
    user = run.get("user")
    name = read.text(user, "name", "run.user.") if isinstance(user, Mapping) else None
    out.user = name or read.text(record, "username", "")
    out.leaves, out.cols = _leaves(record, out, shaped)
    out.problem = "; ".join(read.problems) or None
    return out
