"""The exceptions gitprov raises; every message says what went wrong and how to fix it,
naming each recording option as the reader sets it (:func:`option`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

#: Who reads the messages made now: Python (``gitprov.record()``), a Kedro project's
#: settings.py, or gitprov's command line.
OptionStyle = Literal["python", "kedro", "cli"]

_STYLE: ContextVar[OptionStyle] = ContextVar("gitprov_option_style", default="python")


@contextmanager
def option_style(style: OptionStyle) -> Iterator[None]:
    """Messages made inside name options as ``style`` sets them: the command line's
    group enters ``"cli"``, the Kedro store ``"kedro"`` while it checks the repository."""
    token = _STYLE.set(style)
    try:
        yield
    finally:
        _STYLE.reset(token)


def option(name: str, value: object) -> str:
    """The recording option ``name`` (a keyword of ``gitprov.record()``) set to ``value``,
    as whoever reads the message sets it: ``dirty='warn'``, ``"dirty": "warn" in
    SESSION_STORE_ARGS``, or ``--dirty warn`` (a flag: ``--replace``, ``--no-snapshot``).
    The one place a hint names an option, so none names one its reader cannot type."""
    style = _STYLE.get()
    if style == "cli":
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            return flag if value else flag.replace("--", "--no-", 1)
        return f"{flag} {value}"
    if style == "kedro":
        shown = f'"{value}"' if isinstance(value, str) else repr(value)
        return f'"{name}": {shown} in SESSION_STORE_ARGS'
    return f"{name}={value!r}"


class GitProvError(Exception):
    """Base class of every error gitprov raises on purpose."""


class GitNotFoundError(GitProvError):
    """The ``git`` executable is not on PATH."""


class NotAGitRepositoryError(GitProvError):
    """The path is not inside a git repository (or work tree)."""


class UnsafeRepositoryError(GitProvError):
    """Git refuses the repository because another user owns it (``safe.directory``)."""


class GitCommandError(GitProvError):
    """A git command failed for a reason gitprov does not recognise."""

    def __init__(self, message: str, returncode: int = 1, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class UnknownRevisionError(GitCommandError):
    """A revision or ref that names nothing (git: "Not a valid object name")."""


class PathRefusedError(GitCommandError):
    """``update-index`` refused one path (a nested repository with no commit, say):
    ``path`` names it as it was handed over, ``reason`` is git's word for why."""

    def __init__(self, message: str, returncode: int, stderr: str, path: str, reason: str) -> None:
        super().__init__(message, returncode, stderr)
        self.path = path
        self.reason = reason


class LostRaceError(GitProvError):
    """Another writer moved (or was moving) a ref at the same moment: trying again, with
    fresh reads, may well succeed (:func:`gitprov.git.retry.retrying`)."""


class RefLockedError(LostRaceError, GitCommandError):
    """A ref's lock file (``<ref>.lock``, ``packed-refs.lock``) was taken: another writer is
    moving the ref, or a killed one left the file behind (``lock`` names it)."""

    def __init__(self, message: str, returncode: int, stderr: str, lock: str) -> None:
        super().__init__(message, returncode, stderr)
        self.lock = lock


class StaleValueError(LostRaceError, GitCommandError):
    """A compare-and-swap lost: the ref no longer held the value the update expected."""


class RemoteMovedError(LostRaceError):
    """The remote's refs moved on since our fetch: fetch, merge and push again."""


class SessionNotFoundError(GitProvError, FileNotFoundError):
    """No record is stored under the requested session id."""


class InvalidSessionIdError(GitProvError, ValueError):
    """A session id that cannot be stored safely as a file name in git."""


class InvalidQueryError(GitProvError, ValueError):
    """A ``--where`` expression or a time that cannot be read; says the accepted forms."""


class AmbiguousSessionIdError(GitProvError):
    """A session id prefix that more than one stored session starts with."""


class DirtyWorkTreeError(GitProvError):
    """The dirty policy refused to run on a work tree with uncommitted changes."""


class SessionExistsError(GitProvError):
    """The id already has a record, and replacing it was not asked for."""


class StaleLockError(GitProvError):
    """A lock file left by a killed process blocks every write until it is removed."""


class CorruptRecordError(GitProvError):
    """A stored record (or note) could not be parsed."""


class RepositoryCorruptError(GitProvError):
    """An object gitprov must read (a records or notes tree, a tip) is missing or is not
    what its parent says it is; nothing is written on top of it."""


class ConcurrentUpdateError(GitProvError):
    """Another writer kept winning the compare-and-swap; gave up after many retries."""


class UnpushedCommitError(GitProvError):
    """``require_pushed`` refused a run whose commit is on no remote-tracking branch."""


class RemoteError(GitProvError):
    """A remote could not be reached, or its provenance refs cannot be taken as they are."""


class PushRejectedError(RemoteError):
    """The remote refused the provenance refs for a reason other than having moved on."""


class SyncBusyError(GitProvError):
    """Another sync of the same repository held the lock for longer than the timeout."""


class SessionForgottenError(SessionNotFoundError):
    """The session was forgotten (``gitprov forget``): only its tombstone is left."""
