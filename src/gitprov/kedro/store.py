"""``GitSessionStore``: Kedro's ``SESSION_STORE_CLASS`` that keeps sessions in git.

Kedro builds the store with ``path=<project>/sessions`` and ``session_id=<id>`` (plus
``SESSION_STORE_ARGS``), fills it as a dict while the session runs and calls ``save()``
when the session closes. Everything that can go wrong with the repository is checked in
``__init__``, so a misconfigured project fails before its pipeline runs, not after.
"""

from __future__ import annotations

import logging
import weakref
from collections import UserDict
from collections.abc import Sequence
from typing import Any

from gitprov import environment, notes
from gitprov.capture import MAX_CHANGES, capped, probe
from gitprov.errors import SessionNotFoundError
from gitprov.policy import Policy
from gitprov.record import build, dump, load, run_status, validate_session_id
from gitprov.runner import Git
from gitprov.snapshot import MAX_UNTRACKED_BYTES, take_snapshot
from gitprov.storage import DEFAULT_NOTES_REF, DEFAULT_REF, Note, RecordStore

logger = logging.getLogger(__name__)

#: The stores of the sessions alive in this process, by session id, for the plugin's hooks
#: (Kedro hands hooks the session id, never the store). Weak: an entry lives exactly as
#: long as its session holds the store, through the ``save()`` Kedro calls after the hooks.
_LIVE: weakref.WeakValueDictionary[str, GitSessionStore] = weakref.WeakValueDictionary()


def live_store(session_id: str) -> GitSessionStore | None:
    """The store of the live session ``session_id`` in this process, if there is one."""
    return _LIVE.get(session_id)


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
        dirty: str = "allow",
        require_pushed: bool = False,
        snapshot: bool = True,
        snapshot_max_bytes: int = MAX_UNTRACKED_BYTES,
        secret_keys: Sequence[str] = (),
    ) -> None:
        self._path = str(path)
        self._session_id = validate_session_id(session_id)
        self._git = Git.discover(path)
        self._records = RecordStore(self._git, ref, notes_ref)
        self._untracked = untracked
        self._max_changes = max_changes
        self._snapshot = snapshot
        self._snapshot_max_bytes = snapshot_max_bytes
        self._secret_keys = tuple(secret_keys)
        self._policy = Policy(dirty, require_pushed)
        self._outcome: str | None = None
        if self._policy.needs_check_at_start and self._git.worktree is not None:
            self._outcome = self._policy.check(self._git, probe(self._git, untracked))
        self._constructing = True
        super().__init__(self._path, self._session_id)
        self._constructing = False
        _LIVE[self._session_id] = self

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

    def _git_section(self) -> dict[str, Any]:
        """The record's ``git:`` section now, with a snapshot when the tree is dirty."""
        section = probe(self._git, self._untracked)
        if section["dirty"] and self._snapshot:
            snap = take_snapshot(
                self._git,
                self._records.writer,
                section,
                self._session_id,
                untracked_listed=self._untracked == "all",
                max_untracked_bytes=self._snapshot_max_bytes,
            )
            section["snapshot"] = snap.commit
            if snap.skipped:
                section["snapshot_skipped"] = snap.skipped
        else:
            section["snapshot"] = None
        outcome = self._outcome or ("dirty-allowed" if section["dirty"] else "clean")
        section["policy"] = self._policy.describe(outcome)
        return capped(section, self._max_changes)

    def save(self, data: dict[str, Any] | None = None) -> None:
        """Capture the git state now and write this session's record (replacing any)."""
        if data:
            self.update(data)
        git = self._git_section()
        project = environment.find_project(
            self.data.get("project_path") or self._path, self._git.root
        )
        record = build(
            self._session_id, self.data, git, project=project, secret_keys=self._secret_keys
        )
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
        pin = git.get("snapshot") or git["commit"]
        self._records.save(self._session_id, dump(record), note=note, pins=[pin] if pin else [])
        logger.info(
            "gitprov: recorded session %s on %s (commit %s%s)",
            self._session_id,
            self._records.ref,
            git["commit_sha"],
            ", dirty" if git["dirty"] else "",
        )
