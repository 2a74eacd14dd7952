"""``SessionLog``: reading records back, by id, by prefix, or by the commit they ran on.

Reads the local ref first, then every remote-tracking copy of it that a plain ``git fetch``
fills (``refs/provenance/remotes/<remote>/sessions``, see ``gitprov init``), so teammates'
sessions are visible before any merge; a local record wins over a fetched copy of the same
id. Works in bare repositories too (a server-side audit).

A fetched copy is a remote's, and anything may have been pushed there: what it holds that
gitprov does not write (see :mod:`gitprov.store.untrusted`), a record that does not parse, or a
copy that is not a commit at all is skipped, named once in a warning, and the rest is read
as usual. Only the local ref's own damage is an error.

A session forgotten (``gitprov forget``) here or on a remote whose copy was fetched is
neither listed nor read, even while a stale copy still holds its record: its tombstone
says when, by whom and why it was forgotten.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from gitprov.errors import (
    AmbiguousSessionIdError,
    CorruptRecordError,
    GitProvError,
    RepositoryCorruptError,
    SessionNotFoundError,
)
from gitprov.git import Git
from gitprov.git.reader import ObjectReader
from gitprov.git.reffiles import has_refs_under
from gitprov.model.document import validate_session_id
from gitprov.model.tombstone import Tombstone
from gitprov.refs import CONFIGURED, NotesRefOption, is_tracking_ref, tracking_prefix
from gitprov.store.api import Records, Stored
from gitprov.store.records import RecordStore
from gitprov.store.untrusted import LeftOut, list_records

if TYPE_CHECKING:
    from gitprov.audit.compare import Comparison
    from gitprov.audit.query import When
    from gitprov.audit.which import Match
    from gitprov.index.api import Condition, IndexEntry
    from gitprov.index.query import QueryIndex
    from gitprov.store.forget import Forgotten


def _warn(message: str, *args: object) -> None:
    """One warning on this module's logger (logging is imported when there is one: not at
    every command's start)."""
    import logging

    logging.getLogger(__name__).warning(message, *args)


T = TypeVar("T")


class _Copies:
    """The remote-tracking copies of the refs (``refs.tracking_ref``), looked up by one
    ``for-each-ref`` that runs while the caller starts reading the local refs."""

    def __init__(self, git: Git, refs: list[str]) -> None:
        self._git = git
        prefixes = sorted({tracking_prefix(ref) for ref in refs})
        self._proc = git.start("for-each-ref", "--format=%(objecttype) %(refname)", *prefixes)
        self._found: dict[str, str] | None = None  # ref -> type of the object it names

    def __enter__(self) -> _Copies:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._found is None:
            self._git.finish(self._proc)  # reap it: the caller left before needing it

    def of(self, ref: str) -> tuple[list[str], list[LeftOut]]:
        """The copies of ``ref`` that name a commit, sorted, and the others (waits for the
        lookup)."""
        if self._found is None:
            lines = self._git.finish(self._proc).text.splitlines()
            self._found = {r: kind for kind, _, r in (line.partition(" ") for line in lines)}
        copies = sorted(r for r in self._found if is_tracking_ref(r, ref))
        others = [
            LeftOut(r, f"points at a {self._found[r]}, not a commit")
            for r in copies
            if self._found[r] != "commit"
        ]
        return [r for r in copies if self._found[r] == "commit"], others


