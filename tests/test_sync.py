"""Teams: records of many clones meet on real bare remotes through fetch, push and sync."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gitprov import GitSessionStore, SessionLog, SessionNotFoundError
from gitprov.errors import SyncBusyError
from gitprov.git import Git
from gitprov.store.records import record_path
from gitprov.sync.lock import sync_lock
from gitprov.sync.merge import conflict_id

from conftest import cli, git, make_repo

CLI = [sys.executable, "-c", "from gitprov.cli import main; main()"]


def gitprov(*args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args)


def save(repo: Path, session_id: str, **data: object) -> None:
    GitSessionStore(path=str(repo / "sessions"), session_id=session_id).save(dict(data))


def ids(repo: Path) -> list[str]:
    return SessionLog(repo).ids()


def refs(repo: Path) -> str:
    """Every ref and its value: what "nothing changed locally" compares."""
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")


class Team:
    """A bare remote and the clones made of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        seed = make_repo(root / "seed", {"README.md": "hello\n", "src/app.py": "print(1)\n"})
        self.remote = root / "remote.git"
        git(root, "clone", "-q", "--bare", str(seed), str(self.remote))

    def clone(self, name: str, *args: str) -> Path:
        path = self.root / name
        git(self.root, "clone", "-q", *args, str(self.remote), str(path))
        return path

    def remote_ids(self) -> list[str]:
        return SessionLog(self.remote).ids()

    def fsck(self) -> None:
        git(self.remote, "fsck", "--strict", "--no-progress")


@pytest.fixture
def team(tmp_path: Path) -> Team:
    return Team(tmp_path)


