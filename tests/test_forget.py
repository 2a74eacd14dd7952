"""gitprov forget: a record purged from every clone and the remote, for good, with a tombstone
that travels; every other record, pin and note stays.

Three clones of a real bare remote: A forgets, B synced before and syncs again after, C still
holds the record and tries to bring it back (sync, push, and a plain git push through the
pre-push hook). After gc everywhere, what counts is the only check that counts: no object of
any repository holds the forgotten record's content or its snapshot's files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gitprov import GitSessionStore, SessionLog
from gitprov.errors import SessionForgottenError
from gitprov.git import Git
from gitprov.git.objects import PackedObjects
from gitprov.store.records import RecordStore, fanout, tombstone_path

from conftest import GIT_ENV, cli, every_object, git, make_repo

FORGOTTEN = "2026-01-02T10.00.00.000Z"
RECORD_MARKER = "FORGET-ME-RECORD-3b9e0c"
SNAPSHOT_MARKER = "FORGET-ME-SNAPSHOT-7d1c44"
KEPT_MARKER = "KEEP-ME-SNAPSHOT-51aa02"
REASON = "leaked a deploy token"


def gitprov(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("-C", str(repo), *args, process=args[0] == "run")


def ok(repo: Path, *args: str) -> str:
    proc = gitprov(repo, *args)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


def save(repo: Path, session_id: str, **data: object) -> None:
    GitSessionStore(path=str(repo / "sessions"), session_id=session_id).save(dict(data))


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

    # a plain git fetch takes the rewritten remote as it is; from then on C's stale copy is
    # neither listed nor shown, though C still holds it until its next sync
    git(c, "fetch", "-q")
    assert FORGOTTEN in git(c, "ls-tree", "-r", "--name-only", "refs/provenance/sessions")
    assert FORGOTTEN not in ok(c, "list", "--format", "ids")
    assert FORGOTTEN not in ok(c, "list", "--commit", head, "--format", "ids")
    assert f"session {FORGOTTEN} was forgotten on " in gitprov(c, "show", FORGOTTEN).stderr
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
        everything = every_object(repo)
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
    marker = b / "ran"  # refused before the command, not spooled after it
    proc = gitprov(b, "run", "--id", FORGOTTEN, "--replace", "--", "touch", str(marker))
    assert proc.returncode == 1 and not marker.exists()
    assert f"session {FORGOTTEN} was forgotten on " in proc.stderr
    assert not list((b / ".git").glob("gitprov/spool/*.yaml"))
    assert SessionLog(b).ids() == kept


def test_a_commit_another_record_pins_stays_until_its_last_record_goes(team: Team) -> None:
    a = team.clone("a")
    (a / "detached.txt").write_text("CODE-ONLY-THE-RUNS-PIN-9e41\n")
    git(a, "add", "detached.txt")
    git(a, "commit", "-qm", "a commit no branch keeps")
    code = git(a, "rev-parse", "HEAD").strip()
    git(a, "checkout", "-q", "--detach")
    git(a, "branch", "-q", "-f", "main", "HEAD~1")  # only the records keep `code` now
    save(a, "clean-1")
    save(a, "clean-2")  # both pin `code`: clean runs pin the commit they ran on
    git(a, "checkout", "-q", "main")
    ok(a, "forget", "clean-1", "--reason", "test")
    purge(a)
    assert git(a, "cat-file", "-t", code).strip() == "commit"  # clean-2's save pins it
    assert SessionLog(a).ids() == ["clean-2"]
    assert [entry["session_id"] for entry in SessionLog(a).for_commit(code)] == ["clean-2"]
    out = ok(a, "forget", "clean-2", "--reason", "test")
    assert code[:12] in out  # no save pins it any longer
    purge(a)
    assert b"CODE-ONLY-THE-RUNS-PIN-9e41" not in every_object(a)
    gone = subprocess.run(["git", "-C", str(a), "cat-file", "-e", code], capture_output=True)
    assert gone.returncode != 0
    assert SessionLog(a).ids() == []
    git(a, "fsck", "--strict", "--full", "--no-progress")


def test_forget_refuses_unknown_ids_says_already_and_needs_a_reason(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    save(b, "only-fetched")
    ok(b, "sync")
    git(a, "fetch", "-q")  # a knows it only from its tracking ref
    save(a, "local-1")
    before = git(a, "for-each-ref")
    unknown = gitprov(a, "forget", "local-1", "nope", "--reason", "typo")
    assert unknown.returncode == 1 and "no session nope is recorded" in unknown.stderr
    assert git(a, "for-each-ref") == before  # nothing forgotten, not even local-1
    assert gitprov(a, "forget", "local-1").returncode == 2  # --reason is required
    blank = gitprov(a, "forget", "local-1", "--reason", "  ")
    assert blank.returncode == 1 and "give the reason" in blank.stderr
    assert "forgot session only-fetched" in ok(a, "forget", "only-fetched", "--reason", "r1")
    assert "only-fetched" not in SessionLog(a).ids()  # the stale fetched copy is not read
    again = ok(a, "forget", "only-fetched", "--reason", "r2")
    assert again.startswith("session only-fetched was already forgotten on ") and ": r1" in again
    ok(a, "sync")
    assert SessionLog(team.remote).ids() == ["local-1"]
    ok(b, "sync")
    assert SessionLog(b).ids() == ["local-1"]
    refused = gitprov(b, "run", "--id", "only-fetched", "--", "true")
    assert "session only-fetched was forgotten on " in refused.stderr
    assert SessionLog(b).tombstone("only-fetched") is not None
    assert "only-fetched" not in SessionLog(b).ids()


def test_two_clones_forgetting_one_record_converge(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    save(a, "twice", note=RECORD_MARKER)
    save(a, "kept")
    ok(a, "sync")
    ok(b, "sync")
    ok(a, "forget", "twice", "--reason", "from a")
    ok(b, "forget", "twice", "--reason", "from b")
    for repo in (a, b, a, b):
        ok(repo, "sync")
    tips = {git(r, "rev-parse", "refs/provenance/sessions") for r in (a, b, team.remote)}
    assert len(tips) == 1  # one history, one tombstone (the same one everywhere)
    for repo in (a, b, team.remote):
        purge(repo)
        assert RECORD_MARKER.encode() not in every_object(repo)
        assert SessionLog(repo).ids() == ["kept"]
        git(repo, "fsck", "--strict", "--full", "--no-progress")


def plumb(repo: Path, *args: str, data: bytes = b"") -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    proc = subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode().strip()


def mktree(repo: Path, rows: dict[str, tuple[str, str]]) -> str:
    """A tree of ``rows`` (name -> (mode, id)), written by git's own ``mktree``."""
    lines = [
        f"{mode} {'tree' if mode == '040000' else 'blob'} {sha}\t{name}\0"
        for name, (mode, sha) in rows.items()
    ]
    return plumb(repo, "mktree", "-z", data="".join(lines).encode())


