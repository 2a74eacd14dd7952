"""The query index itself: caught up with the records refs, then asked in SQL.

Each records ref read (the local one, then every fetched copy, as :class:`~gitprov.audit.
log.SessionLog` reads them) is remembered at the commit it was indexed at. Before each
answer the refs' tips are read from their files (no process when nothing moved); a ref
that moved is caught up: the local one from one ``git diff-tree`` between the two commits
(a save touches one bucket; right even after ``forget`` rewrote history), a fetched copy,
or anything unexpected, from a whole vetted listing (:func:`gitprov.store.untrusted.
list_blobs`). New blobs are read through one ``cat-file --batch`` and parsed once each
(by blob and session, whichever refs hold them). The answer follows ``SessionLog``: a
session is listed when a ref holds its record and none its tombstone; the local record
stands for it, else the first fetched copy whose record parses.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import threading
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager, suppress
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitprov.errors import CorruptRecordError, GitProvError
from gitprov.git import Git
from gitprov.git.objects import Entry
from gitprov.git.process import zsplit
from gitprov.git.reader import ObjectReader
from gitprov.git.reffiles import has_refs_under, read_ref_file
from gitprov.index import db as database
from gitprov.index.api import UNREADABLE, Condition, IndexEntry, Query
from gitprov.index.extract import (
    COLUMNED,
    INSTANT,
    NUMBERS,
    Leaf,
    extract,
    in_table,
    instant,
    leaf,
    skimmed,
    value_of,
)
from gitprov.index.extract import number as as_number
from gitprov.refs import is_tracking_ref, tracking_prefix
from gitprov.store.records import DIGESTS_DIR, FORGOTTEN_DIR, FORMAT_FILE, record_path
from gitprov.store.untrusted import BUCKET, LeftOut, bucket_problem, list_blobs

if TYPE_CHECKING:
    from gitprov.index.fastyaml import Shapes

#: A file of a records tree: (is a tombstone, session id).
_Key = tuple[int, str]

#: Below this many matching rows a condition gathers the matching records first; above it,
#: each run is tested as the listing reaches it (a common value, a small ``limit``).
_FEW = 2000
#: Records parsed between two writes of the index.
_BATCH = 5000

_COLUMNS = (
    "c.sid, c.started, c.started_at, c.duration, c.status, c.commit_, c.branch, c.dirty, "
    "c.snapshot, c.what, c.user, c.ref, c.blob, c.problem, c.id, c.cols"
)
#: The fields of an entry the columns above give, in their order (``values`` follows).
_ENTRY_FIELDS = tuple(f.name for f in fields(IndexEntry))[:14]
_new = object.__new__
#: The value a record ``c`` holds of a key (``?``), for a test of it to follow.
_HELD = "SELECT 1 FROM kv JOIN vals ON vals.id = kv.val WHERE kv.rec = c.id AND kv.kid = ?"
#: A record ``c`` has a value of a key (``?``) as a row.
_HAS = "EXISTS (SELECT 1 FROM kv WHERE rec = c.id AND kid = ?)"
#: A record ``c`` has no value of a key (``?``): the key as written, before ``run.``'s.
_LACKS = f"NOT {_HAS}"
#: A leaf as SQL: its kind, text and number.
_Sql = tuple[str, str, str]
#: How a record ``c`` whose field says a leaf (:data:`COLUMNED`, its bit in ``c.cols``)
#: reads it back, as :func:`~gitprov.index.extract.leaf` would have stored it.
_SAID: dict[str, _Sql] = {
    "run.status": ("'s'", "c.status", "NULL"),
    "run.started_at": (
        "CASE WHEN c.started IS NULL THEN 's' ELSE 'd' END",
        "c.started_at",
        "c.started",
    ),
    "run.duration_s": ("'f'", "gp_float(c.duration)", "c.duration"),
    "git.commit": ("'s'", "c.commit_", "NULL"),
    "git.branch": ("'s'", "c.branch", "NULL"),
    "git.dirty": ("'b'", "CASE WHEN c.dirty THEN 'true' ELSE 'false' END", "NULL"),
}


@dataclass
class _Plan:
    """How one source catches up: from ``base`` (the tip indexed, ``None``: none) to
    ``tip``, by a whole listing (``files``) or by ``changes`` (``None``: removed)."""

    ref: str
    pos: int
    base: str | None
    tip: str | None
    files: dict[_Key, str] | None = None
    changes: dict[_Key, str | None] | None = None
    left_out: list[LeftOut] | None = None


def compare(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _float_text(value: float | None) -> str | None:
    """A float's text as a leaf stores it (SQLite writes floats its own way)."""
    return None if value is None else repr(float(value))