def sync(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = gitprov("-C", str(repo), "sync", *args)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_two_clones_saving_and_syncing_in_turn_end_with_the_union(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    save(a, "a-1")
    first = sync(a)
    assert "0 records in, 1 record out" in first.stdout
    assert "pushed refs/provenance/sessions (new)" in first.stdout
    save(b, "b-1")
    save(b, "b-2")
    assert "1 record in, 2 records out" in sync(b).stdout
    save(a, "a-2")
    sync(a)
    sync(b)
    everything = ["a-1", "a-2", "b-1", "b-2"]
    assert ids(a) == ids(b) == team.remote_ids() == everything
    for ref in ("refs/provenance/sessions", "refs/notes/provenance"):
        assert (
            git(a, "rev-parse", ref)
            == git(b, "rev-parse", ref)
            == git(team.remote, "rev-parse", ref)
        )
    note = git(team.remote, "notes", "--ref", "provenance", "show", "main")
    assert [item["session_id"] for item in yaml.safe_load(note)] == everything
    assert "already has every local record" in sync(a).stdout
    team.fsck()


def test_a_plain_git_fetch_makes_teammates_sessions_readable(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    assert gitprov("-C", str(a), "init").returncode == 0  # configures the tracking refspecs
    save(a, "shared", owner="a")
    save(b, "shared", owner="b")
    save(b, "from-b")
    sync(b)
    git(a, "fetch", "-q")
    assert git(a, "for-each-ref", "--format=%(refname)", "refs/provenance").split() == [
        "refs/provenance/remotes/origin/sessions",
        "refs/provenance/sessions",
    ]
    log = SessionLog(a)
    assert log.ids() == ["from-b", "shared"]
    assert log.get("from-b")["session_id"] == "from-b"
    assert log.get("shared")["owner"] == "a"  # a local record wins over the fetched copy
    assert [r["session_id"] for r in log.for_commit("HEAD")] == ["from-b", "shared"]
    listed = gitprov("-C", str(a), "list", "--format", "ids")
    assert listed.stdout.split() == ["from-b", "shared"]
    shown = gitprov("-C", str(a), "show", "from")
    assert shown.returncode == 0 and "session_id: from-b" in shown.stdout
    # the Kedro way of reading history finds the fetched copy too, the local one first
    assert GitSessionStore(path=str(a), session_id="from-b").read()["session_id"] == "from-b"
    assert GitSessionStore(path=str(a), session_id="shared")["owner"] == "a"
    with pytest.raises(SessionNotFoundError, match="or its fetched copies"):
        GitSessionStore(path=str(a), session_id="nowhere").read()
    server = SessionLog(team.remote)  # a bare repository: a server-side audit
    assert server.git.worktree is None
    assert server.ids() == ["from-b", "shared"]
    assert server.get("shared")["owner"] == "b"
    assert [r["session_id"] for r in server.for_commit("main")] == ["from-b", "shared"]


def test_fetch_fills_the_tracking_refs_only(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    empty = gitprov("-C", str(a), "fetch")
    assert empty.returncode == 0, empty.stderr
    assert "refs/provenance/remotes/origin/sessions: origin has none yet" in empty.stdout
    save(b, "b-1")
    sync(b)
    save(a, "a-1")
    before = git(a, "rev-parse", "refs/provenance/sessions", "refs/notes/provenance")
    fetched = gitprov("-C", str(a), "fetch", "origin")
    assert fetched.returncode == 0, fetched.stderr
    assert "refs/provenance/remotes/origin/sessions: new" in fetched.stdout
    assert git(a, "rev-parse", "refs/provenance/sessions", "refs/notes/provenance") == before
    assert git(a, "rev-parse", "refs/provenance/remotes/origin/sessions") == git(
        team.remote, "rev-parse", "refs/provenance/sessions"
    )
    assert ids(a) == ["a-1", "b-1"]
    assert "up to date" in gitprov("-C", str(a), "fetch").stdout


def test_push_merges_when_the_remote_moved_then_pushes(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    nothing = gitprov("-C", str(a), "push")
    assert nothing.returncode == 0 and "already has every local record" in nothing.stdout
    save(a, "a-1")
    assert gitprov("-C", str(a), "push").returncode == 0
    assert team.remote_ids() == ["a-1"]
    save(b, "b-1")
    pushed = gitprov("-C", str(b), "push", "origin")
    assert pushed.returncode == 0, pushed.stderr
    assert "1 record in, 1 record out (2 attempts)" in pushed.stdout
    assert team.remote_ids() == ids(b) == ["a-1", "b-1"]
    team.fsck()


SYNC_AT_ONCE = 4
RECORDS_EACH = 5


def test_four_clones_syncing_at_the_same_moment_converge(team: Team) -> None:
    clones = [team.clone(f"c{n}") for n in range(SYNC_AT_ONCE)]
    everything = []
    for n, clone in enumerate(clones):
        for k in range(RECORDS_EACH):
            save(clone, f"c{n}-{k}")
            everything.append(f"c{n}-{k}")
    procs = [subprocess.Popen([*CLI, "-C", str(c), "sync"], stderr=subprocess.PIPE) for c in clones]
    assert [p.wait(timeout=120) for p in procs] == [0] * SYNC_AT_ONCE, [
        p.stderr.read() for p in procs if p.stderr
    ]
    for clone in clones:
        sync(clone)
    assert team.remote_ids() == sorted(everything)
    for clone in clones:
        assert ids(clone) == sorted(everything)
        assert git(clone, "rev-parse", "refs/provenance/sessions") == git(
            team.remote, "rev-parse", "refs/provenance/sessions"
        )
    note = git(team.remote, "notes", "--ref", "provenance", "show", "main")
    assert len(note.splitlines()) == len(everything)
    team.fsck()


def test_push_rejected_by_the_remote_leaves_local_records_intact(team: Team) -> None:
    a = team.clone("a")
    hook = team.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'provenance refs are closed today' >&2\nexit 1\n")
    hook.chmod(0o755)
    save(a, "a-1")
    before = refs(a)
    for command in ("push", "sync"):
        proc = gitprov("-C", str(a), command)
        assert proc.returncode == 1
        assert (
            "origin refused the provenance refs: [remote rejected] (pre-receive hook declined)"
            in proc.stderr
        )
        assert "provenance refs are closed today" in proc.stderr
        assert "Your local records are intact" in proc.stderr
        assert refs(a) == before
    assert ids(a) == ["a-1"]
    assert team.remote_ids() == []


def test_unreachable_remote_is_a_clear_error_and_changes_nothing(
    team: Team, tmp_path: Path
) -> None:
    a = team.clone("a")
    save(a, "a-1")
    git(a, "remote", "add", "gone", str(tmp_path / "no-such-remote.git"))
    before = refs(a)
    for args in (
        ["sync", "gone"],
        ["fetch", "gone"],
        ["push", "gone"],
        ["sync", str(tmp_path / "nope.git")],
    ):
        proc = gitprov("-C", str(a), *args)
        assert proc.returncode == 1, proc
        assert proc.stderr.startswith("gitprov: error: cannot reach remote ")
        assert "does not appear to be a git repository" in proc.stderr
        assert "nothing was changed locally" in proc.stderr
        assert refs(a) == before
    typo = gitprov("-C", str(a), "sync", "orign")
    assert typo.returncode == 1
    assert "no remote named 'orign' (configured: gone, origin)" in typo.stderr


def test_a_sync_killed_half_way_loses_nothing(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    saved: list[str] = []
    rng = random.Random(6)
    for round_ in range(6):
        save(b, f"b-{round_}")
        saved.append(f"b-{round_}")
        sync(b)
        save(a, f"a-{round_}")
        saved.append(f"a-{round_}")
        mine = set(ids(a))
        proc = subprocess.Popen([*CLI, "-C", str(a), "sync"], stdout=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert mine <= set(ids(a))  # whatever the moment, no local record is lost
    time.sleep(0.5)  # let git children of the last killed sync finish
    sync(a)
    sync(b)
    assert ids(a) == ids(b) == team.remote_ids() == sorted(saved)
    git(a, "fsck", "--strict", "--no-progress")
    team.fsck()


SAVER = """
import sys, gitprov
for n in range(int(sys.argv[2])):
    with gitprov.record(sys.argv[1], session_id=f"busy-{n:02d}"):
        pass
"""


def test_saves_during_a_sync_are_never_lost(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    for n in range(3):
        save(b, f"b-{n}")
    sync(b)
    saver = subprocess.Popen([sys.executable, "-c", SAVER, str(a), "12"])
    syncs = [gitprov("-C", str(a), "sync") for _ in range(3)]
    assert saver.wait(timeout=120) == 0
    assert all(proc.returncode == 0 for proc in syncs), [p.stderr for p in syncs]
    sync(a)
    expected = sorted([f"b-{n}" for n in range(3)] + [f"busy-{n:02d}" for n in range(12)])
    assert ids(a) == team.remote_ids() == expected
    assert len(git(a, "notes", "--ref", "provenance", "show", "HEAD").splitlines()) == 15


def test_same_id_with_different_content_keeps_both(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    save(a, "dup", owner="a")
    save(b, "dup", owner="b")
    sync(a)
    blob_a = git(a, "rev-parse", f"refs/provenance/sessions:{record_path('dup')}").strip()
    out = sync(b).stdout
    copy = conflict_id("dup", "origin", blob_a)
    assert copy == f"dup+origin-{blob_a[:8]}"
    assert (
        f"conflict: session dup differs here and on origin; both kept: dup (this clone's) "
        f"and {copy} (origin's)"
    ) in out
    sync(a)
    for repo in (a, b, team.remote):
        log = SessionLog(repo)
        assert log.ids() == ["dup", copy]
        assert {log.get("dup")["owner"], log.get(copy)["owner"]} == {"a", "b"}
    assert "conflict" not in sync(b).stdout  # reported once, never copied twice
    team.fsck()


def test_a_resave_on_one_side_is_an_update_not_a_conflict(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    save(a, "s-1", status="first")
    sync(a)
    sync(b)
    save(a, "s-1", status="second")
    sync(a)
    save(b, "b-1")
    out = sync(b).stdout
    assert "conflict" not in out
    assert ids(b) == ["b-1", "s-1"]
    assert SessionLog(b).get("s-1")["status"] == "second"


def test_notes_in_any_fanout_merge_line_wise(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    save(a, "a-1")
    sync(a)
    # git itself writes small notes trees flat (no fanout): merged by commit all the same
    git(b, "notes", "--ref", "provenance", "add", "-m", "- {session_id: manual}", "HEAD")
    assert gitprov("-C", str(b), "push").returncode == 0
    sync(a)
    assert git(a, "notes", "--ref", "provenance", "show", "HEAD").splitlines() == [
        "- {session_id: a-1, branch: main, dirty: false, status: success}",
        "- {session_id: manual}",
    ]
    assert len(git(a, "notes", "--ref", "provenance", "list").splitlines()) == 1


def test_a_shallow_clone_says_what_is_missing(team: Team) -> None:
    a = team.clone("a")
    for n in range(2):
        (a / f"f{n}.txt").write_text(str(n))
        git(a, "add", ".")
        git(a, "commit", "-qm", f"more {n}")
    git(a, "push", "-q", "origin", "main")
    save(a, "a-1")
    old = git(a, "rev-parse", "HEAD~2").strip()
    git(a, "notes", "--ref", "provenance", "add", "-m", "- {session_id: by-hand}", old)
    sync(a)
    shallow = team.clone("shallow", "--depth", "1", "--no-local")
    assert git(shallow, "rev-parse", "--is-shallow-repository").strip() == "true"
    out = sync(shallow).stdout
    assert f"shallow clone: 1 of the 2 commits sessions ran on are not in it ({old[:12]})" in out
    save(shallow, "s-1")
    sync(shallow)
    assert team.remote_ids() == ["a-1", "s-1"]
    team.fsck()
    other = team.root / "other.git"
    git(team.root, "init", "-q", "--bare", str(other))
    proc = gitprov("-C", str(shallow), "push", str(other))
    assert proc.returncode == 1
    assert "this clone is shallow" in proc.stderr and "git fetch --unshallow" in proc.stderr


def test_default_remote_is_the_upstream_then_origin(team: Team) -> None:
    a = team.clone("a", "--origin", "team")
    save(a, "a-1")
    out = sync(a).stdout
    assert out.startswith("team: ")
    assert team.remote_ids() == ["a-1"]
    git(a, "branch", "--unset-upstream")
    proc = gitprov("-C", str(a), "sync")
    assert proc.returncode == 1 and "no remote named 'origin'" in proc.stderr


def test_urls_and_relative_paths_work_as_remotes(team: Team) -> None:
    a = team.clone("a")
    save(a, "a-1")
    url = team.remote.as_uri()
    out = sync(a, url).stdout
    assert out.startswith(f"{url}: ")
    save(a, "a-2")
    sync(a, "../remote.git")  # relative to -C, as git -C would take it
    assert team.remote_ids() == ["a-1", "a-2"]
    assert gitprov("-C", str(a), "fetch", url).returncode == 0
    tracked = git(a, "for-each-ref", "--format=%(refname)", "refs/provenance/remotes")
    assert len(tracked.split()) == 2 and all("/url-" in r for r in tracked.split())


def test_a_rewritten_remote_is_mirrored_and_local_records_stay(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    save(a, "a-1")
    sync(a)
    sync(b)
    main = git(team.remote, "rev-parse", "main").strip()
    git(team.remote, "update-ref", "refs/provenance/sessions", main)
    proc = gitprov("-C", str(b), "fetch")
    assert proc.returncode == 0, proc.stderr  # a tracking ref mirrors the remote
    assert git(b, "rev-parse", "refs/provenance/remotes/origin/sessions").strip() == main
    assert ids(b) == ["a-1"]  # the local ref moves only by gitprov's compare-and-swap
    pulled = subprocess.run(["git", "-C", str(b), "fetch"], capture_output=True, text=True)
    assert pulled.returncode == 0, pulled.stderr


def test_concurrent_syncs_of_one_repository_are_serialised(team: Team) -> None:
    a = team.clone("a")
    save(a, "a-1")
    with sync_lock(Git.discover(a)):
        proc = gitprov("-C", str(a), "sync", "--lock-timeout", "0.3")
    assert proc.returncode == 1
    lock = Git.discover(a).common_dir / "gitprov-sync.lock"
    assert (
        f"another gitprov sync, fetch or push is running in this repository (it holds {lock})"
        in proc.stderr
    )
    assert team.remote_ids() == []
    sync(a)  # the lock went with its holder
    assert team.remote_ids() == ["a-1"]
    with pytest.raises(SyncBusyError), sync_lock(Git.discover(a)), sync_lock(Git.discover(a), 0.1):
        pass


def test_conflict_ids_stay_valid_session_ids() -> None:
    long = "x" * 128
    blob = "0123456789abcdef" * 3
    copy = conflict_id(long, "https://example.com/team/repo.git", blob)
    assert len(copy) == 128 and copy.endswith("+https-example-com-team-repo-git-01234567")
    assert conflict_id("2026-11-24T10.30.45.123Z", "origin", blob) == (
        "2026-11-24T10.30.45.123Z+origin-01234567"
    )
