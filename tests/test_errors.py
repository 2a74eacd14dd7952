"""Faults: every one a clear GitProvError that says how to fix it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitprov import GitProvError, GitSessionStore, NotAGitRepositoryError, SessionLog, capture
from gitprov.errors import GitNotFoundError, UnsafeRepositoryError

from conftest import git, make_repo


def test_not_a_repository(tmp_path: Path) -> None:
    ceiling = tmp_path.parent
    os.environ["GIT_CEILING_DIRECTORIES"] = str(ceiling)
    try:
        with pytest.raises(NotAGitRepositoryError, match="git init") as info:
            GitSessionStore(path=str(tmp_path / "sessions"), session_id="s1")
        assert str(tmp_path) in str(info.value)
        with pytest.raises(NotAGitRepositoryError):
            SessionLog(tmp_path)
        with pytest.raises(NotAGitRepositoryError):
            capture(tmp_path)
    finally:
        del os.environ["GIT_CEILING_DIRECTORIES"]


def test_inside_dot_git_is_refused(repo: Path) -> None:
    with pytest.raises(NotAGitRepositoryError, match="work tree"):
        GitSessionStore(path=str(repo / ".git"), session_id="s1")


def test_outside_the_work_tree_core_worktree_names_is_said_so(tmp_path: Path) -> None:
    """A repository whose ``core.worktree`` is elsewhere, asked from beside its .git: not
    called a .git directory, but the folder outside the work tree, naming where it is."""
    repo = make_repo(tmp_path / "repo")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    git(repo, "config", "core.worktree", str(elsewhere))
    with pytest.raises(NotAGitRepositoryError, match="outside the work tree") as info:
        GitSessionStore(path=str(repo), session_id="s1")
    assert str(elsewhere) in str(info.value) and "core.worktree" in str(info.value)
    assert ".git directory" not in str(info.value)


def test_git_missing_from_path(repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(GitNotFoundError, match="git is not installed or not on PATH") as info:
        GitSessionStore(path=str(repo), session_id="s1")
    assert isinstance(info.value, GitProvError)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_dubious_ownership(tmp_path: Path) -> None:
    foreign = make_repo(tmp_path / "foreign")
    shutil.chown(foreign, user="nobody")
    shutil.chown(foreign / ".git", user="nobody")
    with pytest.raises(UnsafeRepositoryError, match=r"safe\.directory") as info:
        GitSessionStore(path=str(foreign / "sessions"), session_id="s1")
    assert f"git config --global --add safe.directory {foreign}" in str(info.value)
    # from a project folder deeper down, the fix still names the repository's top folder
    (foreign / "src" / "pkg").mkdir(parents=True)
    with pytest.raises(UnsafeRepositoryError) as info:
        GitSessionStore(path=str(foreign / "src" / "pkg" / "sessions"), session_id="s1")
    assert str(info.value).endswith(f"git config --global --add safe.directory {foreign}")


def test_store_without_kedro_installed(repo: Path) -> None:
    """With Kedro not importable the store is still a working dict-like store."""
    script = f"""
import sys
sys.modules["kedro"] = None  # any `import kedro...` now raises ImportError
from gitprov import GitSessionStore, SessionLog
store = GitSessionStore(path={str(repo)!r}, session_id="plain-1")
assert type(store).__mro__[1].__module__ == "gitprov.kedro.store", type(store).__mro__
store["answer"] = 42
store.save()
assert SessionLog({str(repo)!r}).get("plain-1")["answer"] == 42
assert GitSessionStore(path={str(repo)!r}, session_id="plain-1")["answer"] == 42
assert "kedro" not in [m.split(".")[0] for m in sys.modules if sys.modules[m] is not None]
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
