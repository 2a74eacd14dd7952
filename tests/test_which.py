"""``gitprov which`` and ``SessionLog.which``: which recorded run wrote (or read) these bytes.

Records are saved through the one save path (:class:`gitprov.session.Session`) with
``run.inputs``/``run.outputs`` put in by hand; digests are computed here with hashlib, as
``sha256sum`` prints them. Teams are a real bare remote and clones of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gitprov import SessionLog
from gitprov.session import Session
from gitprov.store import spool
from gitprov.store.forget import _layout
from gitprov.store.records import DIGESTS_DIR, RecordStore, fanout, index_path
from test_hostile_remote import Tree, blob, commit, mktree, names, plumb, read_tree

from conftest import cli, git, make_repo

RECORDS = "refs/provenance/sessions"
TRACKING = "refs/provenance/remotes/origin/sessions"


def sha256(path: Path) -> str:
    """``sha256:`` and what ``sha256sum`` prints of a file."""
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def item(name: str, path: Path, digest: str | None = None) -> dict[str, Any]:
    return {
        "dataset": name,
        "type": "text.TextDataset",
        "path": path.name,
        "version": None,
        "digest": digest or sha256(path),
        "size": path.stat().st_size,
    }


def save(
    repo: Path,
    session_id: str,
    started: str = "2026-05-01T10:00:00.000Z",
    outputs: list[dict[str, Any]] | None = None,
    inputs: list[dict[str, Any]] | None = None,
) -> None:
    """Save ``session_id``'s record (again, when it has one) with these datasets."""
    run = {
        "status": "success",
        "started_at": started,
        "finished_at": started,
        "duration_s": 0.0,
        "error": None,
        "inputs": inputs or [],
        "outputs": outputs or [],
    }
    session = Session(repo, session_id, replace=True)
    session.save({"run": run})
    assert session.recorded


def which(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("-C", str(repo), "which", *args)


def rows(out: str) -> list[list[str]]:
    """The table's rows under its headings."""
    lines = out.splitlines()
    assert lines[0].split() == ["SESSION", "ROLE", "DATASET", "COMMIT", "TREE", "STATUS"]
    return [line.split() for line in lines[1:]]


def fsck(repo: Path) -> None:
    assert git(repo, "fsck", "--strict", "--no-dangling", "--no-progress").strip() == ""


@pytest.fixture
def out(repo: Path) -> Path:
    path = repo / "model.txt"
    path.write_text("weights 1\n")
    return path


def test_an_output_is_found_by_path_and_by_digest(repo: Path, out: Path) -> None:
    save(repo, "s1", outputs=[item("model", out)])
    head = git(repo, "rev-parse", "HEAD").strip()
    by_path = which(repo, "model.txt")  # relative to -C, as git -C takes paths
    assert by_path.returncode == 0, by_path.stderr
    assert rows(by_path.stdout) == [["s1", "output", "model", head[:12], "dirty", "success"]]
    by_digest = which(repo, sha256(out), "--format", "json")
    assert by_digest.returncode == 0
    (found,) = json.loads(by_digest.stdout)
    assert found == {
        "session_id": "s1",
        "role": "output",
        "dataset": "model",
        "path": "model.txt",
        "digest": sha256(out),
        "commit": head,
        "dirty": True,  # model.txt is untracked
        "status": "success",
        "started_at": "2026-05-01T10:00:00.000Z",
        "source": RECORDS,
    }
    hex_digest = sha256(out).removeprefix("sha256:")
    entry = f"{DIGESTS_DIR}/{index_path(hex_digest, 's1')}"
    assert entry == f"digests/{hex_digest[:2]}/{hex_digest}/{fanout('s1')}/s1"
    assert git(repo, "cat-file", "-s", f"{RECORDS}:{entry}").strip() == "0"  # the empty file
    assert git(repo, "log", "--format=%s", RECORDS).splitlines()[0] == "gitprov: save session s1"
    log = SessionLog(repo)
    assert log.ids() == ["s1"] and log.skipped == []  # the index is not a record
    fsck(repo)


def test_a_modified_file_matches_nothing_and_a_copy_still_does(
    repo: Path, out: Path, tmp_path: Path
) -> None:
    save(repo, "s1", outputs=[item("model", out)])
    elsewhere = tmp_path / "elsewhere" / "copy.bin"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(out.read_bytes())
    copied = which(repo, str(elsewhere))
    assert copied.returncode == 0 and rows(copied.stdout)[0][:2] == ["s1", "output"]
    out.write_text("weights 2\n")
    changed = which(repo, "model.txt")
    assert changed.returncode == 1
    assert changed.stdout == ""
    assert changed.stderr == (
        f"gitprov: no recorded run wrote or read these bytes ({sha256(out)})\n"
    )
    assert SessionLog(repo).which(out) == []


def test_an_input_is_listed_as_one(repo: Path, out: Path) -> None:
    raw = repo / "raw.csv"
    raw.write_text("a,b\n1,2\n")
    save(repo, "s1", inputs=[item("raw", raw)], outputs=[item("model", out)])
    (found,) = SessionLog(repo).which(raw)
    assert (found.session_id, found.role, found.dataset) == ("s1", "input", "raw")
    assert rows(which(repo, "raw.csv").stdout)[0][:3] == ["s1", "input", "raw"]


def test_a_folder_is_found_by_its_digest(repo: Path) -> None:
    folder = repo / "parts"
    (folder / "b").mkdir(parents=True)
    (folder / "a.csv").write_text("1\n")
    (folder / "b" / "c.csv").write_text("2\n")
    listing = "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(folder).as_posix()}\n"
        for p in sorted(folder.rglob("*.csv"))
    )
    digest = "sha256:" + hashlib.sha256(listing.encode()).hexdigest()
    save(repo, "s1", outputs=[{**item("parts", folder / "a.csv", digest), "path": "parts"}])
    assert [m.dataset for m in SessionLog(repo).which(folder)] == ["parts"]