class _Test:
    """One condition, ready to test a leaf: as numbers when both sides are numbers, as
    instants when both are dates or times, else as text; ``~`` a substring."""

    def __init__(self, condition: Condition) -> None:
        self.key, self.op, self.value = condition.key, condition.op, condition.value
        self.number = as_number(self.value)
        self.instant = None if self.number is not None else instant(self.value)
        forms = [self.key]
        if not self.key.startswith("run."):
            forms.append(f"run.{self.key}")
        self.forms = forms

    def leaf(self, kind: str, text: str, num: Any) -> bool:
        if self.op == "~":
            return self.value in text
        if self.number is not None and kind in NUMBERS:
            return num is not None and compare(self.op, num, self.number)
        if self.instant is not None and kind == INSTANT:
            return num is not None and compare(self.op, num, self.instant)
        return compare(self.op, text, self.value)

    def record(self, flat: Mapping[str, Any]) -> bool:
        """Whether a record (flattened) matches: its key as written, else under ``run.``."""
        for key in self.forms:
            if key in flat:
                _, kind, text, num = leaf(key, flat[key])
                return self.leaf(kind, text, num)
        return False

    def branches(self, value: _Sql = ("kind", "text", "num")) -> list[tuple[str, list[Any]]]:
        """The test of one value (by default a ``vals`` row; else the SQL of its kind, text
        and number) as disjoint SQL terms, each answered by one search of the index of
        numbers (``num`` set: numbers and dates) or of texts."""
        kind, text, num = value
        ops = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
        values: list[Any] = [self.value]
        test = f"instr({text}, ?) > 0" if self.op == "~" else f"{text} {ops[self.op]} ?"
        compared = self.number if self.number is not None else self.instant
        if compared is None or self.op == "~":  # as text, whatever the row holds
            return [
                (f"{num} IS NULL AND {test}", values),
                (f"{num} IS NOT NULL AND {kind} IN ('i', 'f', 'd') AND {test}", values),
            ]
        same = "'i', 'f'" if self.number is not None else "'d'"
        other = "'d'" if self.number is not None else "'i', 'f'"
        nan = "" if self.op == "!=" else f" AND {kind} NOT IN ({same})"  # NaN: NULL
        return [
            (f"{kind} IN ({same}) AND {num} {ops[self.op]} ?", [compared]),
            (f"{num} IS NULL{nan} AND {test}", values),
            (f"{num} IS NOT NULL AND {kind} IN ({other}) AND {test}", values),
        ]

    def row(self, value: _Sql = ("kind", "text", "num")) -> tuple[str, list[Any]]:
        """The same test of one value as one SQL expression (true, else false or NULL):
        any of :meth:`branches`."""
        branches = self.branches(value)
        return (
            "(" + " OR ".join(f"({test})" for test, _ in branches) + ")",
            [value for _, values in branches for value in values],
        )

    def sql(self, key: int) -> tuple[str, list[Any]]:
        """A query of the records whose ``key`` matches: one search of the values per
        branch, then of who holds each."""
        branches = self.branches()
        sql = " UNION ALL ".join(
            f"SELECT kv.rec FROM vals CROSS JOIN kv ON kv.val = vals.id "  # noqa: S608
            f"WHERE vals.kid = ? AND {test}"
            for test, _ in branches
        )
        return sql, [value for _, values in branches for value in (key, *values)]


