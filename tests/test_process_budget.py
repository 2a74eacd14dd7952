"""How many git processes a recording starts: a regression to per-object processes fails.

The budget (DESIGN: one module starts git, objects are written in-process):
- a clean recording starts 2: ``status`` and ``update-ref`` side by side (the repository
  is found without a process when it is of the plainest kind, else by ``rev-parse``);
- a dirty one 4: also ``update-index`` and ``write-tree`` for the snapshot.
A repository with tags adds ``describe``; config files that say something only git can tell
(includes, ``git -c``, quoting) add a ``config`` for the remotes and one for the write rules.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git

CLEAN_BUDGET = 2
DIRTY_BUDGET = 4


def git_calls(repo: Path, tmp_path: Path, session_id: str) -> list[str]:
    """The git command lines one ``gitprov.record()`` starts, seen by a shim on PATH that
    logs each call and hands it to the real git."""
    real = shutil.which("git")
    assert real is not None
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    log = tmp_path / f"{session_id}.log"
    script = shim / "git"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    code = f"import gitprov\nwith gitprov.record(session_id={session_id!r}):\n    pass\n"
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, check=True)
    return log.read_text().splitlines()


def verbs(calls: list[str]) -> list[str]:
    """Each call's git command (``-C DIR`` and global options skipped)."""
    found = []
    for call in calls:
        words = call.split()
        while words and (words[0] == "-C" or words[0].startswith("--")):
            words = words[2:] if words[0] == "-C" else words[1:]
        found.append(words[0])
    return found


@pytest.mark.parametrize("packed", [False, True], ids=["loose", "after-gc"])
def test_a_clean_recording_stays_within_budget(repo: Path, tmp_path: Path, packed: bool) -> None:
    if packed:
        git_calls(repo, tmp_path, "first")
        git(repo, "gc", "-q")  # every object packed: reads stay in-process
    calls = git_calls(repo, tmp_path, "clean")
    assert len(calls) <= CLEAN_BUDGET, calls
    assert sorted(verbs(calls)) == ["status", "update-ref"]


def test_a_dirty_recording_stays_within_budget(repo: Path, tmp_path: Path) -> None:
    (repo / "src" / "app.py").write_text("print(2)\n")
    (repo / "new.py").write_text("print(3)\n")
    calls = git_calls(repo, tmp_path, "dirty")
    assert len(calls) <= DIRTY_BUDGET, calls
    assert sorted(verbs(calls)) == sorted(["status", "update-ref", "update-index", "write-tree"])


def test_refs_kept_in_the_config_cost_no_process(repo: Path, tmp_path: Path) -> None:
    """``gitprov.ref``/``gitprov.notesRef`` are read from the config file in-process."""
    git(repo, "config", "gitprov.ref", "refs/provenance/team")
    git(repo, "config", "gitprov.notesRef", "refs/notes/team")
    calls = git_calls(repo, tmp_path, "team")
    assert sorted(verbs(calls)) == ["status", "update-ref"]
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/provenance").split() == [
        "refs/provenance/team"
    ]
