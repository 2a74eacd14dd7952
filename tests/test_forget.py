"""gitprov forget: a record purged from every clone and the remote, for good, with a tombstone
that travels; every other record, pin and note stays.

Three clones of a real bare remote: A forgets, B synced before and syncs again after, C still
holds the record and tries to bring it back (sync, push, and a plain git push through the
pre-push hook). After gc everywhere, what counts is the only check that counts: no object of
any repository holds the forgotten record's content or its snapshot's files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitprov import GitSessionStore, SessionLog
from gitprov.errors import SessionForgottenError
from gitprov.runner import Git
from gitprov.storage import RecordStore, tombstone_path

from conftest import git, make_repo

CLI = [sys.executable, "-c", "from gitprov.cli import main; main()"]
FORGOTTEN = "2026-01-02T10.00.00.000Z"
RECORD_MARKER = "FORGET-ME-RECORD-3b9e0c"
SNAPSHOT_MARKER = "FORGET-ME-SNAPSHOT-7d1c44"
KEPT_MARKER = "KEEP-ME-SNAPSHOT-51aa02"
REASON = "leaked a deploy token"


def gitprov(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "-C", str(repo), *args], capture_output=True, text=True, timeout=300
    )


def ok(repo: Path, *args: str) -> str:
    proc = gitprov(repo, *args)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


def save(repo: Path, session_id: str, **data: object) -> None:
    GitSessionStore(path=str(repo / "sessions"), session_id=session_id).save(dict(data))


def objects(repo: Path) -> bytes:
    """Every object the repository holds, reachable or not, as ``cat-file --batch`` prints."""
    return subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True,
        check=True,
    ).stdout


def reachable(repo: Path, *refs: str) -> bytes:
    """Every object ``refs`` reach (default: every ref and reflog)."""
    listed = git(repo, "rev-list", "--objects", *(refs or ("--all", "--reflog")))
    ids = "".join(line.split()[0] + "\n" for line in listed.splitlines())
    return subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        input=ids.encode(),
        capture_output=True,
        check=True,
    ).stdout


def purge(repo: Path) -> None:
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")


class Team:
    """A bare remote and the clones made of it, each set up with ``gitprov init --hooks``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        seed = make_repo(root / "seed", {"README.md": "hello\n", "src/app.py": "print(1)\n"})
        self.remote = root / "remote.git"
        git(root, "clone", "-q", "--bare", str(seed), str(self.remote))

    def clone(self, name: str) -> Path:
        path = self.root / name
        git(self.root, "clone", "-q", str(self.remote), str(path))
        ok(path, "init", "--hooks")
        return path


@pytest.fixture
def team(tmp_path: Path) -> Team:
    return Team(tmp_path)


