"""gitprov: the provenance of pipeline runs, recorded in the project's own git repository."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitprov._version import __version__
from gitprov.audit.log import SessionLog
from gitprov.errors import (
    AmbiguousSessionIdError,
    DirtyWorkTreeError,
    GitProvError,
    InvalidSessionIdError,
    NotAGitRepositoryError,
    SessionExistsError,
    SessionForgottenError,
    SessionNotFoundError,
)
from gitprov.recorder import record
from gitprov.state.status import capture

if TYPE_CHECKING:
    from gitprov.kedro.store import GitSessionStore

__all__ = [
    "AmbiguousSessionIdError",
    "DirtyWorkTreeError",
    "GitProvError",
    "GitSessionStore",
    "InvalidSessionIdError",
    "NotAGitRepositoryError",
    "SessionExistsError",
    "SessionForgottenError",
    "SessionLog",
    "SessionNotFoundError",
    "__version__",
    "capture",
    "record",
]


def __getattr__(name: str) -> Any:
    # Importing Kedro takes a quarter of a second; plain scripts and the CLI never pay it.
    if name == "GitSessionStore":
        from gitprov.kedro.store import GitSessionStore

        return GitSessionStore
    raise AttributeError(f"module 'gitprov' has no attribute {name!r}")
