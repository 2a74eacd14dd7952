"""gitprov: the provenance of pipeline runs, recorded in the project's own git repository."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gitprov._version import __version__
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

if TYPE_CHECKING:
    from gitprov.audit.log import SessionLog
    from gitprov.kedro.store import GitSessionStore
    from gitprov.recorder import record
    from gitprov.state.status import capture

#: What ``import gitprov`` offers and where it lives, imported on first use: a command or
#: a script pays only for what it touches (Kedro alone takes a quarter of a second).
_LAZY = {
    "GitSessionStore": "gitprov.kedro.store",
    "SessionLog": "gitprov.audit.log",
    "capture": "gitprov.state.status",
    "record": "gitprov.recorder",
}

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
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gitprov' has no attribute {name!r}")
