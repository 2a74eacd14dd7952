"""Stress: concurrent writers beside git's own maintenance, and writers killed with SIGKILL.

Whatever runs beside gitprov (``git repack -ad``, ``git maintenance``, ``git gc``, other
writers, a ``kill -9``), no record that a save acknowledged is lost, ``git fsck --strict
--full`` stays clean and ``git gc`` keeps working. Bounded in time: the loops stop by
themselves.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitprov import SessionLog

from conftest import git, make_repo

pytestmark = pytest.mark.slow

#: One writer: N saves, each acknowledged on stdout once ``record()`` has returned.
WRITER = """
import sys, gitprov
name, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    with gitprov.record(".", session_id=f"{name}-{i}") as rec:
        pass
    if rec.session.spooled is None:
        print(rec.session_id, flush=True)
"""

#: Beside the writers: what ``git maintenance`` and a user's own clean-up run.
MAINTENANCE = (
    ("repack", "-adq"),
    ("maintenance", "run", "--task=incremental-repack"),
    ("maintenance", "run", "--task=loose-objects"),
    ("maintenance", "run", "--task=gc"),
    ("gc", "-q", "--auto"),
)


def _git_ok(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc


def _healthy(repo: Path) -> None:
    _git_ok(repo, "fsck", "--strict", "--full", "--no-progress")
    _git_ok(repo, "gc", "-q")
    _git_ok(repo, "fsck", "--strict", "--full", "--no-progress")


def _writer(repo: Path, name: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, name, str(count)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a kill reaches its git children too
    )


def test_writers_beside_repack_and_maintenance_lose_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {f"f{i}.txt": f"{i}\n" for i in range(20)})
    (repo / "untracked.txt").write_text("a dirty tree: every save makes a snapshot\n")
    writers = [_writer(repo, f"w{n}", 12) for n in range(8)]
    rounds = 0
    deadline = time.monotonic() + 90
    while any(w.poll() is None for w in writers) and time.monotonic() < deadline:
        for args in MAINTENANCE:
            _git_ok(repo, *args)
            rounds += 1
    outputs = [w.communicate(timeout=60) for w in writers]
    for w, (_, err) in zip(writers, outputs, strict=True):
        assert w.returncode == 0, err
    acknowledged = {line for out, _ in outputs for line in out.split()}
    assert len(acknowledged) == 8 * 12  # nothing spooled: every save went through
    assert rounds >= len(MAINTENANCE)  # maintenance really ran beside the writers
    _healthy(repo)
    log = SessionLog(repo)
    assert set(log.ids()) == acknowledged
    for record in log.records():  # every record, and the snapshot it pins, read back
        assert record["git"]["snapshot"] is not None
        _git_ok(repo, "cat-file", "-e", f"{record['git']['snapshot']}^{{tree}}")


def test_saves_and_syncs_killed_at_random_lose_no_acknowledged_record(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = make_repo(tmp_path / "repo")
    git(repo, "remote", "add", "origin", str(remote))
    rng = random.Random(1234)
    acknowledged: set[str] = set()
    # six rounds, and more (up to 20) while a busy machine let no save finish before the kills
    for round_ in range(20):
        if round_ >= 6 and acknowledged:
            break
        procs = [_writer(repo, f"r{round_}w{n}", 20) for n in range(3)]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "gitprov", "sync"],
                cwd=repo,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        )
        time.sleep(rng.uniform(0.3, 1.2))
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in procs[:-1]:
            out, _ = proc.communicate(timeout=30)
            acknowledged.update(out.split())
        procs[-1].communicate(timeout=30)
    assert acknowledged  # the kills did not all land before the first save

    # A killed `update-ref` may leave its ref lock behind; gitprov names it, and the fix
    # it prints (remove it, then `gitprov recover`) brings back what was spooled meanwhile.
    for lock in (repo / ".git" / "refs").rglob("*.lock"):
        lock.unlink()
    recover = subprocess.run(
        [sys.executable, "-m", "gitprov", "recover"], cwd=repo, capture_output=True, text=True
    )
    assert recover.returncode == 0, recover.stderr
    final = subprocess.run(
        [sys.executable, "-m", "gitprov", "sync"], cwd=repo, capture_output=True, text=True
    )
    assert final.returncode == 0, final.stderr
    _healthy(repo)
    _git_ok(remote, "fsck", "--strict", "--full", "--no-progress")
    ids = set(SessionLog(repo).ids())
    assert acknowledged <= ids
    assert list(SessionLog(repo).records(sorted(ids)))  # each one parses
    assert set(SessionLog(remote).ids()) >= acknowledged
    # the next save removes the .keep of every save that was killed holding one
    last = subprocess.run([sys.executable, "-m", "gitprov", "run", "--", "true"], cwd=repo)
    assert last.returncode == 0
    keeps = (repo / ".git" / "objects" / "pack").glob("*.keep")
    assert [k for k in keeps if k.read_text().startswith("gitprov ")] == []