def test_sessions_writing_the_same_bytes_are_listed_newest_first(repo: Path, out: Path) -> None:
    save(repo, "b-later", started="2026-05-02T10:00:00.000Z", outputs=[item("model", out)])
    save(repo, "a-earlier", started="2026-05-01T10:00:00.000Z", outputs=[item("model", out)])
    save(repo, "c-other", outputs=[item("other", repo / "README.md")])
    assert [r[0] for r in rows(which(repo, "model.txt").stdout)] == ["b-later", "a-earlier"]


def test_a_resave_with_other_outputs_no_longer_lists_the_old_digest(repo: Path, out: Path) -> None:
    old = sha256(out)
    save(repo, "s1", outputs=[item("model", out)])
    out.write_text("weights 2\n")
    save(repo, "s1", outputs=[item("model", out)])
    assert which(repo, old).returncode == 1  # its index entry stays, the record says no
    assert [m.session_id for m in SessionLog(repo).which(out)] == ["s1"]
    hex_digest = old.removeprefix("sha256:")
    assert f"digests/{index_path(hex_digest, 's1')}" in names(repo, RECORDS)


def test_which_reads_no_listing_of_the_records(repo: Path, out: Path, tmp_path: Path) -> None:
    """One digest's trees, then the matching records: no ``ls-tree``, a few processes."""
    for n in range(5):
        other = repo / f"other-{n}.txt"
        other.write_text(f"other {n}\n")
        save(repo, f"x{n}", outputs=[item("other", other)])
    save(repo, "s1", outputs=[item("model", out)])
    real = shutil.which("git")
    assert real is not None
    shim, log = tmp_path / "shim", tmp_path / "git.log"
    shim.mkdir()
    (shim / "git").write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    (shim / "git").chmod(0o755)
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-m", "gitprov", "-C", str(repo), "which", sha256(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and rows(proc.stdout)[0][0] == "s1", proc.stderr
    calls = log.read_text().splitlines()
    assert not [c for c in calls if " ls-tree " in c or " for-each-ref " in c], calls
    assert sum(" cat-file " in c for c in calls) <= 1 and len(calls) <= 3, calls


def test_a_save_refuses_a_malformed_digest_and_writes_nothing(repo: Path) -> None:
    store = RecordStore(git_of(repo))
    with pytest.raises(ValueError, match="'md5:abc' is not a sha256:<64 hex> digest"):
        store.save("s1", b"session_id: s1\n", digests=["md5:abc"])
    assert git(repo, "for-each-ref", RECORDS) == ""


