"""``SessionLog``: reading records back, by id, by prefix, or by the commit they ran on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from gitprov import notes
from gitprov.errors import GitProvError, SessionNotFoundError
from gitprov.record import load, validate_session_id
from gitprov.runner import Git
from gitprov.storage import DEFAULT_NOTES_REF, DEFAULT_REF, RecordStore, record_path


class SessionLog:
    """Read-only view of the recorded sessions of the repository containing ``path``."""

    def __init__(
        self,
        path: str | os.PathLike[str] = ".",
        *,
        ref: str = DEFAULT_REF,
        notes_ref: str | None = DEFAULT_NOTES_REF,
    ) -> None:
        self.git = Git.discover(path)
        self._store = RecordStore(self.git, ref, notes_ref)

    @property
    def ref(self) -> str:
        return self._store.ref

    def ids(self) -> list[str]:
        """Every recorded session id, ascending (Kedro's ids sort by time)."""
        return self._store.ids()

    def resolve(self, id_or_prefix: str) -> str:
        """The one stored id equal to, or else starting with, ``id_or_prefix``."""
        validate_session_id(id_or_prefix)
        ids = self.ids()
        if id_or_prefix in ids:
            return id_or_prefix
        matches = [i for i in ids if i.startswith(id_or_prefix)]
        if not matches:
            raise SessionNotFoundError(
                f"no session {id_or_prefix} is recorded in {self.git.root} (ref {self.ref}); "
                f"`gitprov list` shows the recorded ids"
            )
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
        try:
            return load(self._store.read(id_or_prefix), id_or_prefix)
        except SessionNotFoundError:
            session_id = self.resolve(id_or_prefix)
            return load(self._store.read(session_id), session_id)

    def records(self, ids: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Records of ``ids`` (default: all), in that order, through one git process."""
        wanted = self.ids() if ids is None else ids
        with self.git.objects() as cat:
            for session_id in wanted:
                obj = cat.read(f"{self.ref}:{record_path(session_id)}")
                if obj is None:
                    raise SessionNotFoundError(f"no session {session_id} is recorded")
                yield load(obj.data, session_id)

    def for_commit(self, rev: str) -> list[dict[str, Any]]:
        """Records of the sessions that ran on commit ``rev``, via the notes index."""
        notes_ref = self._store.notes_ref
        if notes_ref is None:
            raise GitProvError("the commit index is turned off (notes_ref=None)")
        hash_len = self._store.writer.hash_len
        with self.git.objects() as cat:
            commit = cat.read(f"{rev}^{{commit}}")
            if commit is None:
                raise GitProvError(f"{rev!r} is not a commit in {self.git.root}")
            root = cat.read(f"{notes_ref}^{{tree}}")
            if root is None:
                return []

            def read_tree(tree_id: str) -> bytes | None:
                obj = cat.read(tree_id)
                return obj.data if obj is not None and obj.type == "tree" else None

            found = notes.find(read_tree, root.sha, commit.sha, hash_len)
            if found is None:
                return []
            blob = cat.read(found[1])
            result = []
            for session_id in notes.note_ids(blob.data if blob else b"", commit.sha):
                obj = cat.read(f"{self.ref}:{record_path(session_id)}")
                if obj is not None:
                    result.append(load(obj.data, session_id))
            return sorted(result, key=lambda r: str(r.get("session_id")))