def test_a_remotes_tombstones_are_checked_and_the_valid_ones_applied(team: Team) -> None:
    a = team.clone("a")
    save(a, "doomed", note=RECORD_MARKER)
    save(a, "kept")
    ok(a, "sync")
    remote = team.remote

    def blob(data: bytes) -> str:
        return plumb(remote, "hash-object", "-w", "--stdin", data=data)

    def stone(session_id: str, extra: str = "") -> str:
        return blob(
            f"session_id: {session_id}\nforgotten_at: '2026-01-01T00:00:00.000Z'\n"
            f"by: someone\nreason: on the remote\n{extra}".encode()
        )

    folders: dict[str, dict[str, tuple[str, str]]] = {}
    for session_id, folder, data in (
        ("doomed", fanout("doomed"), stone("doomed")),
        ("chatty", fanout("chatty"), stone("chatty", "record: a copy of the content\n")),
        ("misplaced", "00" if fanout("misplaced") != "00" else "01", stone("misplaced")),
    ):
        folders.setdefault(folder, {})[f"{session_id}.yaml"] = ("100644", data)
    rows = {name: ("040000", mktree(remote, files)) for name, files in folders.items()}
    rows["zz"] = ("040000", mktree(remote, {"x.yaml": ("100644", stone("x"))}))
    root = {}
    for line in plumb(remote, "ls-tree", "refs/provenance/sessions").splitlines():
        meta, name = line.split("\t")
        mode, _, sha = meta.split()
        root[name] = (mode, sha)
    root["forgotten"] = ("040000", mktree(remote, rows))
    tip = plumb(remote, "rev-parse", "refs/provenance/sessions")
    commit = plumb(remote, "commit-tree", mktree(remote, root), "-p", tip, "-m", "tombstones")
    plumb(remote, "update-ref", "refs/provenance/sessions", commit)

    synced = gitprov(a, "sync")
    assert synced.returncode == 0, synced.stderr
    forgot = "forgot here what origin has tombstones for (this clone's history rewritten)"
    assert f"{forgot}: session doomed" in synced.stdout
    tracking = "refs/provenance/remotes/origin/sessions:forgotten"
    for named in (
        f"{tracking}/{fanout('chatty')}/chatty.yaml: the tombstone of session chatty is not a "
        "mapping of exactly session_id, forgotten_at, by, reason",
        f"{tracking}/{'00' if fanout('misplaced') != '00' else '01'}/misplaced.yaml: a record "
        f"that belongs in folder {fanout('misplaced')}/",
        f"{tracking}/zz: not a two-hex-digit folder",
    ):
        assert synced.stderr.count(named) == 1, (named, synced.stderr)
    assert SessionLog(a).ids() == ["kept"]
    assert SessionLog(a).tombstone("doomed") is not None
    held = git(a, "ls-tree", "-r", "--name-only", "refs/provenance/sessions", "forgotten")
    assert held.split() == [f"forgotten/{fanout('doomed')}/doomed.yaml"]
    # the remote added the tombstone, not the rewrite: its own history is purged too
    assert "rewrote origin's records history without the forgotten sessions it still held" in (
        synced.stdout
    )
    for repo in (a, remote):
        assert RECORD_MARKER.encode() not in reachable(repo, "refs/provenance/sessions")
        git(repo, "fsck", "--strict", "--full", "--no-progress")