def test_a_missing_path_is_a_usage_error_and_a_bad_digest_an_error(repo: Path) -> None:
    missing = which(repo, "nowhere.txt")
    assert missing.returncode == 2
    assert "nowhere.txt: no such file or folder" in missing.stderr
    bad = which(repo, "sha256:XYZ")
    assert bad.returncode == 1
    assert "'sha256:XYZ' is not a digest" in bad.stderr


def test_what_cannot_be_digested_is_a_usage_error_not_a_traceback(repo: Path) -> None:
    (repo / "broken").symlink_to(repo / "nowhere")
    os.mkfifo(repo / "pipe")
    for name in ("broken", "pipe"):
        proc = which(repo, name)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and name in proc.stderr


def test_a_recovered_record_is_indexed_too(repo: Path, out: Path) -> None:
    store = RecordStore(git_of(repo))
    data = (
        b"session_id: spooled\nrun:\n  status: success\n  outputs:\n"
        b"  - {dataset: model, path: model.txt, digest: '" + sha256(out).encode() + b"'}\n"
    )
    entry = spool.Spooled("spooled", store.ref, None, data, "the disk was full")
    spool.keep(store.git, store.rules, entry)
    assert which(repo, "model.txt").returncode == 1
    assert cli("-C", str(repo), "recover").returncode == 0
    assert [m.session_id for m in SessionLog(repo).which(out)] == ["spooled"]


def git_of(repo: Path) -> Any:
    from gitprov.git import Git

    return Git.discover(repo)


# -- teams -------------------------------------------------------------------------------


class Team:
    """A bare remote, a teammate's clone that saved ``mate-1`` writing ``model.txt``, and
    this clone (``gitprov init``: plain ``git fetch`` fills the tracking copy)."""

    def __init__(self, root: Path) -> None:
        seed = make_repo(root / "seed", {"README.md": "hello\n"})
        self.root = root
        self.remote = root / "remote.git"
        git(root, "clone", "-q", "--bare", str(seed), str(self.remote))
        self.mate = self.clone("mate")
        self.out = self.mate / "model.txt"
        self.out.write_text("the mate's model\n")
        save(self.mate, "mate-1", outputs=[item("model", self.out)])
        assert cli("-C", str(self.mate), "sync").returncode == 0
        self.me = self.clone("me")
        assert cli("-C", str(self.me), "init").returncode == 0

    def clone(self, name: str) -> Path:
        git(self.root, "clone", "-q", str(self.remote), str(self.root / name))
        return self.root / name


@pytest.fixture
def team(tmp_path: Path) -> Team:
    return Team(tmp_path)


def test_a_teammates_record_is_found_once_fetched(team: Team) -> None:
    digest = sha256(team.out)
    assert which(team.me, digest).returncode == 1
    git(team.me, "fetch", "-q")  # a plain git fetch: the tracking copy
    (found,) = SessionLog(team.me).which(digest)
    assert (found.session_id, found.source) == ("mate-1", TRACKING)
    assert cli("-C", str(team.me), "fetch").returncode == 0
    assert rows(which(team.me, digest).stdout)[0][:3] == ["mate-1", "output", "model"]


def test_a_teammates_record_is_found_after_sync_and_on_a_bare_clone(team: Team) -> None:
    digest = sha256(team.out)
    first = team.me / "first.txt"
    first.write_text("my first model\n")
    save(team.me, "me-0", outputs=[item("model", first)])  # so that sync merges
    assert cli("-C", str(team.me), "sync").returncode == 0
    git(team.me, "update-ref", "-d", TRACKING)  # only the local ref is left to answer
    assert [m.session_id for m in SessionLog(team.me).which(first)] == ["me-0"]
    (found,) = SessionLog(team.me).which(digest)
    assert (found.session_id, found.source) == ("mate-1", RECORDS)
    mine = team.me / "mine.txt"
    mine.write_text("my model\n")
    later = "2026-05-02T10:00:00.000Z"
    inputs = [item("theirs", team.out)]
    save(team.me, "me-1", started=later, outputs=[item("model", mine)], inputs=inputs)
    assert cli("-C", str(team.me), "sync").returncode == 0
    server = team.root / "server.git"
    git(team.root, "clone", "-q", "--mirror", str(team.remote), str(server))
    for bare in (team.remote, server):
        assert [(m.session_id, m.role) for m in SessionLog(bare).which(team.out)] == [
            ("me-1", "input"),
            ("mate-1", "output"),
        ]
        shown = which(bare, sha256(mine))
        assert shown.returncode == 0 and rows(shown.stdout)[0][:2] == ["me-1", "output"]
        fsck(bare)
    assert not (server / "gitprov").exists()  # no digest cache written on a server
    fsck(team.me)


