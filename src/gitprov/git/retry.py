"""The one retry policy of gitprov: an attempt that lost a race to another writer
(:class:`~gitprov.errors.LostRaceError`, raised by the runner or by a push that found the
remote moved on) runs again, with fresh reads, after a jittered, doubling pause.

Saves, forgets and merges retry a local compare-and-swap for up to :data:`RETRY_SECONDS`;
sync retries a whole fetch-merge-push round a few times. Both stop at once on a ref lock
file that a killed process left behind, which no amount of waiting would free.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from gitprov.errors import ConcurrentUpdateError, LostRaceError, RefLockedError, StaleLockError

T = TypeVar("T")

#: A ref lock file unchanged this long was left by a crash: git holds its own for
#: milliseconds.
STALE_LOCK_SECONDS = 5.0


class Backoff(NamedTuple):
    """When to give up (after ``seconds``, or after ``attempts`` tries), and the pauses in
    between: the n-th is random in ``[0, min(cap, first * 2**n)]``."""

    seconds: float | None = None
    attempts: int | None = None
    first: float = 0.002
    cap: float = 0.25

    def pause(self, failures: int) -> float:
        import random  # only when a ref is busy: not at start-up

        return random.uniform(0, min(self.cap, self.first * 2**failures))


#: How long a local ref move (a save, a forget, a merge) keeps retrying: writers hold a
#: ref for milliseconds.
RETRY_SECONDS = 60.0


def retrying(ref: str, what: str, attempt: Callable[[], T]) -> T:
    """``attempt()``, which moves the local ``ref`` by compare-and-swap, retried for up to
    ``RETRY_SECONDS`` while other writers win (:func:`retry`)."""
    gave_up = f"could not {what}: other writers kept moving {ref} for {RETRY_SECONDS:.0f}s"
    return retry(attempt, Backoff(seconds=RETRY_SECONDS), gave_up)


def retry(attempt: Callable[[], T], backoff: Backoff, gave_up: str) -> T:
    """``attempt()``, again while it raises :class:`LostRaceError`, until ``backoff`` says
    stop; then :class:`ConcurrentUpdateError` with the message ``gave_up``. A ref lock left
    by a crash raises :class:`StaleLockError` at once (:func:`check_stale_lock`)."""
    deadline = None if backoff.seconds is None else time.monotonic() + backoff.seconds
    locks_seen: dict[str, float] = {}
    failures = 0
    while True:
        try:
            return attempt()
        except LostRaceError as exc:
            if isinstance(exc, RefLockedError):
                check_stale_lock(exc, locks_seen)
            failures += 1
            if (backoff.attempts is not None and failures >= backoff.attempts) or (
                deadline is not None and time.monotonic() > deadline
            ):
                raise ConcurrentUpdateError(gave_up) from exc
        time.sleep(backoff.pause(failures))


def check_stale_lock(exc: RefLockedError, since: dict[str, float]) -> None:
    """Raise :class:`StaleLockError` when the lock file ``exc`` found has not changed for
    ``STALE_LOCK_SECONDS`` (``since``: when each lock was first seen)."""
    path = exc.lock
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return  # gone already: its holder finished
    first = since.setdefault(f"{path}\0{mtime}", time.monotonic())
    unchanged = max(time.time() - mtime, time.monotonic() - first)
    if unchanged >= STALE_LOCK_SECONDS:
        raise StaleLockError(
            f"{path} has not changed for {unchanged:.0f}s: a git or gitprov process that "
            f"was killed left it. If no git command is running in this repository, remove "
            f"it (`rm '{path}'`), then run `gitprov recover`"
        )