def test_a_rewrite_is_one_pack_of_small_deltas_that_git_and_gitprov_read(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    store = RecordStore(Git.discover(repo))
    for n in range(300):
        store.save(f"s{n:03d}", f"session_id: s{n:03d}\nn: {n}\n".encode())
    git(repo, "gc", "-q")
    packs = set((repo / ".git" / "objects" / "pack").glob("*.idx"))
    done = SessionLog(repo).forget("s000", "test")  # one id: not its characters
    assert done.rewritten == 300
    (new,) = set((repo / ".git" / "objects" / "pack").glob("*.idx")) - packs
    assert not new.with_suffix(".keep").exists()  # released once the refs moved
    listing = git(repo, "verify-pack", "-v", str(new)).splitlines()
    rows = [line.split() for line in listing if line[:1].isalnum() and " " in line]
    objects_in_pack = [row for row in rows if row[1] in ("commit", "tree", "blob")]
    deltas = [row for row in objects_in_pack if len(row) == 7]
    assert len(objects_in_pack) >= 600 and len(deltas) >= 250  # the root trees
    assert max(int(row[5]) for row in deltas) <= 50  # chains no deeper than git's
    assert new.with_suffix(".pack").stat().st_size < 300 * 1000
    reader = PackedObjects(repo / ".git" / "objects", 20)
    shas = "".join(f"{row[0]}\n" for row in objects_in_pack)
    batch = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        input=shas.encode(),
        capture_output=True,
        check=True,
    ).stdout
    for row in objects_in_pack:
        found = reader.read(row[0])
        assert found is not None and found.type == row[1]
        assert (
            b"%s %s %d\n%s\n" % (row[0].encode(), row[1].encode(), len(found.data), found.data)
            in batch
        )
    reader.close()
    git(repo, "fsck", "--strict", "--full", "--no-progress")
    assert SessionLog(repo).ids() == [f"s{n:03d}" for n in range(1, 300)]


