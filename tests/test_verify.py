"""``gitprov verify`` at scale: a fixed number of git processes, whatever the number of
records, and snapshot trees walked once each however many snapshots share them."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import gitprov

from conftest import git, remove_object


def dirty_saves(repo: Path, count: int, start: int = 0) -> list[str]:
    """``count`` dirty records, each with a snapshot of its own (one file differs)."""
    snapshots = []
    for n in range(start, start + count):
        (repo / "src" / "app.py").write_text(f"print({n})\n")
        with gitprov.record(repo, session_id=f"run-{n:03d}"):
            pass
        snapshots.append(str(gitprov.SessionLog(repo).get(f"run-{n:03d}")["git"]["snapshot"]))
    return snapshots


def verify(repo: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``gitprov verify`` as a user would, with a shim on PATH logging each git call."""
    real = shutil.which("git")
    assert real is not None
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    log.write_text("")
    script = shim / "git"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-m", "gitprov", "-C", str(repo), "verify"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc, log.read_text().splitlines()


def test_verify_starts_as_many_git_processes_for_12_records_as_for_2(
    repo: Path, tmp_path: Path
) -> None:
    dirty_saves(repo, 2)
    few, few_calls = verify(repo, tmp_path)
    assert few.returncode == 0, few.stdout + few.stderr
    dirty_saves(repo, 10, start=2)
    many, many_calls = verify(repo, tmp_path)
    assert many.returncode == 0, many.stdout + many.stderr
    assert many.stdout == "ok: 12 record(s) verified\n"
    assert len(many_calls) == len(few_calls) <= 7, many_calls


def test_a_missing_file_deep_in_a_shared_folder_is_named_for_every_snapshot(
    repo: Path, tmp_path: Path
) -> None:
    deep = repo / "data" / "raw" / "2026"
    deep.mkdir(parents=True)
    (deep / "input.csv").write_text("a,b\n1,2\n")  # untracked: only in the snapshots
    snapshots = dirty_saves(repo, 2)
    blob = git(repo, "rev-parse", f"{snapshots[0]}:data/raw/2026/input.csv").strip()
    assert blob == git(repo, "rev-parse", f"{snapshots[1]}:data/raw/2026/input.csv").strip()
    remove_object(repo, blob)
    proc, _ = verify(repo, tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"run-{n:03d}: snapshot {snapshots[n][:12]}: "
        f"file data/raw/2026/input.csv ({blob[:12]}) is missing"
        for n in range(2)
    ]


def test_an_unreadable_folder_is_named_and_the_other_records_still_checked(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "only-first").mkdir()
    (repo / "only-first" / "notes.txt").write_text("first\n")
    first = dirty_saves(repo, 1)[0]
    shutil.rmtree(repo / "only-first")
    (repo / "kept.txt").write_text("second\n")
    second = dirty_saves(repo, 1, start=1)[0]
    folder = git(repo, "rev-parse", f"{first}:only-first").strip()
    kept = git(repo, "rev-parse", f"{second}:kept.txt").strip()
    remove_object(repo, folder)
    remove_object(repo, kept)
    proc, _ = verify(repo, tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"run-000: snapshot {first[:12]}: its tree {folder[:12]} cannot be read",
        f"run-001: snapshot {second[:12]}: file kept.txt ({kept[:12]}) is missing",
    ]