class QueryIndex:
    """The index of the records ``git``'s refs ``ref`` (and its fetched copies) hold.

    ``skipped`` lists what was left out of fetched copies (the caller warns); ``in_memory``
    says the index file was not used (bare or read-only repository, locked, newer)."""

    def __init__(self, git: Git, ref: str, *, timeout: float = database.TIMEOUT) -> None:
        self.git = git
        self.ref = ref
        self.timeout = timeout
        self.db, self.in_memory = database.connect(git, ref, timeout)
        self._stack = ExitStack()
        self._reader: ObjectReader | None = None
        self._records: dict[tuple[str, str], dict[str, Any]] = {}
        self._prepare()
        self.skipped: list[LeftOut] = []

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> QueryIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _prepare(self) -> None:
        self.db.create_function("gp_match", 3, self._udf_match)
        self.db.create_function("gp_float", 1, _float_text, deterministic=True)
        self._tests: list[_Test] = []
        self._gathered = False
        self._built = False
        self._vals = _Values()

    def _udf_match(self, sid: str, blob: str, which: int) -> int:
        return int(self._tests[which].record(self._whole(sid, blob)))

    def _whole(self, sid: str, blob: str) -> dict[str, Any]:
        """A record flattened whole, read from git (for keys the index keeps no rows of);
        ``{}`` when it cannot be read."""
        from gitprov.audit.compare import flatten_record
        from gitprov.index.fastyaml import parse_record

        found = self._records.get((sid, blob))
        if found is None:
            if self._reader is None:
                self._reader = self._stack.enter_context(self.git.objects())
            obj = self._reader.read(blob)
            try:
                found = flatten_record(parse_record(obj.data, sid, blob)) if obj else {}
            except CorruptRecordError:
                found = {}
            if len(self._records) > 4096:
                self._records.clear()
            self._records[(sid, blob)] = found
        return found

    # -- answering ------------------------------------------------------------------------

    def query(self, q: Query) -> list[IndexEntry]:
        """The runs ``q`` selects, newest first unless ``q.newest_first`` is false (by
        start, then id; a run whose start is unknown sorts as the oldest)."""
        self.refresh()
        try:
            found: list[IndexEntry] = self._guarded(lambda: self._select(q))
        finally:
            self._stack.close()
            self._reader = None
            self._records.clear()
        return found

    def entries(self) -> list[IndexEntry]:
        """Every listed session (those whose record has a ``problem`` too), by id."""
        return sorted(self.query(Query(newest_first=False)), key=lambda e: e.session_id)

    def unreadable(self) -> list[IndexEntry]:
        """The listed sessions whose record does not parse, by id (cheap at any size: for
        a caller that must name them whatever it lists; no catching up of its own)."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM recs c INDEXED BY recs_broken "  # noqa: S608
            "WHERE c.ok = 0 AND c.ref IS NOT NULL ORDER BY c.sid"
        )
        return [self._entry(row, ()) for row in rows]

    def code(self) -> list[tuple[str, str | None, str | None, str | None]]:
        """``(session, commit, snapshot, problem)`` of every listed session, by id: what
        ``verify`` checks, without building entries (no catching up of its own)."""
        return self.db.execute(
            "SELECT sid, commit_, snapshot, problem FROM recs WHERE ref IS NOT NULL ORDER BY sid"
        ).fetchall()

    def _select(self, q: Query) -> list[IndexEntry]:
        where = ["c.ref IS NOT NULL"]  # the records that stand for their sessions
        params: list[Any] = []
        self._tests = []
        self._gathered = False
        if q.since is not None:
            where.append("c.started >= ?")
            params.append(q.since)
        if q.until is not None:
            where.append("c.started <= ?")
            params.append(q.until)
        for column, values in (("c.status", q.status), ("c.commit_", q.commits), ("c.sid", q.ids)):
            if values is not None and (values or column != "c.status"):
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        for column, value in (("c.branch", q.branch), ("c.dirty", q.dirty), ("c.user", q.user)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        for condition in q.where:
            clause = self._condition(
                _Test(condition), params, every=q.limit is None, driven=bool(q.status)
            )
            if clause is None:
                return []  # a key no record has
            where.append(clause)
        order = "DESC" if q.newest_first else "ASC"
        # only fixed fragments are joined; every value is a parameter. Few matching
        # records: found first, then sorted ("+": not sought in the listing's order)
        sorted_by = "+c.started" if self._gathered else "c.started"
        sql = f"SELECT {_COLUMNS} FROM recs c WHERE {' AND '.join(where)}"  # noqa: S608
        sql += f" ORDER BY {sorted_by} {order}, c.sid {order}"
        if q.limit is not None:
            sql += " LIMIT ?"
            params.append(q.limit)
        entry, columns = self._entry, q.columns
        return [entry(row, columns) for row in self.db.execute(sql, params)]

    def _known(self, keys: Sequence[str]) -> dict[str, int]:
        """The ids of those of ``keys`` the index has (one statement)."""
        marks = ", ".join("?" * len(keys))
        return dict(self.db.execute(f"SELECT key, id FROM keys WHERE key IN ({marks})", keys))  # noqa: S608

    def _condition(
        self, test: _Test, params: list[Any], *, every: bool, driven: bool
    ) -> str | None:
        """SQL for one condition (``None``: no record can match). A record is judged by
        its key as written, else (when it has not that one) by the key under ``run.``."""
        if any(key in COLUMNED for key in test.forms):
            return self._each(test, params)
        if all(in_table(key) for key in test.forms):
            known = self._known(test.forms)
            present = [known[key] for key in test.forms if key in known]  # in their order
            if not present:
                return None
            searches = [test.sql(kid) for kid in present]
            matching = " UNION ALL ".join(sql for sql, _ in searches)
            matching_params = [value for _, values in searches for value in values]
            row, row_params = test.row()
            count = 0
            if not every:  # a limit: worth seeking in the listing's order when many match
                probe = f"SELECT COUNT(*) FROM ({matching} LIMIT {max(_FEW, 1)})"  # noqa: S608
                count = self.db.execute(probe, matching_params).fetchone()[0]
                if count == 0:
                    return None
            if count < _FEW:  # every run wanted, or few: the matching records, gathered
                self._gathered = True  # once (one search per branch), the other filters
                # test those; when a status is asked, its index leads and these are only
                # looked up ("+": not used to find the records)
                held = "+c.id" if driven else "c.id"
                if len(present) == 1:
                    params.extend(matching_params)
                    return f"{held} IN ({matching})"
                # found under run.: only when the record has not the key as written
                (written, written_params), (under, under_params) = searches
                params.extend([*written_params, *under_params, present[0]])
                return f"({held} IN ({written}) OR ({held} IN ({under}) AND {_LACKS}))"
            # many: each run tested as it comes, in order
            found = f"EXISTS ({_HELD} AND {row})"
            params.extend([present[0], *row_params])
            if len(present) == 1:
                return found
            params.extend([present[0], present[1], *row_params])
            return f"({found} OR ({_LACKS} AND {found}))"
        self._tests.append(test)  # gitprov's own fields: read from the whole record
        params.append(len(self._tests) - 1)
        return "gp_match(c.sid, c.blob, ?)"

    def _each(self, test: _Test, params: list[Any]) -> str:
        """SQL testing each run as it comes, for a condition on a key whose leaf a record's
        field may say (:data:`COLUMNED`, read back by :data:`_SAID`) or its rows hold. As
        :meth:`_condition`: the key as written, else (when a run has not that one) the key
        under ``run.``."""
        kids = self._known(test.forms)
        terms: list[tuple[list[str], list[Any], list[str], list[Any]]] = []
        for key in test.forms:  # (has it, params, matches, params)
            has: list[str] = []
            has_params: list[Any] = []
            matches: list[str] = []
            match_params: list[Any] = []
            if key in COLUMNED:
                bit = COLUMNED[key][0]
                row, row_params = test.row(_SAID[key])
                has.append(f"(c.cols & {bit})")
                matches.append(f"((c.cols & {bit}) AND {row})")
                match_params += row_params
            if key in kids:
                row, row_params = test.row()
                has.append(_HAS)
                has_params.append(kids[key])
                matches.append(f"EXISTS ({_HELD} AND {row})")
                match_params += [kids[key], *row_params]
            terms.append((has, has_params, matches, match_params))
        (has, has_params, matches, match_params), *under = terms
        clause = f"({' OR '.join(matches) or '0'})"  # one term: ANDed with the other filters
        params.extend(match_params)
        if under and under[0][2]:
            _, _, under_matches, under_params = under[0]
            lacks = f"NOT ({' OR '.join(has)}) AND " if has else ""
            clause = f"({clause} OR ({lacks}({' OR '.join(under_matches)})))"
            params.extend([*has_params, *under_params])
        return clause

    def _value(self, entry: IndexEntry, rec: int, cols: int, key: str) -> tuple[Any] | None:
        """``(value,)`` of ``key`` in a record, ``None`` when it has none."""
        said = COLUMNED.get(key)
        if said is not None and cols & said[0]:
            return (getattr(entry, said[1]),)
        if not in_table(key):
            whole = self._whole(entry.session_id, entry.blob)
            return (whole[key],) if key in whole else None
        row = self.db.execute(
            "SELECT kind, text FROM keys CROSS JOIN kv ON kv.rec = ? AND kv.kid = keys.id "
            "JOIN vals ON vals.id = kv.val WHERE key = ?",
            (rec, key),
        )
        found = row.fetchone()
        return None if found is None else (value_of(*found),)

    def _entry(self, row: Sequence[Any], columns: Sequence[str]) -> IndexEntry:
        # filled as its fields are laid out (the row's first ones, in their order): a frozen
        # dataclass's __init__ sets them one by one, twice the time for thousands of entries
        entry = _new(IndexEntry)
        fields_ = entry.__dict__
        fields_.update(zip(_ENTRY_FIELDS, row, strict=False))  # the row ends with id, cols
        if row[7] is not None:
            fields_["dirty"] = bool(row[7])
        values: dict[str, Any] = {}
        for column in columns:
            for key in (column, f"run.{column}"):
                found = self._value(entry, row[14], row[15], key)
                if found:
                    values[column] = found[0]
                    break
        fields_["values"] = values
        return entry

    # -- catching up ----------------------------------------------------------------------

    def _guarded(self, work: Any) -> Any:
        """``work()``, redone once on a fresh index if the file turns out damaged, or in
        memory if it is locked beyond the timeout."""
        try:
            return work()
        except sqlite3.DatabaseError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if isinstance(exc, sqlite3.OperationalError) and busy:
                database.locked(database.index_path(self.git, self.ref))
                self._to_memory()
            elif self.in_memory:
                raise
            elif isinstance(exc, sqlite3.OperationalError) and not database.damaged(exc):
                if "readonly" not in str(exc):  # a read-only git dir is no news
                    database.warn(
                        "gitprov: warning: the query index cannot be written (%s); this "
                        "command indexes in memory",
                        exc,
                    )
                self._to_memory()
            elif not database.damaged(exc):
                raise
            else:
                path = database.index_path(self.git, self.ref)
                database.warn(
                    "gitprov: warning: the query index %s is damaged (%s); it is built anew",
                    path,
                    exc,
                )
                self.db.close()
                database.remove(path)
                self.db, self.in_memory = database.connect(self.git, self.ref, self.timeout)
                self._prepare()
        if work != self._catch_up:  # the new index is empty: caught up before it answers
            self.refresh()
        return work()

    def _to_memory(self) -> None:
        self.db.close()
        self.db, self.in_memory = database.memory(), True
        self._prepare()

    def refresh(self) -> None:
        """Catch the index up with the refs (nothing to do, and no process, when no ref
        moved)."""
        self._built = False
        # what catching up makes (the listing, the parsed rows) lives until it is written,
        # so the cyclic collector would only rescan it, ever longer as it grows (a first
        # build of 100k records spent a sixth of its time so): off until it is done
        collecting = gc.isenabled()
        gc.disable()
        try:
            for _ in range(5):
                if self._guarded(self._catch_up):
                    break
        finally:
            if collecting:
                gc.enable()
        if self._built:  # give back the space a big build's WAL took
            with suppress(sqlite3.Error):
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.skipped = self._guarded(self._left_out)

    def _left_out(self) -> list[LeftOut]:
        found = [
            LeftOut(place, reason)
            for place, reason in self.db.execute("SELECT place, reason FROM left_out")
        ]
        broken = self.db.execute(
            "SELECT f.ref, f.sid, c.problem FROM recs c INDEXED BY recs_broken "
            "CROSS JOIN files f ON f.sid = c.sid AND f.blob = c.blob AND f.tomb = 0 "
            "WHERE c.ok = 0 AND f.ref <> ?",
            (self.ref,),
        )
        found += [LeftOut(f"{ref}:{record_path(sid)}", problem) for ref, sid, problem in broken]
        return found

    def _catch_up(self) -> bool:
        """One round: ``False`` when another process moved the index meanwhile."""
        tips = self._tips()
        stored = dict(self.db.execute("SELECT ref, tip FROM sources").fetchall())
        if tips == stored:
            return True
        plans = self._plans(tips, stored)
        self._parse(self._needed(plans))
        return self._apply(plans, stored)

    def _tips(self) -> dict[str, str | None]:
        """The tip of each records ref (local first, then fetched copies, sorted), from the
        ref files when they tell, else from ``git for-each-ref``."""
        found = _tips_from_files(self.git.common_dir, self.ref)
        if found is not None:
            return found
        listing = self.git.run(
            "for-each-ref", "--format=%(objectname) %(refname)", self.ref, tracking_prefix(self.ref)
        )
        tips: dict[str, str | None] = {}
        copies: dict[str, str | None] = {}
        for line in listing.text.splitlines():
            sha, _, name = line.partition(" ")
            if name == self.ref:
                tips[name] = sha
            elif is_tracking_ref(name, self.ref):
                copies[name] = sha
        return {**tips, **dict(sorted(copies.items()))}

    def _plans(self, tips: dict[str, str | None], stored: dict[str, str | None]) -> list[_Plan]:
        order = {ref: pos for pos, ref in enumerate(tips)}
        plans = [
            _Plan(ref, order.get(ref, 0), stored.get(ref), None, changes={})
            for ref in stored
            if ref not in tips
        ]
        kinds = self._kinds([t for r, t in tips.items() if t and t != stored.get(r)])
        for ref, tip in tips.items():
            base = stored.get(ref)
            plan = _Plan(ref, order[ref], base, tip)
            if ref in stored and base == tip:
                plan.changes = {}  # only its place among the copies may have changed
            elif tip is None or kinds.get(tip) != "commit":
                plan.files = {}
                kind = "missing object" if tip is None else kinds.get(tip, "missing object")
                plan.left_out = [LeftOut(ref, f"points at a {kind}, not a commit")]
            else:
                if ref == self.ref and base is not None:
                    plan.changes = self._diff(base, tip)
                if plan.changes is None:
                    listing = list_blobs(self.git, tip)
                    plan.files = {(0, sid): blob for sid, blob in listing.records.items()}
                    plan.files.update({(1, sid): b for sid, b in listing.forgotten.items()})
                    plan.left_out = [
                        LeftOut(lo.where.replace(tip, ref, 1), lo.reason) for lo in listing.left_out
                    ]
            plans.append(plan)
        return plans

    def _kinds(self, shas: list[str]) -> dict[str, str]:
        """The type of each object (``commit`` for the refs that can be read)."""
        found: dict[str, str] = {}
        if shas:
            with self.git.local_objects() as cat:
                for sha in shas:
                    obj = cat.read(sha)
                    if obj is not None:
                        found[sha] = obj.type
        return found

    def _diff(self, old: str, new: str) -> dict[_Key, str | None] | None:
        """The records and tombstones that changed from commit ``old`` to ``new``, or
        ``None`` (list the whole tree) when ``old`` is gone or anything is unexpected."""
        try:
            out = self.git.run("diff-tree", "-r", "-z", "--no-renames", old, new).stdout
        except GitProvError:
            return None
        items = zsplit(out)
        changes: dict[_Key, str | None] = {}
        for meta, raw in zip(items[::2], items[1::2], strict=False):
            fields = meta.decode("ascii", "replace").split()
            path = raw.decode("utf-8", "surrogateescape")
            if path == FORMAT_FILE or path.startswith(f"{DIGESTS_DIR}/"):
                continue
            if len(fields) != 5:
                return None
            parts = path.split("/")
            tomb = int(len(parts) == 3 and parts[0] == FORGOTTEN_DIR)
            if len(parts) != 2 + tomb or not BUCKET.fullmatch(parts[-2]):
                return None
            deleted = fields[4] == "D"
            mode, sha = (fields[0][1:], fields[2]) if deleted else (fields[1], fields[3])
            if bucket_problem(parts[-2], Entry(mode, parts[-1], sha)) is not None:
                return None
            changes[(tomb, parts[-1].removesuffix(".yaml"))] = None if deleted else sha
        return changes

    def _needed(self, plans: list[_Plan]) -> list[tuple[str, str, str]]:
        """(session, blob, ref it is read from) of the records to parse: those not parsed
        yet."""
        wanted: dict[tuple[str, str], str] = {}
        for plan in plans:
            files = plan.files if plan.files is not None else plan.changes or {}
            for (tomb, sid), blob in files.items():
                if not tomb and blob is not None:
                    wanted.setdefault((sid, blob), plan.ref)
        if len(wanted) > 64:
            known = set(self.db.execute("SELECT sid, blob FROM recs").fetchall())
        else:
            known = {
                pair
                for pair in wanted
                if self.db.execute("SELECT 1 FROM recs WHERE sid = ? AND blob = ?", pair).fetchone()
            }
        return [(sid, blob, ref) for (sid, blob), ref in wanted.items() if (sid, blob) not in known]

    def _parse(self, needed: list[tuple[str, str, str]]) -> None:
        """Parse the records ``needed`` and keep them, a batch per transaction: a parsed
        record only stands for a blob, so it may be kept before any source holds it (an
        interrupted first build resumes where it stopped). Many records are parsed by
        one process per core while this one reads them from git and writes the index."""
        from gitprov.progress import Progress

        if not needed:
            return
        big = len(needed) >= _PARALLEL
        if big:  # an index is built faster at once, after its rows (see _apply)
            with self._transaction() as db:
                for name, _ in database.LATE_INDEXES:
                    db.execute(f"DROP INDEX IF EXISTS {name}")
            # pages written once to the log and copied once at the end (see refresh), not
            # copied back every few megabytes and written again as the next rows land
            checkpoints = self.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            self.db.execute("PRAGMA wal_autocheckpoint = 0")
            self.db.execute("PRAGMA cache_size = -65536")
        pool = _pool() if big else None
        try:
            with (
                Progress("Indexing records", len(needed)) as bar,
                # one reader for all: a cat-file a batch would resolve the pack's deltas
                # anew each time (four times the reading)
                closing(_read_blobs(self.git, [blob for _, blob, _ in needed])) as objects,
            ):
                found = ((*need, *obj) for need, obj in zip(needed, objects, strict=False))
                batches = _batches(found, _CHUNK)
                done = pool.imap(_parse_batch, batches) if pool else map(_parse_batch, batches)
                rows: list[_Row] = []
                for batch in done:
                    rows += batch
                    bar.advance(len(batch))
                    if len(rows) >= _BATCH:
                        self._insert(rows)
                        rows = []
                self._insert(rows)
        except BaseException:
            if pool is not None:  # batches still out would never come: close() waits for them
                pool.terminate()
                pool = None
            raise
        finally:
            if pool is not None:
                pool.close()
                pool.join()
            if big:
                self.db.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoints)}")
        if big:  # whoever else dropped them meanwhile, the indexes are back
            with self._transaction() as db:
                for _, statement in database.LATE_INDEXES:
                    db.execute(statement)
            self._built = True

    def _apply(self, plans: list[_Plan], stored: dict[str, str | None]) -> bool:
        """Move the sources to their new tips, in one transaction (``False``: another
        process moved them first)."""
        with self._transaction() as db:
            if dict(db.execute("SELECT ref, tip FROM sources").fetchall()) != stored:
                return False
            for _, statement in database.LATE_INDEXES:
                db.execute(statement)
            db.execute("CREATE TEMP TABLE IF NOT EXISTS touched (sid TEXT PRIMARY KEY)")
            db.execute("DELETE FROM touched")
            for plan in plans:
                self._apply_plan(plan)
            self._settle()
        return True

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            self._vals.forget()  # it may know values this transaction stored
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _insert(self, rows: list[_Row]) -> None:
        if not rows:
            return
        with self._transaction() as db:
            first = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM recs").fetchone()[0]
            db.executemany(
                "INSERT OR IGNORE INTO recs (id, sid, blob, ok, started, started_at, duration, "
                "status, commit_, branch, dirty, snapshot, what, user, problem, cols) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(first + at, *row) for at, (row, _) in enumerate(rows)],
            )  # a record another process kept meanwhile is not kept twice:
            kept = {rec for (rec,) in db.execute("SELECT id FROM recs WHERE id >= ?", (first,))}
            keys = self._key_ids(db, {one[0] for _, found in rows for one in found})
            held = [(rec, found) for rec, (_, found) in enumerate(rows, first) if rec in kept]
            self._vals.hold(db, held, keys)

    def _key_ids(self, db: sqlite3.Connection, keys: set[str]) -> dict[str, int]:
        """The ids of ``keys`` (given to the new ones), read in this transaction: another
        process may have let go of a key no record has any more (:meth:`_settle`)."""
        db.executemany("INSERT OR IGNORE INTO keys (key) VALUES (?)", [(key,) for key in keys])
        return dict(db.execute("SELECT key, id FROM keys").fetchall())

    def _apply_plan(self, plan: _Plan) -> None:
        db, ref = self.db, plan.ref
        if plan.tip is None and plan.files is None:  # the ref is gone
            db.execute("INSERT OR IGNORE INTO touched SELECT sid FROM files WHERE ref = ?", (ref,))
            db.execute("DELETE FROM files WHERE ref = ?", (ref,))
            db.execute("DELETE FROM left_out WHERE ref = ?", (ref,))
            db.execute("DELETE FROM sources WHERE ref = ?", (ref,))
            return
        changes = plan.changes
        if plan.files is not None:
            old = {
                (tomb, sid): blob
                for tomb, sid, blob in db.execute(
                    "SELECT tomb, sid, blob FROM files WHERE ref = ?", (ref,)
                )
            }
            changes = {key: None for key in old.keys() - plan.files.keys()}
            changes.update({k: b for k, b in plan.files.items() if old.get(k) != b})
        assert changes is not None
        db.executemany(
            "DELETE FROM files WHERE ref = ? AND tomb = ? AND sid = ?",
            [(ref, tomb, sid) for (tomb, sid), blob in changes.items() if blob is None],
        )
        db.executemany(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
            [(ref, tomb, sid, blob) for (tomb, sid), blob in changes.items() if blob is not None],
        )
        db.executemany("INSERT OR IGNORE INTO touched VALUES (?)", [(sid,) for _, sid in changes])
        if plan.left_out is not None:
            db.execute("DELETE FROM left_out WHERE ref = ?", (ref,))
            db.executemany(
                "INSERT INTO left_out VALUES (?, ?, ?)",
                [(ref, item.where, item.reason) for item in plan.left_out],
            )
        db.execute("INSERT OR REPLACE INTO sources VALUES (?, ?, ?)", (ref, plan.pos, plan.tip))

    def _settle(self) -> None:
        """Choose again the record that stands for each session touched, and drop the
        parsed records no source holds any more."""
        db = self.db
        db.execute("UPDATE recs SET ref = NULL WHERE ref IS NOT NULL AND sid IN touched")
        db.execute("CREATE TEMP TABLE IF NOT EXISTS chosen (rec INTEGER PRIMARY KEY, ref TEXT)")
        db.execute("DELETE FROM chosen")
        db.execute(
            "INSERT INTO chosen SELECT rec, ref FROM ("
            " SELECT c.id AS rec, f.ref AS ref,"
            "  ROW_NUMBER() OVER (PARTITION BY f.sid ORDER BY s.pos = 0 DESC, c.ok DESC,"
            "   s.pos) AS n"
            " FROM touched t JOIN files f ON f.sid = t.sid AND f.tomb = 0"
            " JOIN sources s ON s.ref = f.ref JOIN recs c ON c.sid = f.sid AND c.blob = f.blob"
            " WHERE NOT EXISTS (SELECT 1 FROM files g WHERE g.sid = f.sid AND g.tomb = 1)"
            ") WHERE n = 1"
        )
        db.execute(
            "UPDATE recs SET ref = (SELECT ref FROM chosen WHERE rec = recs.id) "
            "WHERE id IN (SELECT rec FROM chosen)"
        )
        db.execute("CREATE TEMP TABLE IF NOT EXISTS unused (id INTEGER PRIMARY KEY)")
        db.execute("DELETE FROM unused")
        db.execute(
            "INSERT INTO unused SELECT c.id FROM touched t JOIN recs c ON c.sid = t.sid "
            "WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.sid = c.sid AND f.blob = c.blob "
            "AND f.tomb = 0)"
        )
        if db.execute("SELECT 1 FROM unused LIMIT 1").fetchone() is None:
            return
        db.execute("CREATE TEMP TABLE IF NOT EXISTS unheld (id INTEGER PRIMARY KEY)")
        db.execute("DELETE FROM unheld")
        db.execute(
            "INSERT OR IGNORE INTO unheld SELECT kv.val FROM unused u CROSS JOIN kv "
            "ON kv.rec = u.id"
        )
        db.execute("DELETE FROM kv WHERE rec IN (SELECT id FROM unused)")
        db.execute("DELETE FROM recs WHERE id IN (SELECT id FROM unused)")
        # values and keys no record holds any more go too: a forgotten record leaves
        # nothing here
        gone = db.execute(
            "DELETE FROM vals WHERE id IN (SELECT id FROM unheld) "
            "AND NOT EXISTS (SELECT 1 FROM kv WHERE val = vals.id)"
        ).rowcount
        if gone:
            self._vals.forget()
            db.execute(
                "DELETE FROM keys WHERE NOT EXISTS (SELECT 1 FROM vals WHERE kid = keys.id "
                "AND num IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM vals WHERE kid = keys.id "
                "AND num IS NULL)"
            )


class _Values:
    """The values stored (``vals``) known to this process, each as a ``kv`` row names it
    (key id and value id in one integer): each distinct value is stored once and records
    name it. What it knows holds while no other process wrote the file (``PRAGMA
    data_version``); else it asks the file again."""

    def __init__(self) -> None:
        self.codes: dict[Leaf, int] = {}  # by the leaf as extracted
        self.whole = False  # every value stored is in codes
        self.version: int | None = None
        self.json: bool | None = None  # whether SQLite has its JSON functions (3.38+: built in)

    def forget(self) -> None:
        """Values were deleted (by this process: the version does not tell)."""
        self.codes.clear()
        self.whole = False

    def hold(
        self, db: sqlite3.Connection, held: list[tuple[int, list[Leaf]]], keys: dict[str, int]
    ) -> None:
        """Store that each record ``rec`` of ``held`` holds its leaves, storing the values
        not stored yet (``keys``: the key ids); in the caller's transaction."""
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if version != self.version:
            self.forget()
            self.version = version
        codes = self.codes
        if not self.whole:
            unknown = {leaf_ for _, found in held for leaf_ in found} - codes.keys()
            if len(unknown) > 256:  # many (a first build): all at once
                query = (
                    "SELECT key, kind, text, num, kid << 32 | vals.id FROM vals "
                    "JOIN keys ON keys.id = vals.kid"
                )
                codes.update((row[:4], row[4]) for row in db.execute(query))
                self.whole = True
            for leaf_ in () if self.whole else unknown:
                row = db.execute(
                    "SELECT ? << 32 | id FROM vals WHERE kid = ? AND text = ? AND kind = ? LIMIT 1",
                    (keys[leaf_[0]], keys[leaf_[0]], leaf_[2], leaf_[1]),
                ).fetchone()
                if row is not None:
                    codes[leaf_] = row[0]
        new: list[tuple[int, int, str, str, Any]] = []
        vid = db.execute("SELECT COALESCE(MAX(id), 0) FROM vals").fetchone()[0]
        named: list[tuple[int, list[int]]] = []
        get = codes.get
        for rec, found in held:
            of_rec = []
            for leaf_ in found:
                code = get(leaf_)
                if code is None:  # (a NaN is never found: stored again, harmless)
                    key, kind, text, num = leaf_
                    vid += 1
                    code = codes[leaf_] = keys[key] << 32 | vid
                    new.append((vid, keys[key], kind, text, num))
                of_rec.append(code)
            named.append((rec, of_rec))
        db.executemany("INSERT INTO vals VALUES (?, ?, ?, ?, ?)", new)
        if self.json is None:
            try:
                self.json = db.execute("SELECT json_valid('[]')").fetchone()[0] == 1
            except sqlite3.OperationalError:  # an SQLite built without them
                self.json = False
        if self.json:
            # one statement a record, its codes (a JSON array of ints) unpacked by SQLite:
            # millions of rows bound one by one would take most of a first build
            db.executemany(
                "INSERT OR REPLACE INTO kv SELECT ?, value >> 32, value & 4294967295 "
                "FROM json_each(?)",
                [(rec, f"[{','.join(map(str, of_rec))}]") for rec, of_rec in named],
            )
        else:
            db.executemany(
                "INSERT OR REPLACE INTO kv VALUES (?, ?, ?)",
                [(rec, code >> 32, code & 0xFFFFFFFF) for rec, of_rec in named for code in of_rec],
            )


