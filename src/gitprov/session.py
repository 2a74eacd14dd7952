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
from pathlib import Path
from typing import Any, cast

from gitprov.audit.log import SessionLog
from gitprov.errors import GitProvError, SessionNotFoundError
from gitprov.git import Git
from gitprov.git.reffiles import has_refs_under
from gitprov.git.writing import WriteRules
from gitprov.model.digests import record_digests
from gitprov.model.document import build, dump, load, run_status, validate_session_id
from gitprov.model.sections import (
    CLEAN,
    DIRTY_ALLOWED,
    DirtyPolicy,
    GitSection,
    PolicyOutcome,
    Record,
    Unbuilt,
    now_utc,
)
from gitprov.refs import CONFIGURED, NotesRefOption, tracking_prefix
from gitprov.state import environment
from gitprov.state.policy import Policy
from gitprov.state.screen import MAX_TOTAL_BYTES, MAX_UNTRACKED_BYTES, Rules
from gitprov.state.snapshot import take_snapshot
from gitprov.state.status import MAX_CHANGES, Static, capped, probe
from gitprov.store import notes, spool
from gitprov.store.api import Note, Records
from gitprov.store.records import RecordStore, record_path

logger = logging.getLogger(__name__)


class Session:
    """The recording of one session id in the repository containing ``path``.

    Options: ``ref``/``notes_ref`` (default: the repository's ``gitprov.ref`` and
    ``gitprov.notesRef``, else the defaults, :func:`gitprov.refs.resolve`; ``None`` turns
    the commit index off), ``untracked`` (``all``, ``normal``, ``no``), ``max_changes``,
    ``dirty`` (``allow``, ``warn``, ``refuse``), ``require_pushed``, ``snapshot``,
    ``snapshot_max_bytes`` (per untracked file), ``snapshot_max_total_bytes`` (all changed
    files of one snapshot), ``snapshot_exclude`` (gitignore patterns, added to the
    repository's ``.gitprovignore``: what a snapshot must not store, on top of the
    secret-looking files it never stores), ``secret_keys`` (extra words that mark a key as
    secret) and ``replace`` (an id that already has a record is refused unless it is true;
    a session saving again replaces its own record).

    A repository gitprov cannot write to (bare, read-only) is refused here, before the run.
    A save that fails afterwards keeps the record in the spool (:mod:`gitprov.store.spool`),
    logs one line saying how to recover it, and does not raise: the run's own outcome
    stands. ``spooled`` then names the spool file; ``recorded`` says whether the last save
    reached the ref.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        session_id: str,
        *,
        ref: str | None = None,
        notes_ref: NotesRefOption = CONFIGURED,
        untracked: str = "all",
        max_changes: int = MAX_CHANGES,
        dirty: DirtyPolicy = "allow",
        require_pushed: bool = False,
        snapshot: bool = True,
        snapshot_max_bytes: int = MAX_UNTRACKED_BYTES,
        snapshot_max_total_bytes: int = MAX_TOTAL_BYTES,
        snapshot_exclude: Sequence[str] = (),
        secret_keys: Sequence[str] = (),
        replace: bool = False,
    ) -> None:
        self.session_id = validate_session_id(session_id)
        self.policy = Policy(dirty, require_pushed)
        self.git = Git.discover(path)
        self.rules = WriteRules.of(self.git)  # group modes and fsync, as git applies them
        _check_writable(self.git)
        self.records: Records = RecordStore(self.git, ref, notes_ref, self.rules)
        self.project = environment.find_project(path, self.git.root)
        self._untracked = untracked
        self._max_changes = max_changes
        self._snapshot = snapshot
        # one pattern given as a string (as a settings.py may) is one pattern, not letters
        exclude = (snapshot_exclude,) if isinstance(snapshot_exclude, str) else snapshot_exclude
        self._screen = Rules(tuple(exclude), snapshot_max_bytes, snapshot_max_total_bytes)
        self._secret_keys = tuple(secret_keys)
        self._replace = replace
        tombstone = self.records.forgotten(self.session_id)
        if tombstone is not None:  # before the run: its record could never be written
            raise tombstone.error()
        #: Whether the id had a record when this session began (checked unless ``replace``).
        self.existing = not replace and self.records.has(self.session_id)
        self.spooled: Path | None = None
        self.recorded = False
        self._saved = False  # a session saving again replaces its own record
        # Read now, so that save() needs no more than `git status` (a moved HEAD is
        # described again there).
        self._static = Static.read(self.git.runner)
        self._outcome: PolicyOutcome | None = None
        if self.policy.needs_check_at_start:
            section = probe(self.git.runner, untracked, self._static)
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

    def _git_section(self, meanwhile: Callable[[], object] | None = None) -> GitSection:
        """The record's ``git:`` section now, with a snapshot when the tree is dirty."""
        captured = probe(self.git.runner, self._untracked, self._static, meanwhile)
        section = cast(GitSection, {**capped(captured, self._max_changes), "snapshot": None})
        if captured["dirty"] and self._snapshot:
            try:
                snap = take_snapshot(
                    self.git,
                    self.records.objects,
                    captured,
                    self.session_id,
                    untracked_listed=self._untracked == "all",
                    rules=self._screen,
                )
            except GitProvError as exc:  # the record (and its commit) matter more
                logger.warning("gitprov: no snapshot of session %s: %s", self.session_id, exc)
                section["snapshot_error"] = str(exc)
            else:
                section["snapshot"] = snap.commit
                if snap.skipped:
                    section["snapshot_skipped"] = snap.skipped
        outcome = self._outcome or (DIRTY_ALLOWED if captured["dirty"] else CLEAN)
        section["policy"] = self.policy.describe(outcome)
        return section

    def save(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Write ``data`` as this session's record; return the record.

        Whatever stops the write, the record is spooled (see the class) and returned.
        """
        record: Record | Unbuilt | None = None
        payload: bytes | None = None
        note: Note | None = None
        pins: list[str] = []
        replace = self._replace or self._saved
        try:
            # update-ref starts first and the trees are read while `git status` runs, so
            # the save then waits on little more than git status itself.
            writer = self.records.objects
            with self.records.saving(self.session_id) as pending:
                with writer.deferring():  # the snapshot's commit goes into the save's pack
                    git = self._git_section(meanwhile=pending.prefetch)
                record = build(
                    self.session_id,
                    data,
                    git,
                    host=environment.host(),
                    saved_at=now_utc(),
                    packages=environment.packages(self.project) if self.project else None,
                    secret_keys=self._secret_keys,
                )
                note = self._note(git, record)
                pin = git["snapshot"] or git["commit"]  # keeps the code that ran reachable
                pins = [pin] if pin else []
                payload = dump(record)
                pending.save(
                    payload,
                    note=note,
                    pins=pins,
                    replace=replace,
                    digests=record_digests(record),
                )
                writer.settle()
        except Exception as exc:
            return self._keep(data, record, payload, note, pins, replace, exc)
        except BaseException as exc:  # interrupted mid-save: keep the record, then stop
            self._keep(data, record, payload, note, pins, replace, exc)
            raise
        self._saved = self.recorded = True
        self.spooled = None
        logger.info(
            "gitprov: recorded session %s on %s (commit %s%s)",
            self.session_id,
            self.records.ref,
            git["commit_sha"],
            ", dirty" if git["dirty"] else "",
        )
        self._write_spooled()
        return record

    def recorded_line(self) -> str:
        """The line a command prints once the record is on the ref (``gitprov run``, a
        ``kedro run``)."""
        return (
            f"gitprov: recorded session {self.session_id} in {self.git.root} ({self.records.ref})"
        )

    def _note(self, git: Mapping[str, Any], record: Record) -> Note | None:
        if git["commit"] is None:
            return None
        fields = {
            **git,
            "session_id": self.session_id,
            "status": run_status(record),
            "snapshot": git["snapshot"] and git["snapshot"][: notes.SHORT],
        }
        return Note(git["commit"], notes.note_line(fields))

    def _keep(
        self,
        data: Mapping[str, Any],
        record: Record | Unbuilt | None,
        payload: bytes | None,
        note: Note | None,
        pins: list[str],
        replace: bool,
        exc: BaseException,
    ) -> Mapping[str, Any]:
        """Spool the record a failed save could not write, and say so in one line."""
        reason = str(exc) or type(exc).__name__
        self.recorded = False
        try:
            self.records.objects.flush_deferred()  # the snapshot a spooled record pins
        except OSError as error:
            logger.warning(
                "gitprov: the snapshot of session %s is lost: %s", self.session_id, error
            )
        if payload is None:  # the failure came before the record was whole
            try:
                record = record or build(
                    self.session_id,
                    data,
                    {"error": f"the git state could not be captured: {reason}"},
                    host=environment.host(),
                    saved_at=now_utc(),
                    secret_keys=self._secret_keys,
                )
                payload = dump(record)
            except Exception:
                record = {"session_id": self.session_id, "error": reason}
                payload = dump(record)
        entry = spool.Spooled(
            self.session_id,
            self.records.ref,
            self.records.notes_ref,
            payload,
            reason,
            replace,
            None if note is None else (note.commit, note.line),
            pins,
        )
        self.spooled = None
        try:
            self.spooled = spool.keep(self.git, self.rules, entry)
        except GitProvError as error:
            logger.error(
                "gitprov: session %s was NOT recorded (%s), and %s. Its record follows; "
                "save it as it is:\n%s",
                self.session_id,
                reason,
                error,
                payload.decode("utf-8", "replace"),
            )
        else:
            logger.error(
                "gitprov: session %s is not on %s yet (%s). Its record is kept in %s; "
                "`gitprov recover` writes it (so does the next save), once that is fixed.",
                self.session_id,
                self.records.ref,
                reason,
                self.spooled,
            )
        return record or load(payload, self.session_id, "the spool")

    def _write_spooled(self) -> None:
        """Write records earlier saves could not (a look at one or two folders when
        there are none)."""
        if not any(folder.is_dir() for folder in spool.folders(self.git)):
            return
        written, failed = spool.write_all(self.git, self.rules)
        if written:
            logger.warning("gitprov: wrote %d spooled record(s): %s", len(written), written)
        for path, why in failed:
            logger.warning("gitprov: spooled record %s still cannot be written: %s", path, why)


def _check_writable(git: Git) -> None:
    """Refuse, before the run, a repository no record could be written to."""
    if git.worktree is None:
        raise GitProvError(
            f"{git.root} is a bare repository: runs are recorded from a work tree (a "
            f"clone); a bare repository can only be read (gitprov.SessionLog, gitprov list)"
        )
    for folder in (git.common_dir, git.objects_dir):
        if not os.access(folder, os.W_OK):
            raise GitProvError(
                f"the repository at {git.root} is read-only for this user ({folder} cannot "
                f"be written), so no record could be stored. Run from a writable clone, or "
                f"make it writable (for a shared repository: `git config "
                f"core.sharedRepository group` and group write access); records can still "
                f"be read with `gitprov list`"
            )


#: The keyword options every entry point takes (``SESSION_STORE_ARGS``, ``record()``, and
#: ``gitprov run`` as flags: ``--max-changes``, ``--no-snapshot``, ...).
OPTIONS = tuple(inspect.signature(Session.__init__).parameters)[3:]
