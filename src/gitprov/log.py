"""``SessionLog``: reading records back, by id, by prefix, or by the commit they ran on.

Reads the local ref first, then every remote-tracking copy of it that a plain ``git fetch``
fills (``refs/provenance/remotes/<remote>/sessions``, see ``gitprov init``), so teammates'
sessions are visible before any merge; a local record wins over a fetched copy of the same
id. Works in bare repositories too (a server-side audit).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Any

from gitprov import notes
from gitprov.errors import CorruptRecordError, GitProvError, SessionNotFoundError
from gitprov.runner import Git, ObjectReader
from gitprov.schema import load, validate_session_id
from gitprov.storage import (
    DEFAULT_NOTES_REF,
    DEFAULT_REF,
    RecordStore,
    record_path,
    tracking_prefix,
)


class _Copies:
    """The remote-tracking copies of the refs (``storage.tracking_ref``), looked up by one
    ``for-each-ref`` that runs while the caller starts reading the local refs."""

    def __init__(self, git: Git, refs: list[str]) -> None:
        self._git = git
        self._patterns = {}
        for ref in refs:
            self._patterns[ref] = (tracking_prefix(ref), f"/{ref.rpartition('/')[2]}")
        prefixes = sorted({prefix for prefix, _ in self._patterns.values()})
        self._proc = git.start("for-each-ref", "--format=%(refname)", *prefixes)
        self._found: list[str] | None = None

    def __enter__(self) -> _Copies:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._found is None:
            self._git.finish(self._proc)  # reap it: the caller left before needing it

    def of(self, ref: str) -> list[str]:
        """The copies of ``ref``, sorted (waits for the lookup)."""
        if self._found is None:
            self._found = self._git.finish(self._proc).text.split()
        pre, suf = self._patterns[ref]
        return sorted(
            r
            for r in self._found
            if r.startswith(pre) and r.endswith(suf) and len(r) > len(pre + suf)
        )


class SessionLog:
    """Read-only view of the recorded sessions of the repository containing ``path`` (or
    of the repository a :class:`Git` already located)."""

    def __init__(
        self,
        path: str | os.PathLike[str] | Git = ".",
        *,
        ref: str = DEFAULT_REF,
        notes_ref: str | None = DEFAULT_NOTES_REF,
    ) -> None:
        self.git = path if isinstance(path, Git) else Git.discover(path)
        self._store = RecordStore(self.git, ref, notes_ref)

    @property
    def ref(self) -> str:
        return self._store.ref

    def _copies(self) -> _Copies:
        notes_ref = self._store.notes_ref
        return _Copies(self.git, [self.ref] + ([notes_ref] if notes_ref else []))

    def sources(self) -> tuple[list[str], list[str]]:
        """The records refs and notes refs read, local first, then the remote-tracking ones."""
        copies, notes_ref = self._copies(), self._store.notes_ref
        records = [self.ref, *copies.of(self.ref)]
        return records, ([notes_ref, *copies.of(notes_ref)] if notes_ref else [])

    def ids(self) -> list[str]:
        """Every recorded session id, ascending (Kedro's ids sort by time)."""
        found: set[str] = set()
        for ref in self.sources()[0]:
            found.update(RecordStore(self.git, ref, None).ids())
        return sorted(found)

    def resolve(self, id_or_prefix: str) -> str:
        """The one stored id equal to, or else starting with, ``id_or_prefix``."""
        validate_session_id(id_or_prefix)
        ids = self.ids()
        if id_or_prefix in ids:
            return id_or_prefix
        matches = [i for i in ids if i.startswith(id_or_prefix)]
        if not matches:
            raise self._not_found(id_or_prefix)
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
            raise GitProvError(
                f"session id prefix {id_or_prefix!r} is ambiguous ({len(matches)} sessions: "
                f"{shown}); give more characters"
            )
        return matches[0]

    def get(self, id_or_prefix: str) -> dict[str, Any]:
        """The record of a session, by full id or unique prefix."""
        validate_session_id(id_or_prefix)
        session_id = id_or_prefix
        with self.git.objects() as cat:
            found = _read(cat, [self.ref], session_id)
            if found is None:  # only now look for fetched copies: a local hit costs no more
                refs = self.sources()[0]
                found = _read(cat, refs[1:], session_id)
                if found is None:
                    session_id = self.resolve(id_or_prefix)
                    found = _read(cat, refs, session_id)
        if found is None:
            raise self._not_found(session_id)
        return load(found[0], session_id, found[1])

    def records(
        self,
        ids: list[str] | None = None,
        *,
        skip_missing: bool = False,
        broken: list[CorruptRecordError] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Records of ``ids`` (default: all), in that order, through one git process;
        an unknown id raises ``SessionNotFoundError`` unless ``skip_missing``, a record
        that does not parse raises ``CorruptRecordError`` unless ``broken`` collects it."""
        wanted = self.ids() if ids is None else ids
        copies: list[str] | None = None
        with self.git.objects() as cat:
            for session_id in wanted:
                found = _read(cat, [self.ref], session_id)
                if found is None:
                    copies = self.sources()[0][1:] if copies is None else copies
                    found = _read(cat, copies, session_id)
                if found is None:
                    if not skip_missing:
                        raise self._not_found(session_id)
                    continue
                try:
                    yield load(found[0], session_id, found[1])
                except CorruptRecordError as exc:
                    if broken is None:
                        raise
                    broken.append(exc)

    def for_commit(self, rev: str) -> list[dict[str, Any]]:
        """The sessions that ran on commit ``rev``, from the notes index (the local one and
        every fetched copy), ascending by id.

        Each entry is the index's line: ``session_id``, ``branch``, ``dirty``, ``status``,
        ``snapshot`` when there is one, and the full ``commit``; ``get(session_id)`` or
        ``records(ids)`` give the whole records. Answering from the index alone keeps this
        as cheap as ``git notes show``, however many sessions ran on the commit.
        """
        if self._store.notes_ref is None:
            raise GitProvError("the commit index is turned off (notes_ref=None)")
        notes_ref = self._store.notes_ref
        with self._copies() as copies, self.git.objects() as cat:
            commit = cat.read(f"{rev}^{{commit}}")
            if commit is None:
                raise GitProvError(f"{rev!r} is not a commit in {self.git.root}")
            read_tree = functools.partial(self._store.tree, cat)

            entries: dict[str, dict[str, Any]] = {}
            for source in [notes_ref, *copies.of(notes_ref)]:
                root = cat.read(f"{source}^{{tree}}")
                found = notes.find(read_tree, root.sha, commit.sha) if root else None
                if found is not None:
                    blob = cat.read(found[1])
                    for entry in notes.note_entries(blob.data if blob else b"", commit.sha):
                        entries.setdefault(entry["session_id"], {**entry, "commit": commit.sha})
        return [entries[session_id] for session_id in sorted(entries)]

    def _not_found(self, session_id: str) -> SessionNotFoundError:
        return SessionNotFoundError(
            f"no session {session_id} is recorded in {self.git.root} (ref {self.ref} or its "
            f"fetched copies); `gitprov list` shows the recorded ids"
        )


def _read(cat: ObjectReader, refs: list[str], session_id: str) -> tuple[bytes, str] | None:
    """``session_id``'s record in the first of ``refs`` (local first) that holds it, and
    where that is (``<ref>:<path>``)."""
    for ref in refs:
        where = f"{ref}:{record_path(session_id)}"
        obj = cat.read(where)
        if obj is not None and obj.type == "blob":
            return obj.data, where
    return None
