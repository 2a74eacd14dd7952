"""One sync at a time per repository: two interleaved merges would each push the other's
half-merged refs."""

from __future__ import annotations

from contextlib import AbstractContextManager

from gitprov.errors import SyncBusyError
from gitprov.git import Git
from gitprov.git.writing import WriteRules, hold_flock
from gitprov.refs import SYNC_LOCK

#: How long a sync waits for another sync of the same repository to finish.
LOCK_TIMEOUT = 60.0


def sync_lock(
    git: Git, timeout: float = LOCK_TIMEOUT, rules: WriteRules | None = None
) -> AbstractContextManager[None]:
    """Hold the repository's sync lock (``<common git dir>/gitprov-sync.lock``), an flock
    the kernel drops when its holder exits or is killed, so a sync killed half-way never
    leaves the repository locked. Created with the repository's shared modes, so a
    teammate's sync can take it too."""
    return hold_flock(
        git.common_dir / SYNC_LOCK,
        rules or WriteRules.of(git),
        timeout,
        lambda path: SyncBusyError(
            f"another gitprov sync, fetch or push is running in this repository (it holds "
            f"{path}); waited {timeout:g}s. Let it finish and run again, or wait longer "
            f"with --lock-timeout"
        ),
    )