def test_forget_purges_a_record_from_every_clone_and_the_remote(team: Team) -> None:
    a, b, c = team.clone("a"), team.clone("b"), team.clone("c")
    head = git(a, "rev-parse", "HEAD").strip()  # where every session runs
    save(a, "keep-a1", owner="a")
    (a / "scratch").mkdir()
    (a / "scratch" / "todo.txt").write_text(f"{SNAPSHOT_MARKER}\n")
    save(a, FORGOTTEN, owner="a", note=RECORD_MARKER)
    snapshot = SessionLog(a).get(FORGOTTEN)["git"]["snapshot"]
    assert snapshot
    (a / "scratch" / "todo.txt").unlink()
    (a / "scratch" / "keep.txt").write_text(f"{KEPT_MARKER}\n")
    save(a, "keep-dirty", owner="a")  # a dirty record whose snapshot must stay
    kept_snapshot = SessionLog(a).get("keep-dirty")["git"]["snapshot"]
    (a / "scratch" / "keep.txt").unlink()
    save(a, "keep-a2", owner="a")
    ok(a, "sync")
    save(b, "keep-b1", owner="b")
    ok(b, "sync")
    ok(c, "sync")
    save(b, "keep-b2", owner="b")  # not pushed before the forget
    save(c, "keep-c1", owner="c")
    assert FORGOTTEN in SessionLog(b).ids() and FORGOTTEN in SessionLog(c).ids()
    user_reflog = git(a, "reflog", "show", "main")

    out = ok(a, "forget", FORGOTTEN, "--reason", REASON)
    assert f"forgot session {FORGOTTEN}" in out and snapshot[:12] in out
    assert git(a, "reflog", "show", "main") == user_reflog  # the user's refs untouched
    history = reachable(a, "refs/provenance/sessions", "refs/notes/provenance")
    assert RECORD_MARKER.encode() not in history  # gone from A's own history at once
    assert SNAPSHOT_MARKER.encode() not in history
    assert FORGOTTEN not in git(a, "notes", "--ref", "provenance", "show", head)
    assert "rewrote " in ok(a, "sync")  # the one forced push, with a lease
    assert FORGOTTEN not in SessionLog(team.remote).ids()

    # C still holds the record: a plain git push through the pre-push hook cannot bring it
    # back (the hook's non-forced push is refused), nor can `gitprov push` or `sync`
    (c / "work.txt").write_text("work\n")
    git(c, "add", "work.txt")
    git(c, "commit", "-qm", "work")
    pushed = subprocess.run(
        ["git", "-C", str(c), "push", "origin", "main"], capture_output=True, text=True
    )
    assert pushed.returncode == 0, pushed.stderr
    assert "provenance records were not pushed" in pushed.stderr
    assert git(team.remote, "rev-parse", "main") == git(c, "rev-parse", "main")
    assert FORGOTTEN not in SessionLog(team.remote).ids()
    c2 = team.root / "c2"
    shutil.copytree(c, c2, symlinks=True)
    assert f"session {FORGOTTEN}" in ok(c2, "push")
    assert FORGOTTEN not in SessionLog(team.remote).ids()
    assert FORGOTTEN not in SessionLog(c2).ids()
    assert "forgot here what origin has tombstones for" in ok(c, "sync")
    assert FORGOTTEN not in SessionLog(team.remote).ids()
    ok(b, "sync")
    for repo in (a, b, c, c2):  # everyone ends with everything
        ok(repo, "sync")
    for repo in (a, b, c, c2):
        assert RECORD_MARKER.encode() not in reachable(repo), repo

    kept = ["keep-a1", "keep-a2", "keep-b1", "keep-b2", "keep-c1", "keep-dirty"]
    for repo in (a, b, c, c2, team.remote):
        purge(repo)
        everything = objects(repo)
        assert RECORD_MARKER.encode() not in everything, repo
        assert SNAPSHOT_MARKER.encode() not in everything, repo
        assert KEPT_MARKER.encode() in everything, repo
        git(repo, "fsck", "--strict", "--full", "--no-progress")
        log = SessionLog(repo)
        assert log.ids() == kept, repo
        assert [log.get(i)["owner"] for i in kept] == ["a", "a", "b", "b", "c", "a"]
        assert git(repo, "show", f"{kept_snapshot}:scratch/keep.txt") == f"{KEPT_MARKER}\n"
        with pytest.raises(SessionForgottenError, match=f"on .*: {REASON}"):
            log.get(FORGOTTEN)
        note = git(repo, "notes", "--ref", "provenance", "show", head)
        assert FORGOTTEN not in note
        listed = {item["session_id"] for item in yaml.safe_load(note)}
        assert {"keep-a1", "keep-a2", "keep-b1", "keep-dirty"} <= listed
        tombstone = yaml.safe_load(
            git(repo, "show", f"refs/provenance/sessions:{tombstone_path(FORGOTTEN)}")
        )
        assert sorted(tombstone) == ["by", "forgotten_at", "reason", "session_id"]
        assert tombstone["session_id"] == FORGOTTEN and tombstone["reason"] == REASON
    for repo in (a, b, c, c2):
        shown = gitprov(repo, "show", FORGOTTEN)
        assert shown.returncode == 1
        assert f"session {FORGOTTEN} was forgotten on " in shown.stderr
        assert f": {REASON}" in shown.stderr and RECORD_MARKER not in shown.stderr
    # a forgotten id cannot be recorded again
    with pytest.raises(SessionForgottenError):
        RecordStore(Git.discover(b)).save(FORGOTTEN, f"session_id: {FORGOTTEN}\n".encode())
    assert SessionLog(b).ids() == kept
