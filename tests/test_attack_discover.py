"""Adversarial checks of the repository lookup without a process (``_plain``): in every
layout below, :meth:`Git.discover` answers as ``git rev-parse`` does, or raises what git
raises."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitprov.errors import GitNotFoundError, GitProvError, UnsafeRepositoryError
from gitprov.git import repo as repo_module
from gitprov.git.repo import Git
from test_git_process import _by_git

from conftest import git, make_repo


def _same_as_git(path: Path) -> Git:
    found = Git.discover(path)
    expected = _by_git(repo_module.nearest_existing(path))
    assert (found.root, found.git_dir, found.common_dir, found.worktree) == expected[:4]
    assert found.object_format == expected[4]
    return found


@pytest.mark.parametrize(
    "head",
    ["", "garbage\n", "ref: heads/main\n", "  ref: refs/heads/main\n", "0" * 39 + "\n", "link"],
)
def test_a_nested_repository_whose_head_git_rejects_is_passed_over_as_git_does(
    tmp_path: Path, head: str
) -> None:
    """git takes a ``.git`` folder for a repository only when its HEAD names a ref or a
    commit (an empty HEAD is what a crash leaves): otherwise it looks further up, here
    into the outer repository, and so must gitprov (else it reads one repository's files
    and runs git in the other)."""
    outer = make_repo(tmp_path / "outer dé")
    inner = make_repo(outer / "inner", {"src/a.py": "x = 1\n"})
    head_file = inner / ".git" / "HEAD"
    if head == "link":  # a symbolic link git accepts only when it reads refs/...
        (inner / ".git" / "HEAD.real").write_text("ref: refs/heads/main\n")
        head_file.unlink()
        head_file.symlink_to(inner / ".git" / "HEAD.real")
    else:
        head_file.write_text(head)
    assert repo_module._plain(inner / "src") != (inner / ".git").resolve()
    assert _same_as_git(inner / "src").root == outer.resolve()


@pytest.mark.parametrize(
    "head", ["ref:refs/heads/main", "ref:\trefs/heads/main\n", "0" * 40 + "\n", "refs/heads/main"]
)
def test_a_head_git_accepts_is_still_found_without_a_process(tmp_path: Path, head: str) -> None:
    outer = make_repo(tmp_path / "outer")
    inner = make_repo(outer / "inner")
    head_file = inner / ".git" / "HEAD"
    if head.startswith("refs/"):  # a symbolic link, even to a branch not born yet
        head_file.unlink()
        head_file.symlink_to("refs/heads/unborn")
    else:
        head_file.write_text(head)
    assert repo_module._plain(inner) == (inner / ".git").resolve()
    assert _same_as_git(inner).root == inner.resolve()


def test_a_bare_repository_with_a_linked_head_inside_a_work_tree_is_bare_as_git_says(
    tmp_path: Path,
) -> None:
    """A HEAD kept as a symbolic link (core.preferSymlinkRefs) to a branch not born yet
    still makes its folder a git dir to git: not the outer work tree's folder."""
    outer = make_repo(tmp_path / "outer")
    git(outer, "init", "-q", "--bare", "b.git")
    head = outer / "b.git" / "HEAD"
    head.unlink()
    head.symlink_to("refs/heads/unborn")
    assert repo_module._plain(outer / "b.git" / "refs") is None
    found = _same_as_git(outer / "b.git")
    assert found.worktree is None and found.git_dir == (outer / "b.git").resolve()


@pytest.mark.parametrize(
    "extra", ["[alias][core]\n\tworktree = {wt}\n", "[alias] [core] bare\n", "[x][core]bare=1\n"]
)
def test_a_core_section_opened_after_another_on_one_line_is_read_as_git_reads_it(
    tmp_path: Path, extra: str
) -> None:
    """git opens a section wherever a ``[`` follows another header's ``]``."""
    repo = make_repo(tmp_path / "repo", {"src/a.py": "x = 1\n"})
    with (repo / ".git" / "config").open("a") as config:
        config.write(extra.format(wt=tmp_path))  # the work tree: the folder above
    assert repo_module._plain(repo / "src") is None
    if "worktree" in extra:
        assert _same_as_git(repo / "src").worktree == tmp_path.resolve()
    else:
        assert Git.discover(repo / "src").worktree is None  # bare, as git says


@pytest.mark.parametrize("value", ["", " = yes", " = 1", " = True", " = on", " = 2"])
def test_any_true_spelling_of_core_bare_is_asked_of_git(tmp_path: Path, value: str) -> None:
    repo = make_repo(tmp_path / "repo")
    with (repo / ".git" / "config").open("a") as config:
        config.write(f"[CORE]\n\tBare{value}\n")
    assert repo_module._plain(repo) is None
    assert Git.discover(repo).worktree is None


@pytest.mark.parametrize("owned", [".git", ".", "told by git's variable"])
def test_a_repository_owned_by_another_user_is_refused_as_git_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, owned: str
) -> None:
    repo = make_repo(tmp_path / "repo")
    if owned.startswith("told"):
        monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
    elif os.geteuid() != 0:
        pytest.skip("needs root to give a folder away")
    else:
        os.chown(repo / owned, 65534, 65534)
    assert repo_module._plain(repo) is None
    with pytest.raises(UnsafeRepositoryError):
        Git.discover(repo)


def test_a_missing_git_is_reported_at_discovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(GitNotFoundError):
        Git.discover(repo)


def test_leaked_repository_variables_change_neither_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook's GIT_DIR/GIT_WORK_TREE are scrubbed for git's children: the answer is the
    path's repository, with or without a process."""
    repo = make_repo(tmp_path / "repo", {"src/a.py": "x = 1\n"})
    other = make_repo(tmp_path / "other")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    assert repo_module._plain(repo / "src") == (repo / ".git").resolve()
    assert _same_as_git(repo / "src").root == repo.resolve()


@pytest.mark.parametrize(
    "extra",
    ["[ core]\n\tbare = false\n", "[core ]\n\tbare = false\n", '[remote "o" ]\n\turl = x\n',
     "[alias]\n\tnot a key line\n"],
)  # fmt: skip
def test_a_config_git_refuses_is_left_to_git(tmp_path: Path, extra: str) -> None:
    """A config git stops at (a header with spaces inside, a line that is no key) is not
    read in-process: git says what is wrong with it, as it would for any git command."""
    repo = make_repo(tmp_path / "repo", {"src/a.py": "x = 1\n"})
    config = repo / ".git" / "config"
    config.write_text(config.read_text() + extra)
    assert git(repo, "config", "--list", check=False) == ""  # git refuses it
    assert repo_module._plain(repo / "src") is None
    with pytest.raises(GitProvError, match="bad config"):
        Git.discover(repo / "src")
