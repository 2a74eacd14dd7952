"""What callers may ask of the query index, and what it answers (issue 15).

A :class:`Query` says which runs; :class:`IndexEntry` is one run as the index knows it.
Keys are dotted, as ``gitprov compare`` flattens a record (:func:`gitprov.audit.compare.
flatten_record`: ``run.params.lr``, ``git.branch``); a key is looked up as written, then
under ``run.`` (so ``params.lr`` finds a Kedro run's ``run.params.lr`` and a ``record()``
call's top-level ``params.lr``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Op = Literal["=", "!=", "<", "<=", ">", ">=", "~"]

#: The ``status`` of an entry whose record does not parse (its ``problem`` says why).
UNREADABLE = "unknown"

#: The operators of ``--where KEY<OP>VALUE``, longest first (as a parser tries them).
OPS: tuple[Op, ...] = ("<=", ">=", "!=", "=", "<", ">", "~")


@dataclass(frozen=True)
class Condition:
    """``key op value``: compared as numbers when both sides are numbers, as instants
    when both are ISO dates or times, else as text; ``~`` is a substring test. A run
    without ``key`` never matches (``!=`` included)."""

    key: str
    op: Op
    value: str


@dataclass(frozen=True)
class Query:
    """Which runs, in which order. Every field narrows; the defaults select everything,
    newest first. ``since``/``until`` bound the start (epoch seconds, inclusive);
    ``commits`` are full object ids (the caller resolves revisions)."""

    where: tuple[Condition, ...] = ()
    since: float | None = None
    until: float | None = None
    status: tuple[str, ...] = ()
    branch: str | None = None
    commits: tuple[str, ...] | None = None
    dirty: bool | None = None
    user: str | None = None
    ids: tuple[str, ...] | None = None
    limit: int | None = None
    newest_first: bool = True
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class IndexEntry:
    """One run as the index knows it.

    ``started`` is ``run.started_at``, else ``provenance.saved_at`` (epoch seconds, ``None``
    when neither parses), ``started_at`` the text it came from; ``what`` the pipeline names
    or the command line (whole; displays shorten it); ``user`` git's user name, else the
    OS user name; ``source`` the ref the record was read from (local first); ``problem``
    why the record is not fully indexed (it does not parse, or a field has an odd type),
    ``None`` when it is; ``values`` the :attr:`Query.columns` asked for (a missing key is
    absent)."""

    session_id: str
    started: float | None
    started_at: str | None
    duration: float | None
    status: str
    commit: str | None
    branch: str | None
    dirty: bool | None
    snapshot: str | None
    what: str
    user: str | None
    source: str
    blob: str
    problem: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
