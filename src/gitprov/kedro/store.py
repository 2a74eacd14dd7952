"""``GitSessionStore``: Kedro's ``SESSION_STORE_CLASS`` that keeps sessions in git.

Kedro builds the store with ``path=<project>/sessions`` and ``session_id=<id>`` (plus
``SESSION_STORE_ARGS``), fills it as a dict while the session runs and calls ``save()``
when the session closes. Everything that can go wrong with the repository is checked in
``__init__``, so a misconfigured project fails before its pipeline runs, not after.
"""

from __future__ import annotations

import logging
from collections import UserDict
from typing import Any

from gitprov import notes
from gitprov.capture import MAX_CHANGES, capture_git
from gitprov.errors import SessionNotFoundError
from gitprov.record import build, dump, load, run_status, validate_session_id
from gitprov.runner import Git
from gitprov.storage import DEFAULT_NOTES_REF, DEFAULT_REF, Note, RecordStore

logger = logging.getLogger(__name__)

try:  # Kedro's settings validator requires a BaseSessionStore subclass.
    from kedro.framework.session.store import BaseSessionStore as _Base
except ImportError:  # pragma: no cover - exercised by the no-Kedro test environment

    class _Base(UserDict):  # type: ignore[no-redef,type-arg]
        """The same contract as Kedro's base class, for use without Kedro."""

        def __init__(self, path: str, session_id: str) -> None:
            self._path = path
            self._session_id = session_id
            super().__init__(self.read())

        def read(self) -> dict[str, Any]:
            return {}

        def save(self) -> None:
            return None


class GitSessionStore(_Base):
    """A Kedro session store whose records live on ``refs/provenance/sessions``."""

    def __init__(
        self,
        path: str,
        session_id: str,
        *,
        ref: str = DEFAULT_REF,
        notes_ref: str | None = DEFAULT_NOTES_REF,
        untracked: str = "all",
        max_changes: int = MAX_CHANGES,
    ) -> None:
        self._path = str(path)
        self._session_id = validate_session_id(session_id)
        self._git = Git.discover(path)
        self._records = RecordStore(self._git, ref, notes_ref)
        self._capture_options: dict[str, Any] = {
            "untracked": untracked,
            "max_changes": max_changes,
        }
        self._constructing = True
        super().__init__(self._path, self._session_id)
        self._constructing = False

    @property
    def path(self) -> str:
        return self._path

    @property
    def session_id(self) -> str:
        return self._session_id

    def read(self) -> dict[str, Any]:
        """The stored record; ``SessionNotFoundError`` if there is none (but a new
        session under construction simply starts empty)."""
        try:
            return load(self._records.read(self._session_id), self._session_id)
        except SessionNotFoundError:
            if self._constructing:
                return {}
            raise

    def save(self, data: dict[str, Any] | None = None) -> None:
        """Capture the git state now and write this session's record (replacing any)."""
        if data:
            self.update(data)
        git = capture_git(self._git, **self._capture_options)
        record = build(self._session_id, self.data, git)
        note = None
        if git["commit"] is not None:
            line = notes.note_line(
                {
                    "session_id": self._session_id,
                    "branch": git["branch"],
                    "dirty": git["dirty"],
                    "status": run_status(record),
                    "snapshot": git.get("snapshot"),
                }
            )
            note = Note(git["commit"], line)
        self._records.save(self._session_id, dump(record), note=note)
        logger.info(
            "gitprov: recorded session %s on %s (commit %s%s)",
            self._session_id,
            self._records.ref,
            git["commit_sha"],
            ", dirty" if git["dirty"] else "",
        )
