"""Exact code of every run: snapshots, pinning, checkout, diff, verify, dirty policy."""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from gitprov import DirtyWorkTreeError, GitProvError, GitSessionStore, SessionLog
from gitprov.errors import UnpushedCommitError
from gitprov.git import Git
from gitprov.state.snapshot import scratch_index

from conftest import cli, git, make_repo, remove_object


def save(repo: Path, session_id: str, **options: object) -> dict[str, object]:
    GitSessionStore(path=str(repo / "sessions"), session_id=session_id, **options).save()
    return SessionLog(repo).get(session_id)


def tree_of(root: Path) -> dict[str, tuple[str, bytes, bool]]:
    """Every file below ``root`` (not .git): kind, content (or link target), executable."""
    found: dict[str, tuple[str, bytes, bool]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                found[rel] = ("link", os.readlink(full).encode(), False)
            else:
                executable = bool(full.stat().st_mode & stat.S_IXUSR)
                found[rel] = ("file", full.read_bytes(), executable)
    return found


@pytest.fixture
def dirty(repo: Path) -> Path:
    """A work tree with every kind of uncommitted change, and an ignored file."""
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    (repo / "gone.txt").write_text("to be deleted\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "more files")
    (repo / "README.md").write_text("modified\n")
    (repo / "gone.txt").unlink()
    (repo / "staged.txt").write_text("staged only\n")
    git(repo, "add", "staged.txt")
    (repo / "tool.sh").chmod(0o755)
    (repo / "data.bin").write_bytes(bytes(range(256)) * 10)
    (repo / "with space ü.txt").write_text("unicode\n")
    (repo / "new\nline.txt").write_text("newline in name\n")
    os.symlink("README.md", repo / "link-to-readme")
    (repo / "debug.log").write_text("ignored\n")
    return repo


def test_checkout_of_a_dirty_run_is_byte_for_byte(dirty: Path, tmp_path: Path) -> None:
    index_before = (dirty / ".git" / "index").read_bytes()
    record = save(dirty, "dirty-1")
    assert (dirty / ".git" / "index").read_bytes() == index_before
    git_section = record["git"]
    assert isinstance(git_section, dict)
    snapshot = git_section["snapshot"]
    assert git(dirty, "rev-parse", f"{snapshot}^").strip() == git_section["commit"]
    out = tmp_path / "restored"
    proc = cli("-C", str(dirty), "checkout", "dirty-1", str(out), text=False)
    assert proc.returncode == 0, proc.stderr
    expected = tree_of(dirty)
    del expected["debug.log"]
    assert tree_of(out) == expected
    assert not (out / "debug.log").exists()
    assert git(dirty, "status", "--porcelain") != ""  # the user's tree is as it was


def test_clean_run_pins_head_and_has_no_snapshot(repo: Path, tmp_path: Path) -> None:
    record = save(repo, "clean-1")
    git_section = record["git"]
    assert isinstance(git_section, dict)
    assert git_section["snapshot"] is None
    assert git_section["policy"] == {"dirty": "allow", "require_pushed": False, "outcome": "clean"}
    parents = git(repo, "rev-list", "--parents", "-n1", "refs/provenance/sessions").split()
    assert parents[2:] == [git_section["commit"]]
    out = tmp_path / "out"
    assert cli("-C", str(repo), "checkout", "clean-1", str(out), text=False).returncode == 0
    assert (out / "src" / "app.py").read_text() == "print(1)\n"
    assert cli("-C", str(repo), "diff", "clean-1", text=False).stdout == b""


def test_run_survives_branch_deletion_and_gc(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "-b", "experiment")
    (repo / "exp.py").write_text("experiment\n")
    git(repo, "add", "exp.py")
    git(repo, "commit", "-qm", "experiment")
    clean = save(repo, "on-branch")["git"]
    (repo / "exp.py").write_text("experiment, edited\n")
    dirty_section = save(repo, "dirty-on-branch")["git"]
    assert isinstance(clean, dict) and isinstance(dirty_section, dict)
    git(repo, "checkout", "-q", "-f", "main")
    git(repo, "branch", "-D", "experiment")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    for sha in (clean["commit"], dirty_section["snapshot"]):
        assert subprocess.run(["git", "-C", str(repo), "cat-file", "-e", str(sha)]).returncode == 0
    out = tmp_path / "out"
    assert cli("-C", str(repo), "checkout", "dirty-on-branch", str(out), text=False).returncode == 0
    assert (out / "exp.py").read_text() == "experiment, edited\n"
    verified = cli("-C", str(repo), "verify", text=False)
    assert verified.returncode == 0, verified.stdout
    assert b"ok: 2 record(s) verified" in verified.stdout


def test_diff_is_a_git_patch(dirty: Path, tmp_path: Path) -> None:
    save(dirty, "d1")
    patch = cli("-C", str(dirty), "diff", "d1", text=False).stdout
    assert b"diff --git a/README.md b/README.md" in patch
    assert b"+modified" in patch
    assert b"deleted file mode 100644" in patch
    assert b"old mode 100644\nnew mode 100755" in patch
    assert b"GIT binary patch" in patch
    # applying the patch to the commit gives the snapshot's tree
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(dirty), str(clone))
    (clone / "run.patch").write_bytes(patch)
    git(clone, "apply", "--index", "run.patch")
    (clone / "run.patch").unlink()
    snapshot = SessionLog(dirty).get("d1")["git"]["snapshot"]
    assert (
        git(clone, "write-tree").strip() == git(dirty, "rev-parse", f"{snapshot}^{{tree}}").strip()
    )


def test_large_untracked_file_is_skipped_and_named(repo: Path, tmp_path: Path) -> None:
    big = repo / "dump.bin"
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    (repo / "small.txt").write_text("kept\n")
    section = save(repo, "big-1")["git"]
    assert isinstance(section, dict)
    assert section["snapshot_skipped"] == [
        {
            "path": "dump.bin",
            "size": 50 * 1024 * 1024,
            "reason": "untracked file over the 10485760-byte snapshot limit",
        }
    ]
    files = git(repo, "ls-tree", "-r", "--name-only", str(section["snapshot"])).split()
    assert "small.txt" in files and "dump.bin" not in files
    # checkout says what it could not restore; a relative folder is taken from -C
    proc = cli("-C", str(repo), "checkout", "big-1", "../restored", text=False)
    assert proc.returncode == 0, proc.stderr
    assert b"not restored: dump.bin (left out of the snapshot: untracked file over" in proc.stdout
    assert (tmp_path / "restored" / "small.txt").read_text() == "kept\n"


def test_scratch_index_outside_an_unwritable_git_dir(repo: Path, tmp_path: Path) -> None:
    g = Git.discover(repo)
    readonly = dataclasses.replace(g, git_dir=tmp_path / "no-such-git-dir")  # mkstemp fails
    with scratch_index(readonly, seed=False) as env:
        index = Path(env["GIT_INDEX_FILE"])
        assert index.parent == Path(tempfile.gettempdir())
        subprocess.run(
            ["git", "-C", str(repo), "read-tree", "HEAD"], env={**os.environ, **env}, check=True
        )
        assert index.exists()
    assert not index.exists()


def test_snapshot_with_untracked_folded_into_folders(repo: Path) -> None:
    (repo / "newdir").mkdir()
    (repo / "newdir" / "a.py").write_text("a\n")
    section = save(repo, "folded", untracked="normal")["git"]
    assert isinstance(section, dict)
    assert section["changes"] == [{"path": "newdir/", "status": "untracked"}]
    files = git(repo, "ls-tree", "-r", "--name-only", str(section["snapshot"])).split()
    assert "newdir/a.py" in files


def test_nested_repository_without_commits_is_skipped_not_fatal(repo: Path) -> None:
    git(repo, "init", "-q", "scratch")  # no commit: git cannot add it as a gitlink
    (repo / "scratch" / "s.txt").write_text("s\n")
    (repo / "new.py").write_text("new\n")
    section = save(repo, "nested")["git"]
    assert isinstance(section, dict) and section["snapshot"]
    skipped = section["snapshot_skipped"]
    assert isinstance(skipped, list) and [s["path"] for s in skipped] == ["scratch"]
    assert "is a directory" in skipped[0]["reason"]
    files = git(repo, "ls-tree", "-r", "--name-only", str(section["snapshot"])).split()
    assert "new.py" in files and not any(f.startswith("scratch") for f in files)


def test_a_snapshot_git_cannot_build_still_saves_the_record(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a required clean filter that fails: git status never runs it on an untracked file,
    # but adding the file to the snapshot's index does
    git(repo, "config", "filter.broken.clean", "false")
    git(repo, "config", "filter.broken.required", "true")
    (repo / ".git" / "info" / "attributes").write_text("*.dat filter=broken\n")
    (repo / "new.dat").write_text("data\n")
    with caplog.at_level(logging.WARNING, logger="gitprov"):
        record = save(repo, "no-snap")
    section = record["git"]
    assert isinstance(section, dict) and section["dirty"] is True
    assert section["snapshot"] is None and "clean filter" in str(section["snapshot_error"])
    assert "no snapshot of session no-snap" in caplog.text
    head = git(repo, "rev-parse", "HEAD").strip()
    tip = git(repo, "rev-list", "--parents", "-n1", "refs/provenance/sessions").split()
    assert head in tip[2:]  # the commit that ran is still pinned


def test_submodule_sha_recorded_and_checkout_says_so(repo: Path, tmp_path: Path) -> None:
    lib = make_repo(tmp_path / "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
    git(repo, "commit", "-qm", "add submodule")
    (lib / "more.txt").write_text("more\n")
    git(lib, "add", "more.txt")
    git(lib, "commit", "-qm", "more")
    git(repo / "lib", "pull", "-q", "origin", "main")
    moved = git(repo / "lib", "rev-parse", "HEAD").strip()
    section = save(repo, "sub-1")["git"]
    assert isinstance(section, dict)
    assert {"path": "lib", "status": "submodule"} in section["changes"]
    listed = git(repo, "ls-tree", str(section["snapshot"]), "lib").split()
    assert listed[:3] == ["160000", "commit", moved]
    out = tmp_path / "out"
    proc = cli("-C", str(repo), "checkout", "sub-1", str(out), text=False)
    assert proc.returncode == 0, proc.stderr
    assert f"not restored: submodule lib at {moved}".encode() in proc.stdout


def test_checkout_refuses_non_empty_or_unwritable_dir(repo: Path, tmp_path: Path) -> None:
    save(repo, "c1")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine\n")
    proc = cli("-C", str(repo), "checkout", "c1", str(full), text=False)
    assert proc.returncode == 1 and b"is not empty" in proc.stderr
    assert (full / "keep.txt").read_text() == "mine\n" and len(list(full.iterdir())) == 1
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    proc = cli("-C", str(repo), "checkout", "c1", str(blocker / "sub"), text=False)
    assert proc.returncode == 1 and b"cannot create" in proc.stderr
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        proc = cli("-C", str(repo), "checkout", "c1", str(locked), text=False)
        assert proc.returncode == 1 and b"not writable" in proc.stderr


def test_unknown_id(repo: Path, tmp_path: Path) -> None:
    for args in (("checkout", "nope", str(tmp_path / "x")), ("diff", "nope"), ("verify", "nope")):
        proc = cli("-C", str(repo), *args, text=False)
        assert proc.returncode == 1
        assert proc.stderr.startswith(b"gitprov: error: no session nope")
    assert not (tmp_path / "x").exists()


def test_verify_names_a_missing_snapshot(dirty: Path) -> None:
    save(dirty, "fine")
    snapshot = str(save(dirty, "broken")["git"]["snapshot"])
    remove_object(dirty, snapshot)
    proc = cli("-C", str(dirty), "verify", text=False)
    assert proc.returncode == 1
    lines = proc.stdout.decode().splitlines()
    assert lines == [f"broken: snapshot {snapshot} is missing from the repository"]
    assert cli("-C", str(dirty), "verify", "fine", text=False).returncode == 0


def test_verify_finds_missing_file_in_snapshot(repo: Path) -> None:
    (repo / "only-in-snapshot.txt").write_text("unique content 12345\n")
    snapshot = str(save(repo, "s")["git"]["snapshot"])
    blob = git(repo, "rev-parse", f"{snapshot}:only-in-snapshot.txt").strip()
    loose = repo / ".git" / "objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    loose.unlink()
    proc = cli("-C", str(repo), "verify", "s", text=False)
    assert proc.returncode == 1
    assert f"file only-in-snapshot.txt ({blob[:12]}) is missing".encode() in proc.stdout


def test_dirty_policy_refuse_at_construction(repo: Path) -> None:
    (repo / "README.md").write_text("edited\n")
    with pytest.raises(DirtyWorkTreeError, match=r"README\.md \(modified\)"):
        GitSessionStore(path=str(repo), session_id="r1", dirty="refuse")
    assert SessionLog(repo).ids() == []
    git(repo, "checkout", "-q", "README.md")
    assert save(repo, "r2", dirty="refuse")["git"]["policy"]["outcome"] == "clean"


def test_dirty_policy_warn(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    (repo / "new.py").write_text("x\n")
    with caplog.at_level(logging.WARNING, logger="gitprov"):
        record = save(repo, "w1", dirty="warn")
    assert "new.py (untracked)" in caplog.text
    assert record["git"]["policy"] == {
        "dirty": "warn",
        "require_pushed": False,
        "outcome": "dirty-warned",
    }


def test_bad_policy_value(repo: Path) -> None:
    with pytest.raises(GitProvError, match="not a dirty policy"):
        GitSessionStore(path=str(repo), session_id="x", dirty="sometimes")


def test_require_pushed(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    record = save(clone, "pushed", require_pushed=True)
    assert record["git"]["policy"]["require_pushed"] is True
    (clone / "local.txt").write_text("l")
    git(clone, "add", "local.txt")
    git(clone, "commit", "-qm", "local only")
    with pytest.raises(UnpushedCommitError, match="on no remote-tracking branch"):
        GitSessionStore(path=str(clone), session_id="unpushed", require_pushed=True)
