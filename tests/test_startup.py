"""Start-up of the read commands (issue 15: a warm ``gitprov list`` within 3x of a ``git
ls-tree``): what they import, and the light stand-ins that keep it so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gitprov
from gitprov.git import Git
from gitprov.git.writing import on_path
from gitprov.store import spool

from conftest import cli

#: What only writers need: none of it is imported by a warm ``list``, ``list --where``.
WRITERS_ONLY = ("shutil", "bz2", "lzma", "yaml", "gitprov.store.notes")


def test_a_warm_list_imports_nothing_only_writers_need(repo: Path) -> None:
    with gitprov.record(repo, "s1", params={"lr": 0.01}):
        pass
    assert cli("-C", str(repo), "list").returncode == 0  # the index built
    code = (
        "import sys\n"
        "from gitprov.cli import main\n"
        "for args in (['list'], ['list', '--where', 'params.lr=0.01', '--status', 'success']):\n"
        "    main(['-C', sys.argv[1], *args], standalone_mode=False)\n"
        f"print(sorted(m for m in {WRITERS_ONLY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(repo)], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines()[-1] == "[]"
    assert out.stdout.count("s1") == 2


@pytest.mark.parametrize(
    "path",
    ["{bin}", "{empty}:{bin}", "{plain}:{bin}", "{folder}:{bin}", "", "::{bin}", None],
    ids=["found", "skips-a-folder-without", "not-executable", "a-folder-named-so", "empty",
         "empty-entries", "unset"],
)  # fmt: skip
def test_git_is_found_on_path_as_shutil_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str | None
) -> None:
    folders = {name: tmp_path / name for name in ("bin", "empty", "plain", "folder")}
    for folder in folders.values():
        folder.mkdir()
    (folders["bin"] / "git").write_text("#!/bin/sh\n")
    (folders["bin"] / "git").chmod(0o755)
    (folders["plain"] / "git").write_text("not a program\n")
    (folders["folder"] / "git").mkdir()
    if path is None:
        monkeypatch.delenv("PATH", raising=False)
    else:
        monkeypatch.setenv("PATH", path.format(**folders))
    monkeypatch.chdir(folders["bin"])  # where an empty entry of PATH looks
    assert on_path("git") == shutil.which("git")


def test_list_names_a_record_spooled_in_the_cache_folder(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    git = Git.discover(repo)
    assert spool.folders(git, existing=True) == spool.folders(git)[:1]  # no cache spool yet
    assert "spooled" not in cli("-C", str(repo), "list").stderr
    folder = spool.folders(git)[1]
    folder.mkdir(parents=True)
    entry = spool.Spooled("s1", "refs/provenance/sessions", None, b"session_id: s1\n", "full")
    (folder / "s1.1.yaml").write_bytes(entry.to_yaml(git.common_dir))
    assert spool.folders(git, existing=True) == spool.folders(git)
    assert f"1 record(s) are spooled and not yet written ({folder})" in (
        cli("-C", str(repo), "list").stderr
    )
    assert os.listdir(folder) == ["s1.1.yaml"]


def test_the_command_runs_with_the_collector_on_and_its_modules_frozen(repo: Path) -> None:
    """The installed command pauses the cyclic collector while its modules load, then
    freezes them out of its scans: the command itself runs with the collector on."""
    code = (
        "import atexit, gc, sys\n"
        "from gitprov.__main__ import run\n"
        "atexit.register(lambda: print(gc.isenabled(), gc.get_freeze_count() > 1000))\n"
        "sys.argv = ['gitprov', '-C', sys.argv[1], 'list']\n"
        "run()\n"
    )
    with gitprov.record(repo, "s1"):
        pass
    out = subprocess.run(
        [sys.executable, "-c", code, str(repo)], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines()[-1] == "True True"
    assert "s1" in out.stdout
    entry = subprocess.run(
        [sys.executable, "-m", "gitprov", "-C", str(repo), "list", "--format", "ids"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert entry.stdout == "s1\n"