#: A parsed record as stored: its ``recs`` row, and its leaves.
_Row = tuple[tuple[Any, ...], list[Leaf]]
#: Records sent to a parsing process at once, and the fewest worth starting processes for.
_CHUNK = 512
_PARALLEL = 4096


def _pool() -> Any:
    """Processes to parse with, one more than the cores, at most four (``None`` on one
    core): this process writes the index and feeds them by turns, and a parser left
    waiting for it meanwhile would leave a core idle (on two cores, nine interleaved pairs
    of 100k-record builds: three parsers a median 2 s faster than two)."""
    import multiprocessing

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cores or 1) < 2:
        return None
    return multiprocessing.get_context().Pool(min((cores or 1) + 1, 4), initializer=_parser)


def _parser() -> None:
    """A parsing process keeps nothing beyond its batch: no cyclic collection needed. An
    interrupt (Ctrl-C reaches the whole group) is this process's parent's to handle: it
    ends the pool; one that ended a parser would lose its batch, and the pool wait for it."""
    import signal

    gc.disable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _parse_batch(batch: list[tuple[str, str, str, str | None, bytes | None]]) -> list[_Row]:
    return [_parse_one(*item) for item in batch]


def _parse_one(sid: str, blob: str, ref: str, kind: str | None, data: bytes | None) -> _Row:
    """One record's row: what it holds, or why it cannot be read (never an exception: one
    odd record never stops the rest). Where it is read from (``ref``) is named here, in
    the parsing process: hashing every id for its folder is no work for the one that
    waits."""
    from gitprov.index.fastyaml import parse_shaped

    where = f"{ref}:{record_path(sid)}"
    problem = f"the stored record of session {sid} ({where}) cannot be read"
    if kind == "blob" and data is not None:
        try:
            f = extract(*parse_shaped(data, sid, where, skimmed(), _shapes()))
        except CorruptRecordError as exc:
            problem = str(exc)
        except Exception as exc:  # one odd record never stops the rest
            problem = f"the stored record of session {sid} cannot be indexed ({exc})"
        else:
            row = (
                sid, blob, 1, f.started, f.started_at, f.duration, f.status, f.commit, f.branch,
                f.dirty, f.snapshot, f.what, f.user, f.problem, f.cols,
            )  # fmt: skip
            return row, f.leaves
    unread = (None, None, None, UNREADABLE, None, None, None, None, "", None, problem, 0)
    return (sid, blob, 0, *unread), []