def test_a_conflict_copy_is_found_under_its_own_id(team: Team) -> None:
    """The same id saved with other outputs here and on the remote: sync keeps both, and
    each output names the record that lists it."""
    theirs = team.mate / "shared.txt"
    theirs.write_text("the mate's version\n")
    save(team.mate, "shared", outputs=[item("model", theirs)])
    assert cli("-C", str(team.mate), "sync").returncode == 0
    mine = team.me / "shared.txt"
    mine.write_text("my version\n")
    save(team.me, "shared", outputs=[item("model", mine)])
    synced = cli("-C", str(team.me), "sync")
    assert "conflict: session shared differs" in synced.stdout, synced.stdout
    git(team.me, "update-ref", "-d", TRACKING)
    log = SessionLog(team.me)
    assert [m.session_id for m in log.which(mine)] == ["shared"]
    (copy,) = log.which(theirs)
    assert copy.session_id.startswith("shared+origin-") and copy.role == "output"
    assert log.get(copy.session_id)["conflict_of"] == "shared"
    fsck(team.me)


def test_a_forgotten_session_is_not_listed_and_forget_keeps_the_index(
    repo: Path, out: Path
) -> None:
    for n in range(3):
        save(repo, f"s{n}", started=f"2026-05-0{n + 1}T10:00:00.000Z", outputs=[item("m", out)])

    def indexed_per_save() -> dict[str, bool]:
        log = git(repo, "log", "--first-parent", "--format=%H %s", RECORDS).splitlines()
        return {
            subject: bool(git(repo, "ls-tree", sha, DIGESTS_DIR).strip())
            for sha, _, subject in (line.partition(" ") for line in log)
        }

    before = indexed_per_save()
    root = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "tree", f"{RECORDS}^{{tree}}"],
        capture_output=True,
        check=True,
    ).stdout
    assert b"40000 digests\0" in root
    assert _layout(20).fullmatch(root)  # the rewrite edits such a root as bytes
    forgotten = cli("-C", str(repo), "forget", "s1", "--reason", "leaked a secret")
    assert forgotten.returncode == 0, forgotten.stderr
    assert [m.session_id for m in SessionLog(repo).which(out)] == ["s2", "s0"]
    after = indexed_per_save()
    assert after.pop("gitprov: forget session s1") is True
    assert after == before  # every rewritten commit kept its digests/ (s1's entry too)
    listed = names(repo, RECORDS)
    assert f"{fanout('s1')}/s1.yaml" not in listed
    assert any(p.endswith(f"/{fanout('s1')}/s1") for p in listed)  # harmless: an id only
    fsck(repo)


