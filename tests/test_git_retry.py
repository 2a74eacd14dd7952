"""The one retry policy: lost races (real compare-and-swaps lost to another writer, real
lock files) are tried again, anything else is not, and a crash's lock stops it at once."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gitprov.errors import (
    ConcurrentUpdateError,
    GitCommandError,
    RemoteMovedError,
    StaleLockError,
    StaleValueError,
)
from gitprov.git import Git
from gitprov.git import retry as policy
from gitprov.git.retry import Backoff, retry

from conftest import git

REF = "refs/provenance/sessions"
QUICK = Backoff(seconds=10.0, first=0.001, cap=0.002)


class Writer:
    """Moves ``REF`` to the next of a few commits by compare-and-swap, as a save does; a
    competing writer may move it between the read and the swap."""

    def __init__(self, repo: Path) -> None:
        self.git = Git.discover(repo)
        for n in range(4):
            git(repo, "commit", "-q", "--allow-empty", "-m", f"c{n}")
        self.commits = git(repo, "rev-list", "--reverse", "HEAD").split()
        self.git.run("update-ref", REF, self.commits[0])
        self.tries = 0

    def value(self) -> str:
        return self.git.run("rev-parse", REF).text.strip()

    def save(self, competitors: int = 0) -> str:
        """One attempt; the first ``competitors`` attempts lose to another writer."""
        self.tries += 1
        old = self.value()
        at = self.commits.index(old)
        if self.tries <= competitors:  # another writer moves the ref meanwhile
            self.git.run("update-ref", REF, self.commits[(at + 2) % len(self.commits)], old)
        new = self.commits[(at + 1) % len(self.commits)]
        self.git.run("update-ref", "--stdin", input=f"update {REF} {new} {old}\n".encode())
        return new


def test_lost_compare_and_swaps_are_tried_again_with_fresh_reads(repo: Path) -> None:
    writer = Writer(repo)
    moved = retry(lambda: writer.save(competitors=2), QUICK, "gave up")
    assert writer.tries == 3 and writer.value() == moved


def test_a_writer_that_keeps_losing_gives_up_with_the_message(repo: Path) -> None:
    writer = Writer(repo)
    with pytest.raises(ConcurrentUpdateError, match=r"^gave up after 3$") as info:
        retry(lambda: writer.save(competitors=99), Backoff(attempts=3), "gave up after 3")
    assert writer.tries == 3 and isinstance(info.value.__cause__, StaleValueError)


def test_the_ref_moves_retry_stops_after_its_time(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy, "RETRY_SECONDS", 0.2)
    writer = Writer(repo)
    started = time.monotonic()
    with pytest.raises(ConcurrentUpdateError) as info:
        policy.retrying(REF, "save session s1", lambda: writer.save(competitors=10**6))
    assert 0.2 <= time.monotonic() - started < 5 and writer.tries > 1
    assert str(info.value) == f"could not save session s1: other writers kept moving {REF} for 0s"


def test_other_failures_are_not_retried(repo: Path) -> None:
    writer = Writer(repo)

    def broken() -> str:
        writer.tries += 1
        return writer.git.run("update-ref", "--stdin", input=b"update refs/x nonsense\n").text

    with pytest.raises(GitCommandError) as info:
        retry(broken, QUICK, "gave up")
    assert writer.tries == 1 and not isinstance(info.value, ConcurrentUpdateError)


def test_a_lock_held_for_a_moment_is_waited_out(repo: Path) -> None:
    writer = Writer(repo)
    lock = writer.git.common_dir / f"{REF}.lock"
    lock.touch()  # another writer's, for two of our attempts

    def attempt() -> str:
        if writer.tries == 2:
            lock.unlink()
        return writer.save()

    moved = retry(attempt, QUICK, "gave up")
    assert writer.tries == 3 and writer.value() == moved == writer.commits[1]


def test_a_lock_left_by_a_crash_stops_at_once(repo: Path) -> None:
    writer = Writer(repo)
    lock = writer.git.common_dir / f"{REF}.lock"
    lock.touch()
    old = time.time() - 60
    os.utime(lock, (old, old))
    with pytest.raises(StaleLockError) as info:
        retry(writer.save, QUICK, "gave up")
    assert writer.tries == 1 and f"rm '{lock}'" in str(info.value)
    assert "gitprov recover" in str(info.value)


def test_any_lost_race_is_retried_not_only_gits(repo: Path) -> None:
    """A push that found the remote moved on is a lost race too (sync's rounds)."""
    tries: list[int] = []

    def push() -> int:
        tries.append(1)
        if len(tries) < 3:
            raise RemoteMovedError("origin moved on since the fetch")
        return len(tries)

    assert retry(push, Backoff(attempts=3, first=0.001), "gave up") == 3


@pytest.mark.parametrize("failures", [1, 3, 10])
def test_pauses_double_up_to_the_cap(failures: int) -> None:
    backoff = Backoff(first=0.01, cap=0.05)
    pauses = [backoff.pause(failures) for _ in range(200)]
    assert all(0 <= p <= min(0.05, 0.01 * 2**failures) for p in pauses)
    assert max(pauses) > min(0.05, 0.01 * 2**failures) / 2  # jittered over the whole range
