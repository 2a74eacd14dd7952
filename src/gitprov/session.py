"""One session's record, written the same way by every entry point.

The Kedro store, ``gitprov.record()`` and ``gitprov run`` all hold a :class:`Session`: it
checks the repository, the id and the dirty policy when built (so a bad setup fails before
the run), and on :meth:`Session.save` captures the tree as it is then, snapshots a dirty
one, and stores the record, its index line and its pin in one compare-and-swap.
Kedro-free on purpose: importing Kedro costs a quarter of a second.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gitprov import environment, notes
from gitprov.capture import MAX_CHANGES, Static, capped, probe
from gitprov.errors import GitProvError, SessionNotFoundError
from gitprov.log import SessionLog
from gitprov.policy import Policy
from gitprov.runner import Git, has_refs_under
from gitprov.schema import build, dump, load, run_status, validate_session_id
from gitprov.snapshot import MAX_UNTRACKED_BYTES, take_snapshot
from gitprov.storage import (
    DEFAULT_NOTES_REF,
    DEFAULT_REF,
    Note,
    RecordStore,
    record_path,
    tracking_prefix,
)

logger = logging.getLogger(__name__)


class Session:
    """The recording of one session id in the repository containing ``path``.

    Options: ``ref``/``notes_ref`` (``None`` turns the commit index off), ``untracked``
    (``all``, ``normal``, ``no``), ``max_changes``, ``dirty`` (``allow``, ``warn``,
    ``refuse``), ``require_pushed``, ``snapshot``, ``snapshot_max_bytes`` and
    ``secret_keys`` (extra words that mark a key as secret).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
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
        self.session_id = validate_session_id(session_id)
        self.policy = Policy(dirty, require_pushed)
        self.git = Git.discover(path)
        self.records = RecordStore(self.git, ref, notes_ref)
        self.project = environment.find_project(path, self.git.root)
        self._untracked = untracked
        self._max_changes = max_changes
        self._snapshot = snapshot
        self._snapshot_max_bytes = snapshot_max_bytes
        self._secret_keys = tuple(secret_keys)
        # Read now, so that save() needs no more than `git status` (a moved HEAD is
        # described again there).
        self._static = Static.read(self.git) if self.git.worktree is not None else None
        self._outcome: str | None = None
        if self.policy.needs_check_at_start and self.git.worktree is not None:
            section = probe(self.git, untracked, self._static)
            self._outcome = self.policy.check(self.git, section)

    def read(self) -> dict[str, Any]:
        """The stored record, local first, then fetched copies (``SessionNotFoundError``
        when there is none)."""
        ref, session_id = self.records.ref, self.session_id
        try:
            return load(
                self.records.read(session_id), session_id, f"{ref}:{record_path(session_id)}"
            )
        except SessionNotFoundError:
            # fetched copies are looked for (with git) only when the ref files say
            # there are some: building a store for a new id spawns nothing more
            if has_refs_under(self.git.common_dir, tracking_prefix(ref)) is False:
                raise
        log = SessionLog(self.git, ref=ref, notes_ref=self.records.notes_ref)
        for record in log.records([session_id], skip_missing=True):
            return record
        raise SessionNotFoundError(
            f"no session {session_id} is recorded in {self.git.root} (ref {ref} or its "
            f"fetched copies); `gitprov list` shows the recorded ids"
        )

    def _git_section(self, meanwhile: Callable[[], object] | None = None) -> dict[str, Any]:
        """The record's ``git:`` section now, with a snapshot when the tree is dirty."""
        section = probe(self.git, self._untracked, self._static, meanwhile)
        section["snapshot"] = None
        if section["dirty"] and self._snapshot:
            try:
                snap = take_snapshot(
                    self.git,
                    self.records.writer,
                    section,
                    self.session_id,
                    untracked_listed=self._untracked == "all",
                    max_untracked_bytes=self._snapshot_max_bytes,
                )
            except GitProvError as exc:  # the record (and its commit) matter more
                logger.warning("gitprov: no snapshot of session %s: %s", self.session_id, exc)
                section["snapshot_error"] = str(exc)
            else:
                section["snapshot"] = snap.commit
                if snap.skipped:
                    section["snapshot_skipped"] = snap.skipped
        outcome = self._outcome or ("dirty-allowed" if section["dirty"] else "clean")
        section["policy"] = self.policy.describe(outcome)
        return capped(section, self._max_changes)

    def save(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Write ``data`` as this session's record (replacing any); return the record."""
        if self.git.worktree is None:
            raise GitProvError(
                f"{self.git.root} is a bare repository: runs are recorded from a work tree "
                f"(a clone); a bare repository can only be read (SessionLog)"
            )
        # update-ref starts first and the trees are read while `git status` runs, so the
        # save then waits on little more than git status itself.
        with self.records.saving(self.session_id) as pending:
            git = self._git_section(meanwhile=pending.prefetch)
            record = build(
                self.session_id, data, git, project=self.project, secret_keys=self._secret_keys
            )
            note = None
            if git["commit"] is not None:
                fields = {
                    **git,
                    "session_id": self.session_id,
                    "status": run_status(record),
                    "snapshot": git["snapshot"] and git["snapshot"][: notes.SHORT],
                }
                note = Note(git["commit"], notes.note_line(fields))
            pin = git["snapshot"] or git["commit"]  # keeps the code that ran reachable
            pending.save(dump(record), note=note, pins=[pin] if pin else [])
        logger.info(
            "gitprov: recorded session %s on %s (commit %s%s)",
            self.session_id,
            self.records.ref,
            git["commit_sha"],
            ", dirty" if git["dirty"] else "",
        )
        return record


#: The keyword options every entry point takes (``SESSION_STORE_ARGS``, ``record()``).
OPTIONS = tuple(inspect.signature(Session.__init__).parameters)[3:]