def test_a_forgotten_record_saved_back_by_a_clone_without_tombstones_is_purged(
    team: Team,
) -> None:
    a, b = team.clone("a"), team.clone("b")
    save(a, "back", note=RECORD_MARKER)
    save(a, "kept")
    ok(a, "sync")
    ok(b, "sync")
    record = plumb(a, "rev-parse", f"refs/provenance/sessions:{fanout('back')}/back.yaml")
    ok(a, "forget", "back", "--reason", "test")
    ok(a, "sync")
    ok(b, "sync")
    # a clone of an older gitprov, which knows no tombstones, merges its copy back in
    remote = team.remote
    root = {}
    for line in plumb(remote, "ls-tree", "refs/provenance/sessions").splitlines():
        meta, name = line.split("\t")
        mode, _, sha = meta.split()
        root[name] = (mode, sha)
    bucket = {}
    if fanout("back") in root:
        for line in plumb(remote, "ls-tree", root[fanout("back")][1]).splitlines():
            meta, name = line.split("\t")
            bucket[name] = (meta.split()[0], meta.split()[2])
    bucket["back.yaml"] = ("100644", record)
    root[fanout("back")] = ("040000", mktree(remote, bucket))
    tip = plumb(remote, "rev-parse", "refs/provenance/sessions")
    commit = plumb(remote, "commit-tree", mktree(remote, root), "-p", tip, "-m", "old client")
    plumb(remote, "update-ref", "refs/provenance/sessions", commit)
    assert f"{fanout('back')}/back.yaml" in plumb(remote, "ls-tree", "-r", "--name-only", commit)

    synced = ok(b, "sync")  # b holds the tombstone already: the remote's tip holds the record
    assert "rewrote origin's records history without the forgotten sessions" in synced
    for repo in (b, remote):
        assert RECORD_MARKER.encode() not in reachable(repo, "refs/provenance/sessions")
        git(repo, "fsck", "--strict", "--full", "--no-progress")
    assert SessionLog(remote).ids() == ["kept"]


def test_forget_names_the_conflict_copies_left_behind(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    save(a, "dup", owner="a")
    save(b, "dup", owner="b")
    ok(a, "sync")
    ok(b, "sync")
    (copy,) = [i for i in SessionLog(b).ids() if i.startswith("dup+")]
    out = ok(b, "forget", "dup", "--reason", "test")
    assert f"still recorded: {copy}, conflict copies of what was forgotten" in out
    assert "still recorded" not in ok(b, "forget", copy, "--reason", "test")
    assert SessionLog(b).ids() == []


def test_a_conflict_copy_keeps_its_snapshot_when_its_id_is_forgotten(team: Team) -> None:
    a, b = team.clone("a"), team.clone("b")
    (a / "only-in-a.py").write_text("A = 'SNAPSHOT-OF-A-7f3e'\n")
    save(a, FORGOTTEN, by="a")
    ok(a, "sync")
    (b / "only-in-b.py").write_text("B = 'SNAPSHOT-OF-B-c2d9'\n")
    save(b, FORGOTTEN, by="b")
    ok(b, "sync")  # B's version kept as a conflict copy
    ok(a, "sync")
    (copy,) = [i for i in SessionLog(a).ids() if i.startswith(f"{FORGOTTEN}+")]
    snapshot = SessionLog(a).get(copy)["git"]["snapshot"]
    # the copy holds one clone's version, the forgotten id the other's
    markers = {"only-in-a.py": b"SNAPSHOT-OF-A-7f3e", "only-in-b.py": b"SNAPSHOT-OF-B-c2d9"}
    (held,) = [name for name in markers if name in git(a, "ls-tree", "--name-only", snapshot)]
    kept, gone = markers.pop(held), next(iter(markers.values()))
    ok(a, "forget", FORGOTTEN, "--reason", REASON)
    for repo in (a, b, a, b):
        ok(repo, "sync")
    for repo in (a, b, team.remote):
        purge(repo)
    for repo in (a, b):
        assert copy in SessionLog(repo).ids()
        ok(repo, "verify")  # the copy's snapshot is still there
        git(repo, "cat-file", "-e", f"{snapshot}^{{tree}}")
        assert kept in every_object(repo)  # the copy's code
        assert gone not in every_object(repo)  # the forgotten record's
        git(repo, "fsck", "--strict", "--full", "--no-progress")