#: What each thread of this process keeps while it parses (its :class:`Shapes`).
_PARSING = threading.local()


def _shapes() -> Shapes:
    """The shapes this thread has read records by (kept from batch to batch; one reader's
    alone: two threads indexing at once must not read by each other's)."""
    from gitprov.index.fastyaml import Shapes

    found: Shapes | None = getattr(_PARSING, "shapes", None)
    if found is None:
        found = _PARSING.shapes = Shapes()
    return found


def _tips_from_files(common_dir: Path, ref: str) -> dict[str, str | None] | None:
    """The local ref's tip and its fetched copies' (sorted), from the files ref store;
    ``None`` when only git can tell."""
    known, local = read_ref_file(common_dir, ref)
    if not known:
        return None
    tips: dict[str, str | None] = {} if local is None else {ref: local}
    prefix = tracking_prefix(ref)
    has = has_refs_under(common_dir, prefix)
    if has is None:
        return None
    if not has:
        return tips
    names = set()
    for folder, _, files in os.walk(common_dir / prefix):
        for name in files:
            full = Path(folder, name).relative_to(common_dir).as_posix()
            if is_tracking_ref(full, ref):
                names.add(full)
    try:
        packed = (common_dir / "packed-refs").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        packed = ""
    for line in packed.splitlines():
        name = line.partition(" ")[2]
        if is_tracking_ref(name, ref):
            names.add(name)
    for name in sorted(names):
        known, sha = read_ref_file(common_dir, name)
        if not known:
            return None
        if sha is not None:
            tips[name] = sha
    return tips