class SessionLog:
    """Read-only view of the recorded sessions of the repository containing ``path`` (or
    of the repository a :class:`Git` already located).

    ``ref``/``notes_ref`` default to the repository's ``gitprov.ref``/``gitprov.notesRef``,
    else the default names (:func:`gitprov.refs.resolve`). ``skipped`` lists what was not
    read, each named once in a warning (logger ``gitprov.audit.log``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | Git = ".",
        *,
        ref: str | None = None,
        notes_ref: NotesRefOption = CONFIGURED,
    ) -> None:
        self.git = path if isinstance(path, Git) else Git.discover(path)
        self._store: Records = RecordStore(self.git, ref, notes_ref)
        self.skipped: list[LeftOut] = []

    @property
    def ref(self) -> str:
        return self._store.ref

    def _copies(self) -> _Copies:
        notes_ref = self._store.notes_ref
        return _Copies(self.git, [self.ref] + ([notes_ref] if notes_ref else []))

    def _skip(self, items: Iterable[LeftOut]) -> None:
        named = set(self.skipped)  # a copy may hold thousands of junk entries
        for item in items:
            if item not in named:
                named.add(item)
                self.skipped.append(item)
                _warn("gitprov: warning: skipped %s", item)

    def _sources(self, copies: _Copies, ref: str) -> list[str]:
        """``ref`` and its copies that can be read (the others skipped)."""
        readable, others = copies.of(ref)
        self._skip(others)
        return [ref, *readable]

    def sources(self) -> tuple[list[str], list[str]]:
        """The records refs and notes refs read, local first, then the remote-tracking ones."""
        copies, notes_ref = self._copies(), self._store.notes_ref
        records = self._sources(copies, self.ref)
        return records, (self._sources(copies, notes_ref) if notes_ref else [])

    def ids(self) -> list[str]:
        """Every recorded session id, ascending (Kedro's ids sort by time)."""
        found: set[str] = set()
        forgotten: set[str] = set()
        for ref in self.sources()[0]:
            listing = list_records(self.git, ref)
            self._skip(listing.left_out)
            found.update(listing.ids)
            forgotten.update(listing.forgotten)
        return sorted(found - forgotten)

    def query(
        self,
        where: str | Condition | Iterable[str | Condition] = (),
        *,
        since: When | None = None,
        until: When | None = None,
        status: str | Iterable[str] = (),
        branch: str | None = None,
        commit: str | None = None,
        dirty: bool | None = None,
        user: str | None = None,
        limit: int | None = None,
        order: Literal["newest", "oldest"] = "newest",
        columns: str | Iterable[str] = (),
        broken: dict[str, CorruptRecordError] | None = None,
    ) -> list[IndexEntry]:
        """The runs that match every filter given, from the query index
        (:mod:`gitprov.index`): newest first by start, or oldest first; ``limit`` keeps the
        first N in that order.

        ``where`` holds ``"KEY<OP>VALUE"`` texts as ``gitprov list --where`` takes them, or
        :class:`Condition` objects (a run without KEY never matches); ``since``/``until``
        bound the start, inclusive: epoch seconds, a datetime, or a text as ``--since``
        takes it (``"3.days"``, ``"2026-11-29"``: its first instant, or its last for
        ``until``); ``commit`` is any revision; ``columns`` are dotted keys whose values
        each entry carries in ``values``. ``InvalidQueryError`` for an expression that does
        not parse, ``GitProvError`` for a revision that is not a commit.

        A record that does not parse is an entry with a ``problem`` and status
        ``"unknown"`` (when the filters let it through), unless ``broken`` collects the
        local ones, whatever the filters, by id (as :meth:`items` does); fetched copies'
        are then left out too, named in a warning."""
        from gitprov.audit.query import build
        from gitprov.index import open_index
        from gitprov.index.api import UNREADABLE

        commits = None if commit is None else (self._commit_id(commit),)
        asked = build(
            where,
            since=since,
            until=until,
            status=status,
            branch=branch,
            commits=commits,
            dirty=dirty,
            user=user,
            limit=limit,
            order=order,
            columns=columns,
        )
        with open_index(self) as index:
            found = index.query(asked)
            if broken is not None:
                # a record that could not be parsed at all (not merely an odd field)
                found = [e for e in found if e.problem is None or e.status != UNREADABLE]
                for entry in index.unreadable():
                    if entry.source == self.ref:  # a fetched copy's: skipped, warned
                        broken[entry.session_id] = CorruptRecordError(entry.problem)
            self._skip(index.skipped)
        return found

    def index(self) -> QueryIndex:
        """The query index of these records (:mod:`gitprov.index`), caught up, with what
        it left out of fetched copies named in warnings: for callers that read it in
        their own way (``verify``). Close it when done (``with``)."""
        from gitprov.index import open_index

        index = open_index(self)
        try:
            index.refresh()
        except BaseException:
            index.close()
            raise
        self._skip(index.skipped)
        return index

    def _commit_id(self, rev: str) -> str:
        """The full id of the commit ``rev`` names (read as :meth:`for_commit` reads it:
        a revision, never an option)."""
        with self.git.objects() as cat:
            commit = cat.read(f"{rev}^{{commit}}")
        if commit is None:
            raise GitProvError(f"{rev!r} is not a commit in {self.git.root}")
        return commit.sha

    def resolve(self, id_or_prefix: str) -> str:
        """The one stored id equal to, or else starting with, ``id_or_prefix``; written
        with colons (a Kedro id as its ``started_at`` reads, ``2026-11-24T10:30:45``), it
        also finds the id with dots there (``2026-11-24T10.30.45.123Z``)."""
        validate_session_id(id_or_prefix)
        ids = self.ids()
        if id_or_prefix in ids:
            return id_or_prefix
        matches = [i for i in ids if i.startswith(id_or_prefix)]
        if not matches and ":" in id_or_prefix:
            dotted = id_or_prefix.replace(":", ".")
            matches = [dotted] if dotted in ids else [i for i in ids if i.startswith(dotted)]
        if not matches:
            raise self._not_found(id_or_prefix, ids)
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
            raise AmbiguousSessionIdError(
                f"session id prefix {id_or_prefix!r} is ambiguous ({len(matches)} sessions: "
                f"{shown}); give more characters"
            )
        return matches[0]

    def get(self, id_or_prefix: str) -> dict[str, Any]:
        """The record of a session, by full id or unique prefix. A record that does not
        parse raises ``CorruptRecordError``, also when only fetched copies hold it; a
        forgotten session raises ``SessionForgottenError`` saying when and why."""
        validate_session_id(id_or_prefix)
        session_id = id_or_prefix
        unreadable: list[LeftOut] = []
        with self.git.objects() as cat:
            refs = self._records_refs()
            tombstone = self._tombstone(cat, refs, session_id)
            if tombstone is not None:
                raise tombstone.error()
            found = self._find(cat, [self.ref], session_id, unreadable)
            if found is None:
                found = self._find(cat, refs[1:], session_id, unreadable)
                if found is None and not unreadable:
                    session_id = self.resolve(id_or_prefix)
                    found = self._find(cat, refs, session_id, unreadable)
        if found is None and unreadable:
            raise CorruptRecordError(unreadable[0].reason)
        if found is None:
            raise self._not_found(session_id)
        return found

    def tombstone(self, session_id: str) -> Tombstone | None:
        """The tombstone of a forgotten session (here or in a fetched copy), else ``None``."""
        validate_session_id(session_id)
        with self.git.objects() as cat:
            return self._tombstone(cat, self._records_refs(), session_id)

    def _records_refs(self) -> list[str]:
        """The records refs to read: the local one, and fetched copies when there may be
        some (no process when the ref files say there are none)."""
        if has_refs_under(self.git.common_dir, tracking_prefix(self.ref)) is False:
            return [self.ref]
        return self.sources()[0]

    def _tombstone(self, cat: ObjectReader, refs: list[str], session_id: str) -> Tombstone | None:
        """``session_id``'s tombstone in the first of ``refs`` that holds a readable one."""
        unreadable: list[LeftOut] = []
        found = self._first(
            refs,
            unreadable,
            lambda ref: self._store.tombstone_in(cat, ref, session_id),
            lambda stored: Tombstone.load(stored.data, session_id, stored.where),
        )
        self._skip(unreadable)
        return found

    def forget(self, ids: Sequence[str], reason: str) -> Forgotten:
        """Forget sessions (full ids; one id or several) for good, as ``gitprov forget``
        does: their records leave the records ref's whole history, a tombstone each stays;
        ``gitprov sync`` then purges them from the remote and every clone that syncs. See
        :mod:`gitprov.store.forget`."""
        return self._store.forget(ids, reason)

    def items(
        self,
        ids: list[str] | None = None,
        *,
        skip_missing: bool = False,
        broken: dict[str, CorruptRecordError] | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(id, record) of ``ids`` (default: all), in that order, through one git process.

        An unknown id raises ``SessionNotFoundError`` unless ``skip_missing``; a local
        record that does not parse raises ``CorruptRecordError`` unless ``broken``
        collects it (by id); a fetched copy that does not parse is skipped (see
        ``skipped``).
        """
        wanted = self.ids() if ids is None else ids
        copies: list[str] | None = None
        with self.git.objects() as cat:
            for session_id in wanted:
                unreadable: list[LeftOut] = []
                try:
                    found = self._find(cat, [self.ref], session_id, unreadable)
                    if found is None:
                        copies = self.sources()[0][1:] if copies is None else copies
                        found = self._find(cat, copies, session_id, unreadable)
                except CorruptRecordError as exc:
                    if broken is None:
                        raise
                    broken[session_id] = exc
                    continue
                self._skip(unreadable)
                if found is not None:
                    yield session_id, found
                elif not skip_missing and not unreadable:
                    raise self._not_found(session_id)

    def records(
        self,
        ids: list[str] | None = None,
        *,
        skip_missing: bool = False,
        broken: dict[str, CorruptRecordError] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The records of :meth:`items`, without their ids."""
        for _, record in self.items(ids, skip_missing=skip_missing, broken=broken):
            yield record

    def _find(
        self, cat: ObjectReader, refs: list[str], session_id: str, unreadable: list[LeftOut]
    ) -> dict[str, Any] | None:
        """``session_id``'s record in the first of ``refs`` (local first) that holds one
        that parses. A local record that does not raises; a fetched copy that does not
        goes into ``unreadable`` and the next copy is tried."""
        found = self._located(cat, refs, session_id, unreadable)
        return None if found is None else found[1]

    def _first(
        self,
        refs: list[str],
        unreadable: list[LeftOut],
        read: Callable[[str], Stored | None],
        parse: Callable[[Stored], T],
    ) -> T | None:
        """What ``parse`` makes of the first file ``read`` finds in ``refs`` that parses.
        One on the local ref that does not parse raises; a fetched copy's goes into
        ``unreadable`` and the next copy is tried."""
        for ref in refs:
            stored = read(ref)
            if stored is None:
                continue
            try:
                return parse(stored)
            except CorruptRecordError as exc:
                if ref == self.ref:
                    raise
                unreadable.append(LeftOut(stored.where, str(exc)))
        return None

    def for_commit(self, rev: str) -> list[dict[str, Any]]:
        """The sessions that ran on commit ``rev``, from the notes index (the local one and
        every fetched copy), ascending by id.

        Each entry is the index's line: ``session_id``, ``branch``, ``dirty``, ``status``,
        ``snapshot`` when there is one, and the full ``commit``; ``get(session_id)`` or
        ``records(ids)`` give the whole records. Answering from the index alone keeps this
        as cheap as ``git notes show``, however many sessions ran on the commit. A fetched
        note's lines that are not session entries are skipped, and so are forgotten
        sessions (a stale copy may still list them).
        """
        if self._store.notes_ref is None:
            raise GitProvError("the commit index is turned off (notes_ref=None)")
        notes_ref = self._store.notes_ref
        with self._copies() as copies, self.git.objects() as cat:
            records_refs = self._sources(copies, self.ref)
            commit = cat.read(f"{rev}^{{commit}}")
            if commit is None:
                raise GitProvError(f"{rev!r} is not a commit in {self.git.root}")
            entries: dict[str, dict[str, Any]] = {}
            for source in self._sources(copies, notes_ref):
                try:
                    found = self._note(cat, source, commit.sha)
                except (CorruptRecordError, RepositoryCorruptError) as exc:
                    if source == notes_ref:
                        raise
                    self._skip([LeftOut(source, str(exc))])
                    continue
                for entry in found:
                    entries.setdefault(entry["session_id"], {**entry, "commit": commit.sha})
            forgotten = {i for i in entries if self._tombstone(cat, records_refs, i)}
        return [entries[i] for i in sorted(entries) if i not in forgotten]

    def compare(self, ids: Sequence[str]) -> Comparison:
        """The runs ``ids`` (full ids or unique prefixes, as :meth:`get` reads them) side by
        side, for ``gitprov compare``: ``keys()`` and ``values()`` are those that differ
        (:mod:`gitprov.audit.compare`)."""
        from gitprov.audit.compare import compare

        return compare([self.get(session_id) for session_id in ids])

    def which(self, path_or_digest: str | os.PathLike[str]) -> list[Match]:
        """The recorded runs that wrote (``role`` ``output``) or read (``input``) exactly
        these bytes: a file or folder (digested as records digest them), or its digest
        ``sha256:<hex>``; newest first. ``OSError`` when the path is neither.

        The digest index of the local records ref and of every fetched copy is read for
        that one digest (:mod:`gitprov.audit.which`): its cost does not grow with the
        number of records. Forgotten sessions, and sessions whose record does not list the
        digest (a stale or a hostile entry), are left out; a record is read as
        :meth:`get` reads it (the local one first)."""
        from gitprov.audit import which

        digest = which.as_digest(path_or_digest, self.git)
        found: list[Match] = []
        skipped: list[LeftOut] = []
        with self.git.local_objects() as cat:
            refs = self._records_refs()
            ids: dict[str, None] = {}
            for ref in refs:
                try:
                    ids.update(dict.fromkeys(self._store.indexed_in(cat, ref, digest, skipped)))
                except GitProvError as exc:  # a fetched copy that cannot be read
                    if ref == self.ref:
                        raise
                    skipped.append(LeftOut(ref, str(exc)))
            for session_id in ids:
                if self._tombstone(cat, refs, session_id) is not None:
                    continue
                read = self._located(cat, refs, session_id, skipped)
                if read is not None:
                    found += which.matches(session_id, read[1], digest, read[0])
        self._skip(skipped)
        return which.newest_first(found)

    def _located(
        self, cat: ObjectReader, refs: list[str], session_id: str, unreadable: list[LeftOut]
    ) -> tuple[str, dict[str, Any]] | None:
        """(the ref it was read from, the record) of ``session_id``, from the first of
        ``refs`` that holds one that parses (:meth:`_first`). Read as ``load`` reads it,
        through the index's fast reader when the record has gitprov's own plain shape
        (PyYAML, whose import costs more than reading a record, only otherwise)."""
        from gitprov.index.fastyaml import parse_record

        def parse(stored: Stored) -> tuple[str, dict[str, Any]]:
            return stored.where.partition(":")[0], parse_record(
                stored.data, session_id, stored.where
            )

        return self._first(
            refs, unreadable, lambda ref: self._store.record_in(cat, ref, session_id), parse
        )

    def _note(self, cat: ObjectReader, source: str, commit: str) -> list[dict[str, Any]]:
        """The entries of ``commit``'s note in the notes ref ``source``; a fetched one's
        lines that are not session entries are skipped, named."""
        from gitprov.store import notes  # notes are read by for_commit only

        note = self._store.note_in(cat, source, commit)
        if note is None:
            return []
        if source == self._store.notes_ref:
            return notes.note_entries(note, commit)
        bad: list[str] = []
        entries = notes.note_entries(note, commit, bad)
        self._skip(LeftOut(source, problem) for problem in bad)
        return entries

    def nothing_recorded(self) -> str | None:
        """``None`` when a session is recorded; else what to do, for the empty states of
        the commands: how to record a first run and, in a clone that fetched no records
        from its remote, ``gitprov fetch``."""
        if self.ids():
            return None
        return f"no session is recorded in {self.git.root} yet; {self._first_steps()}"

    def _first_steps(self) -> str:
        """How to get a first record: a run, or (no copy fetched yet) the remote's."""
        steps = (
            "to record a first run: `gitprov run -- COMMAND`, `kedro run` in a Kedro "
            "project whose settings.py sets SESSION_STORE_CLASS = GitSessionStore, or "
            "`with gitprov.record(): ...` in Python"
        )
        fetched = has_refs_under(self.git.common_dir, tracking_prefix(self.ref)) is not False
        if fetched and len(self.sources()[0]) > 1:
            return steps  # copies were fetched: they hold nothing either
        from gitprov.sync.remote import default_remote

        remotes = self.git.run("remote").text.split()
        if not remotes:
            return steps
        default = default_remote(self.git)
        remote = default if default in remotes else remotes[0]
        fetch = "gitprov fetch" + ("" if remote == default else f" {remote}")
        return f"if {remote} has records (a teammate's runs), `{fetch}` brings them; {steps}"

    def _not_found(self, session_id: str, ids: list[str] | None = None) -> SessionNotFoundError:
        """The error for an unknown id: the nearest recorded ids, or, when none is
        recorded at all, what to do (:meth:`nothing_recorded`).

        The nearest are taken among the ids that sort next to it (colons read as dots, as
        :meth:`resolve` reads them), longest shared prefix first, then the most alike
        (``difflib``'s ratio, 0.6 at least): Kedro's ids sort by time, so these are the
        runs closest in time, and the cost does not grow with the number of runs."""
        import bisect
        import difflib

        ids = self.ids() if ids is None else ids  # sorted
        where = f"no session {session_id} is recorded in {self.git.root}"
        if not ids:
            return SessionNotFoundError(f"{where}: none is yet; {self._first_steps()}")
        probe = session_id.replace(":", ".")
        at = bisect.bisect_left(ids, probe)
        scored = []
        for candidate in ids[max(0, at - 25) : at + 25]:
            ratio = difflib.SequenceMatcher(None, probe, candidate).ratio()
            if ratio >= 0.6:
                pairs = zip(probe, candidate, strict=False)
                shared = next((n for n, (x, y) in enumerate(pairs) if x != y), len(candidate))
                scored.append((shared, ratio, candidate))
        near = [candidate for *_, candidate in sorted(scored, reverse=True)[:3]]
        guess = ", ".join(near[:-1]) + " or " + near[-1] if len(near) > 1 else "".join(near)
        return SessionNotFoundError(
            f"{where} (ref {self.ref} or its fetched copies)"
            + (f"; did you mean {guess}?" if near else ";")
            + " `gitprov list` shows the recorded ids"
        )
