"""Integrity: no save corrupts the repository, loses a record, or records the wrong code.

Real git, real repositories; each test reproduces a failure users met (issue 11).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import gitprov
from gitprov import SessionLog
from gitprov.errors import RepositoryCorruptError, SessionExistsError
from gitprov.store.records import fanout

from conftest import cli, git, make_repo, remove_object
from kedro_project import kedro_run, make_kedro_project


def fsck(repo: Path) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), "fsck", "--strict", "--full", "--no-progress"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def pack_dir(repo: Path) -> Path:
    return repo / ".git" / "objects" / "pack"


# -- point 2: an unreadable tree is never taken as empty --------------------------------


def _bucket_of(repo: Path, session_id: str) -> str:
    line = git(repo, "ls-tree", "refs/provenance/sessions", fanout(session_id))
    return line.split()[2]


def test_a_missing_bucket_tree_stops_the_save_and_keeps_the_record(repo: Path) -> None:
    # two ids in one bucket: losing the bucket must not lose the other record
    ids = [f"run-{i}" for i in range(5000)]
    first = ids[0]
    second = next(i for i in ids[1:] if fanout(i) == fanout(first))
    gitprov.record(repo, session_id=first).__enter__().__exit__(None, None, None)
    tip = git(repo, "rev-parse", "refs/provenance/sessions").strip()
    bucket = _bucket_of(repo, first)
    remove_object(repo, bucket)

    with pytest.raises(RepositoryCorruptError, match=bucket):  # before the run, if it can
        gitprov.record(repo, session_id=second)
    with gitprov.record(repo, session_id=second, replace=True) as rec:  # found at the save
        pass
    assert rec.session.spooled is not None  # kept, not written over a hole
    assert git(repo, "rev-parse", "refs/provenance/sessions").strip() == tip  # ref untouched
    proc = cli("-C", str(repo), "verify")
    assert proc.returncode == 1  # never "ok" over a hole
    assert bucket in proc.stdout + proc.stderr


def test_a_corrupt_root_tree_names_the_object(repo: Path) -> None:
    gitprov.record(repo, session_id="a").__enter__().__exit__(None, None, None)
    root = git(repo, "rev-parse", "refs/provenance/sessions^{tree}").strip()
    tip = git(repo, "rev-parse", "refs/provenance/sessions").strip()
    remove_object(repo, root)
    marker = repo.parent / "ran"
    proc = cli("-C", str(repo), "run", "--", "touch", str(marker), process=True)
    assert proc.returncode == 1 and not marker.exists()  # refused before the command
    assert root in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert git(repo, "rev-parse", "refs/provenance/sessions").strip() == tip


# -- point 4: shared repositories, fsync, garbage, leftovers --------------------------


def test_modes_under_shared_repository_match_gits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shared")
    git(repo, "config", "core.sharedRepository", "group")
    script = (
        "import os, subprocess, gitprov;"
        "os.umask(0o077);"
        "subprocess.run(['git', 'hash-object', '-w', '--stdin'], input=b'by git', check=True,"
        " capture_output=True);"
        "gitprov.record('.', session_id='one').__enter__().__exit__(None, None, None);"
        "from gitprov.sync.lock import sync_lock; from gitprov.git import Git;"
        "sync_lock(Git.discover('.')).__enter__()"
    )
    objects = repo / ".git" / "objects"
    before = set(objects.rglob("*"))
    subprocess.run([sys.executable, "-c", script], cwd=repo, check=True)
    modes = {
        p.relative_to(objects).as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in set(objects.rglob("*")) - before
        if "info" not in p.parts
    }
    dirs = {name: mode for name, mode in modes.items() if (objects / name).is_dir()}
    files = {name: mode for name, mode in modes.items() if (objects / name).is_file()}
    # git itself, under umask 077 with core.sharedRepository=group, makes folders 2770 and
    # objects 0440 (checked in this very repository: its blob's folder and file)
    assert set(dirs.values()) == {0o2770}, dirs
    assert set(files.values()) == {0o440}, files
    assert any(name.startswith("pack/") for name in files)  # gitprov's own pack among them
    for lock in ("gitprov-write.lock", "gitprov-sync.lock"):  # a teammate can take them too
        assert stat.S_IMODE((repo / ".git" / lock).stat().st_mode) == 0o660
    fsck(repo)


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
@pytest.mark.parametrize(
    ("setting", "pack_synced"),
    [(None, True), ("none", False), ("-pack-metadata", True)],
)
def test_packs_are_fsynced_as_git_would(
    tmp_path: Path, setting: str | None, pack_synced: bool
) -> None:
    repo = make_repo(tmp_path / "r")
    if setting is not None:
        git(repo, "config", "core.fsync", setting)
    trace = tmp_path / "trace"
    script = (
        "import gitprov; gitprov.record('.', session_id='s').__enter__().__exit__(None,None,None)"
    )
    subprocess.run(
        [
            "strace",
            "-f",
            "-y",
            "-e",
            "trace=fsync,fdatasync",
            "-o",
            str(trace),
            sys.executable,
            "-c",
            script,
        ],
        cwd=repo,
        check=True,
        capture_output=True,
    )
    synced = trace.read_text()
    # the pack and its index are flushed as temporary files, before the rename
    assert ("/pack/tmp_pack_" in synced) == pack_synced, synced
    if setting == "-pack-metadata":
        assert "/pack/tmp_idx_" not in synced
    elif setting is None:
        assert "/pack/tmp_idx_" in synced  # git's default hardens pack metadata too
    assert "spool" not in synced  # nothing was spooled


@pytest.mark.slow
def test_competing_writers_leave_no_garbage(repo: Path) -> None:
    writers, each = 8, 4
    script = (
        "import sys, gitprov\n"
        "for i in range(int(sys.argv[2])):\n"
        "    with gitprov.record('.', session_id=f'w{sys.argv[1]}-{i}'):\n"
        "        pass\n"
    )
    loose_before = git(repo, "count-objects", "-v").splitlines()[0]  # the user's commit
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(w), str(each)], cwd=repo)
        for w in range(writers)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert len(SessionLog(repo).ids()) == writers * each
    packs = sorted(pack_dir(repo).glob("pack-*"))
    assert not [p for p in packs if p.suffix == ".keep"]  # every .keep released
    # one pack per save, nothing from lost races: the writers queued on the write lock
    assert len([p for p in packs if p.suffix == ".pack"]) == writers * each
    assert git(repo, "count-objects", "-v").splitlines()[0] == loose_before
    fsck(repo)


def test_leftovers_of_a_killed_save_are_cleaned_by_the_next(repo: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    index = repo / ".git" / f"gitprov-index-{dead.pid}-abc"
    index.write_bytes(b"DIRC")
    (repo / ".git" / f"gitprov-index-{os.getpid()}-live").write_bytes(b"DIRC")
    gitprov.record(repo, session_id="a").__enter__().__exit__(None, None, None)
    (keep,) = pack_dir(repo).glob("*.pack")
    stale_keep = keep.with_suffix(".keep")
    stale_keep.write_text(f"gitprov {dead.pid} on {os.uname().nodename}\n")
    foreign_keep = pack_dir(repo) / "pack-0000.keep"
    foreign_keep.write_text("receive-pack 1 on elsewhere\n")
    (repo / "dirty.txt").write_text("a dirty tree, so the save makes a snapshot\n")
    gitprov.record(repo, session_id="b").__enter__().__exit__(None, None, None)
    assert not index.exists()
    assert (repo / ".git" / f"gitprov-index-{os.getpid()}-live").exists()  # ours: alive
    assert not stale_keep.exists()
    assert foreign_keep.exists()  # git's own, or the user's: never removed
    assert SessionLog(repo).ids() == ["a", "b"]


# -- point 6: a record that cannot be written is kept ---------------------------------


def test_a_stale_ref_lock_is_reported_at_once_and_the_record_kept(repo: Path) -> None:
    lock = repo / ".git" / "refs" / "provenance" / "sessions.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    old = time.time() - 60
    os.utime(lock, (old, old))
    started = time.monotonic()
    proc = cli("-C", str(repo), "run", "--id", "nightly", "--", "true", process=True)
    assert time.monotonic() - started < 20  # not the 60 s retry budget
    assert proc.returncode == 0, proc.stderr  # the command succeeded: so does the run
    assert str(lock) in proc.stderr and f"rm '{lock}'" in proc.stderr
    assert "gitprov recover" in proc.stderr
    assert SessionLog(repo).ids() == []
    listing = cli("-C", str(repo), "list")
    assert "1 record(s) are spooled" in listing.stderr
    assert cli("-C", str(repo), "verify").returncode == 1

    lock.unlink()
    recovered = cli("-C", str(repo), "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert "recovered session nightly" in recovered.stdout
    record = SessionLog(repo).get("nightly")
    assert record["run"]["status"] == "success"
    assert record["git"]["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert "nightly" in git(repo, "notes", "--ref", "provenance", "show", "HEAD")
    assert cli("-C", str(repo), "recover").stdout.startswith("nothing is spooled")
    fsck(repo)


def test_the_next_save_writes_spooled_records(repo: Path) -> None:
    lock = repo / ".git" / "refs" / "provenance" / "sessions.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    os.utime(lock, (time.time() - 60,) * 2)
    with gitprov.record(repo, session_id="first") as rec:
        pass
    assert rec.session.spooled is not None and rec.session.spooled.is_file()
    lock.unlink()
    with gitprov.record(repo, session_id="second"):
        pass
    assert SessionLog(repo).ids() == ["first", "second"]
    assert not rec.session.spooled.exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs (a real full disk), where mounting is allowed (root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_keeps_the_run_status_and_the_record(small_disk: Path) -> None:
    repo = make_repo(small_disk / "repo")
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # the disk is full
    finally:
        os.close(fd)
    proc = cli(
        "-C", str(repo), "run", "--", sys.executable, "-c", "raise SystemExit(3)", process=True
    )
    assert proc.returncode == 3, proc.stderr  # the command's own status
    assert "Traceback" not in proc.stderr
    assert "spool" in proc.stderr  # kept outside the full disk, and said where
    packs = {p.stem for p in pack_dir(repo).glob("*.pack")}
    assert packs == {p.stem for p in pack_dir(repo).glob("*.idx")}  # no pack without index
    # no room for the spool either: the record is printed whole, and said to be lost
    cache = small_disk / "cache"
    proc = cli(
        "-C", str(repo), "run", "--id", "lost", "--", "true",
        env={"XDG_CACHE_HOME": str(cache), "COLUMNS": "1000"}, process=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "session lost was NOT recorded" in proc.stderr
    assert "recorded session lost" not in proc.stderr
    assert "session_id: lost" in proc.stderr  # the record itself, to be saved by hand
    filler.unlink()
    assert cli("-C", str(repo), "recover").returncode == 0
    (session_id,) = SessionLog(repo).ids()
    assert SessionLog(repo).get(session_id)["run"]["exit_code"] == 3
    fsck(repo)


# -- point 8 and 9: ids, and failing before the command --------------------------------


def test_an_existing_id_is_refused_before_the_command(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    assert (
        cli("-C", str(repo), "run", "--id", "nightly", "--", "false", process=True).returncode == 1
    )
    proc = cli("-C", str(repo), "run", "--id", "nightly", "--", "touch", str(marker), process=True)
    assert proc.returncode == 1 and not marker.exists()
    assert "nightly already has a record" in proc.stderr and "--replace" in proc.stderr
    assert SessionLog(repo).get("nightly")["run"]["status"] == "failed"  # still there
    with pytest.raises(SessionExistsError):
        gitprov.record(repo, session_id="nightly")
    proc = cli(
        "-C",
        str(repo),
        "run",
        "--id",
        "nightly",
        "--replace",
        "--",
        "touch",
        str(marker),
        process=True,
    )
    assert proc.returncode == 0 and marker.exists()
    assert SessionLog(repo).get("nightly")["run"]["status"] == "success"


def test_bare_and_read_only_repositories_are_refused_before_the_command(
    repo: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    proc = cli("-C", str(bare), "run", "--", "touch", str(marker), process=True)
    assert proc.returncode == 1 and not marker.exists()
    assert "bare repository" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1

    objects = repo / ".git" / "objects"
    # root ignores permission bits, so make the repository read-only with a read-only mount
    proc_mount = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(objects), str(objects)], capture_output=True
    )
    if proc_mount.returncode != 0:
        if os.geteuid() == 0:
            pytest.skip("cannot bind-mount read-only here")
        objects.chmod(0o555)
    else:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(objects)], check=False)
    try:
        proc = cli("-C", str(repo), "run", "--", "touch", str(marker), process=True)
    finally:
        if proc_mount.returncode == 0:
            subprocess.run(["umount", str(objects)], check=True)
        else:
            objects.chmod(0o755)
    assert proc.returncode == 1 and not marker.exists(), proc.stderr
    assert "read-only" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_kedro_run_with_a_stale_lock_succeeds_and_keeps_its_record(tmp_path: Path) -> None:
    project = make_kedro_project(tmp_path / "project")
    make_repo(project, {"README.md": "demo\n"})
    lock = project / ".git" / "refs" / "provenance" / "sessions.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    os.utime(lock, (time.time() - 60,) * 2)
    started = time.monotonic()
    proc = kedro_run(project, env={"COLUMNS": "1000"})  # Kedro's rich logging wraps lines
    assert proc.returncode == 0, proc.stderr  # the pipeline succeeded: so does the run
    assert time.monotonic() - started < 60
    output = proc.stdout + proc.stderr
    assert "sessions.lock" in output and "gitprov recover" in output
    assert SessionLog(project).ids() == []
    lock.unlink()
    assert cli("-C", str(project), "recover").returncode == 0
    (session_id,) = SessionLog(project).ids()
    assert SessionLog(project).get(session_id)["run"]["status"] == "success"


def test_a_snapshot_commit_goes_into_the_saves_kept_pack(repo: Path) -> None:
    (repo / "dirty.txt").write_text("dirty\n")
    with gitprov.record(repo, session_id="d"):
        pass
    snapshot = SessionLog(repo).get("d")["git"]["snapshot"]
    loose = repo / ".git" / "objects" / snapshot[:2] / snapshot[2:]
    assert not loose.exists()  # not a loose object a prune could take before the ref moved
    (idx,) = pack_dir(repo).glob("*.idx")
    assert snapshot in git(repo, "verify-pack", "-v", str(idx))


def test_a_missing_tip_commit_is_named_at_once(repo: Path) -> None:
    for session_id in ("a", "b"):
        gitprov.record(repo, session_id=session_id).__enter__().__exit__(None, None, None)
    tip = git(repo, "rev-parse", "refs/provenance/sessions").strip()
    remove_object(repo, tip)
    started = time.monotonic()
    proc = cli(
        "-C", str(repo), "run", "--id", "c", "--", sys.executable, "-c", "exit(4)", process=True
    )
    assert time.monotonic() - started < 20  # not the retry budget of a lost race
    assert proc.returncode in (1, 4)  # refused before, or the command's own status
    assert tip in proc.stderr and "other writers" not in proc.stderr
    assert git(repo, "rev-parse", "refs/provenance/sessions").strip() == tip


def test_a_tampered_spool_file_writes_nothing(repo: Path) -> None:
    lock = repo / ".git" / "refs" / "provenance" / "sessions.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    os.utime(lock, (time.time() - 60,) * 2)
    with gitprov.record(repo, session_id="kept") as rec:
        pass
    lock.unlink()
    assert rec.session.spooled is not None
    good = rec.session.spooled.read_text()
    head = git(repo, "rev-parse", "HEAD").strip()
    for name, old, new in (
        ("pin", f"- {head}", "- HEAD"),
        ("note", f"- {head}", "- zz"),
    ):
        bad = rec.session.spooled.with_name(f"{name}.1.yaml")
        bad.write_text(good.replace("session_id: kept", f"session_id: {name}").replace(old, new))
    proc = cli("-C", str(repo), "recover")
    assert proc.returncode == 1  # the tampered ones are named, and stay
    assert "not an object id" in proc.stderr
    assert "recovered session kept" in proc.stdout
    assert SessionLog(repo).ids() == ["kept"]
    fsck(repo)  # nothing malformed was written


def test_recover_replace_writes_over_an_id_taken_meanwhile(repo: Path) -> None:
    lock = repo / ".git" / "refs" / "provenance" / "sessions.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    os.utime(lock, (time.time() - 60,) * 2)
    proc = cli(
        "-C", str(repo), "run", "--id", "same", "--", sys.executable, "-c", "exit(2)", process=True
    )
    assert proc.returncode == 2
    lock.unlink()
    assert cli("-C", str(repo), "run", "--id", "same", "--", "true", process=True).returncode == 0
    # the next save tried the spooled one: the id had a record by then
    assert SessionLog(repo).get("same")["run"]["exit_code"] == 0
    assert cli("-C", str(repo), "recover").returncode == 1
    proc = cli("-C", str(repo), "recover", "--replace")
    assert proc.returncode == 0, proc.stderr
    assert SessionLog(repo).get("same")["run"]["exit_code"] == 2