def _read_blobs(
    git: Git, shas: list[str]
) -> Generator[tuple[str | None, bytes | None], None, None]:
    """(type, content) of each object of ``shas``, in order, through one ``cat-file
    --batch`` fed by a thread (so that its output never waits for the next request)."""
    if not shas:
        return
    started = git.start("cat-file", "--batch", stdin=True)
    proc = started.proc
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def feed() -> None:
        try:
            for at in range(0, len(shas), 4096):
                stdin.write("".join(f"{sha}\n" for sha in shas[at : at + 4096]).encode())
            stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # cat-file is gone: the reading below sees it end early

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    stopped = short = False
    try:
        for _ in shas:
            line = stdout.readline()
            if not line:  # cat-file ended early (killed): its objects are not "missing",
                short = True  # which would be kept as unreadable records
                break
            header = line.split()
            if len(header) != 3:  # "<sha> missing"
                yield None, None
                continue
            size = int(header[2])
            data = stdout.read(size + 1)
            if len(data) != size + 1:  # ended in the middle of an object
                short = True
                break
            yield header[1].decode(), data[:size]
    except BaseException:  # the caller stopped reading, or was interrupted
        stopped = True
        raise
    finally:
        if stopped and thread.is_alive():  # nobody reads on: stop cat-file
            proc.kill()
        thread.join()
        try:
            git.finish(started)  # closes its input: it ends
        except GitProvError:
            if not stopped:  # else what stopped the reading is what the caller hears
                raise
    if short:
        raise GitProvError("git cat-file ended before it answered for every record")