def deep(tree: Tree, extra: Tree) -> Tree:
    """``tree`` with the entries of ``extra``, folders merged at every depth."""
    out = dict(tree)
    for name, value in extra.items():
        old = out.get(name)
        out[name] = deep(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def test_a_hostile_remotes_index_is_left_out_of_sync_and_skipped_by_readers(
    team: Team,
) -> None:
    """Junk in the remote's digests/ is named once, never merged nor pushed on, and the
    readers of a fetched copy skip it; a well-formed entry pointing at a record that does
    not list the digest, or at no record, lists nothing."""
    remote = team.remote
    digest = sha256(team.out)
    hex_digest = digest.removeprefix("sha256:")
    aa = hex_digest[:2]
    empty = blob(remote, b"")
    other = "0" * 64 if aa != "00" else "1" * 64
    wrong = "00" if fanout("ghost") != "00" else "01"
    not_hex = aa + "g" * 62
    junk: Tree = {
        "zz": {"x": ("100644", empty)},
        aa: {
            hex_digest: {
                fanout("liar"): {"liar": ("100644", blob(remote, b"not empty\n"))},
                fanout("ghost"): {"ghost": ("100644", empty)},  # well formed, no record
                wrong: {"ghost": ("100644", empty)},
                "sub": {"x": ("100644", empty)},
            },
            not_hex: {"00": {"x": ("100644", empty)}},
        },
        # the mate's record indexed under a digest it does not list
        other[:2]: {other: {fanout("mate-1"): {"mate-1": ("100644", empty)}}},
    }
    tree = read_tree(remote, RECORDS)
    tree[DIGESTS_DIR] = deep(read_tree(remote, f"{RECORDS}:{DIGESTS_DIR}"), junk)
    tip = plumb(remote, "rev-parse", RECORDS)
    plumb(remote, "update-ref", RECORDS, commit(remote, mktree(remote, tree), tip))
    plumb(remote, "fsck", "--strict", "--full", "--no-progress")  # git finds it clean

    git(team.me, "fetch", "-q")
    log = SessionLog(team.me)
    assert [m.session_id for m in log.which(digest)] == ["mate-1"]
    base = f"{TRACKING}:{DIGESTS_DIR}/{aa}/{hex_digest}"
    assert sorted(str(s) for s in log.skipped) == sorted(
        [
            f"{base}/{fanout('liar')}/liar: not the empty file",
            f"{base}/{wrong}/ghost: an entry that belongs in folder {fanout('ghost')}/",
            f"{base}/sub: not a two-hex-digit folder",
        ]
    )
    assert SessionLog(team.me).which("sha256:" + other) == []  # mate-1 does not list it

    synced = cli("-C", str(team.me), "sync")
    assert synced.returncode == 0, synced.stderr
    index = f"{TRACKING}:{DIGESTS_DIR}"
    for line in (
        f"{index}/zz: not a two-hex-digit folder",
        f"{base}/{fanout('liar')}/liar: not the empty file",
        f"{base}/{wrong}/ghost: an entry that belongs in folder {fanout('ghost')}/",
        f"{base}/sub: not a two-hex-digit folder",
        f"{index}/{aa}/{not_hex}: not a sha256 digest (64 hex digits) starting with {aa}",
    ):
        assert synced.stderr.count(f"gitprov: warning: left out {line}\n") == 1, line
    assert synced.stderr.count("left out") == 5
    for repo in (team.me, remote):  # what was pushed back holds none of it either
        held = [p for p in names(repo, RECORDS) if p.startswith(f"{DIGESTS_DIR}/")]
        assert not [p for p in held if p.endswith(("/zz", "/liar", "/sub", not_hex))]
        assert f"{DIGESTS_DIR}/{aa}/{hex_digest}/{wrong}/ghost" not in held
        assert f"{DIGESTS_DIR}/{index_path(hex_digest, 'mate-1')}" in held
        assert f"{DIGESTS_DIR}/{index_path(hex_digest, 'ghost')}" in held  # harmless
    again = cli("-C", str(team.me), "sync")
    assert again.returncode == 0 and "left out" not in again.stderr  # named once
    git(team.me, "update-ref", "-d", TRACKING)
    assert [m.session_id for m in SessionLog(team.me).which(digest)] == ["mate-1"]
    assert SessionLog(team.me).which("sha256:" + other) == []
    fsck(team.me)


def test_a_remote_index_that_is_a_file_is_left_out(team: Team) -> None:
    remote = team.remote
    tree = read_tree(remote, RECORDS)
    tree[DIGESTS_DIR] = ("100644", blob(remote, b"no index\n"))
    tip = plumb(remote, "rev-parse", RECORDS)
    plumb(remote, "update-ref", RECORDS, commit(remote, mktree(remote, tree), tip))
    mine = team.me / "mine.txt"
    mine.write_text("my model\n")
    save(team.me, "me-1", outputs=[item("model", mine)])
    assert cli("-C", str(team.me), "fetch").returncode == 0
    log = SessionLog(team.me)
    assert log.ids() == ["mate-1", "me-1"]
    assert [str(s) for s in log.skipped] == [f"{TRACKING}:{DIGESTS_DIR}: a file, not a folder"]
    synced = cli("-C", str(team.me), "sync")
    assert synced.returncode == 0, synced.stderr
    assert f"{TRACKING}:{DIGESTS_DIR}: a file, not a folder" in synced.stderr
    assert [m.session_id for m in SessionLog(team.me).which(mine)] == ["me-1"]
    git(team.me, "update-ref", "-d", TRACKING)
    assert SessionLog(team.me).which(team.out) == []  # mate-1 was never indexed here
