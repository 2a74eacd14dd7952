"""The runner turns git's failures into typed errors (real git, real repositories), and a
located repository holds a runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitprov.errors import (
    GitCommandError,
    LostRaceError,
    NotAGitRepositoryError,
    PathRefusedError,
    RefLockedError,
    StaleValueError,
    UnknownRevisionError,
)
from gitprov.git import Git
from gitprov.git.process import Runner

from conftest import git, make_repo

REF = "refs/provenance/sessions"


def commits(repo: Path) -> tuple[str, str]:
    """Two commits of ``repo``: HEAD's parent and HEAD."""
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    first, second = git(repo, "rev-parse", "HEAD~1", "HEAD").split()
    return first, second


def move(g: Git, new: str, old: str) -> None:
    """Move ``REF`` from ``old`` to ``new`` as the stores do: compare-and-swap on stdin."""
    g.run("update-ref", "--stdin", input=f"update {REF} {new} {old}\n".encode())


def test_a_held_ref_lock_is_a_ref_locked_error_naming_the_file(repo: Path) -> None:
    g = Git.discover(repo)
    first, second = commits(repo)
    move(g, first, "0" * 40)
    lock = g.common_dir / f"{REF}.lock"
    lock.touch()
    with pytest.raises(RefLockedError) as info:
        move(g, second, first)
    assert Path(info.value.lock) == lock
    assert isinstance(info.value, LostRaceError) and isinstance(info.value, GitCommandError)
    assert info.value.returncode == 128 and "File exists" in info.value.stderr
    lock.unlink()
    move(g, second, first)  # the lock gone, the same update goes through


def test_a_held_packed_refs_lock_is_a_ref_locked_error(repo: Path) -> None:
    g = Git.discover(repo)
    first, _ = commits(repo)
    move(g, first, "0" * 40)
    git(repo, "pack-refs", "--all")
    (g.common_dir / "packed-refs.lock").touch()
    with pytest.raises(RefLockedError) as info:
        g.run("update-ref", "--stdin", input=f"delete {REF} {first}\n".encode())
    assert Path(info.value.lock) == g.common_dir / "packed-refs.lock"


@pytest.mark.parametrize(
    "case",
    ["moved meanwhile", "created meanwhile", "deleted meanwhile"],
)
def test_a_lost_compare_and_swap_is_a_stale_value_error(repo: Path, case: str) -> None:
    g = Git.discover(repo)
    first, second = commits(repo)
    zero = "0" * 40
    if case != "deleted meanwhile":
        move(g, first, zero)
    old = {"moved meanwhile": second, "created meanwhile": zero, "deleted meanwhile": first}
    with pytest.raises(StaleValueError) as info:
        move(g, second, old[case])
    assert isinstance(info.value, LostRaceError) and isinstance(info.value, GitCommandError)
    assert "cannot lock ref" in info.value.stderr


def test_a_refused_update_that_no_retry_fixes_is_no_lost_race(repo: Path) -> None:
    """``refs/provenance/sessions/x`` cannot exist beside ``refs/provenance/sessions``:
    retrying would fail the same way for as long as it tried."""
    g = Git.discover(repo)
    first, _ = commits(repo)
    move(g, first, "0" * 40)
    with pytest.raises(GitCommandError) as info:
        g.run("update-ref", "--stdin", input=f"create {REF}/x {first}\n".encode())
    assert not isinstance(info.value, LostRaceError)
    assert "cannot lock ref" in info.value.stderr


def test_a_ref_that_names_nothing_is_an_unknown_revision_error(repo: Path) -> None:
    g = Git.discover(repo)
    with pytest.raises(UnknownRevisionError):
        g.run("ls-tree", "-r", REF, "--")
    with pytest.raises(GitCommandError) as info:  # another failure stays a plain one
        g.run("ls-tree", "--no-such-option", "HEAD")
    assert type(info.value) is GitCommandError


@pytest.mark.parametrize("name", ["scratch", "we: ird", os.fsdecode(b"caf\xe9")])
def test_a_path_update_index_refuses_is_named_as_handed_over(repo: Path, name: str) -> None:
    git(repo, "init", "-q", name)  # a nested repository with no commit: no gitlink
    g = Git.discover(repo)
    with pytest.raises(PathRefusedError) as info:
        g.run("update-index", "--add", "-z", "--stdin", input=os.fsencode(name) + b"\0")
    assert info.value.path == name
    assert info.value.reason == "is a directory - add files inside instead"
    with pytest.raises(PathRefusedError) as other:  # whatever the reason
        g.run("update-index", "-z", "--stdin", input=b"gone.txt\0")
    assert other.value.path == "gone.txt" and "does not exist" in other.value.reason


def test_allowed_exits_raise_nothing(repo: Path) -> None:
    result = Git.discover(repo).run("ls-tree", REF, "--", ok=(0, 128))
    assert result.returncode == 128 and b"Not a valid object name" in result.stderr


def test_the_repository_holds_a_runner_in_its_top_folder(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"src/pkg/mod.py": "x = 1\n"})
    g = Git.discover(repo / "src" / "pkg" / "not-yet-created")
    assert isinstance(g.runner, Runner)
    assert g.root == g.runner.root == repo.resolve()
    assert g.runner.common_dir == g.common_dir == (repo / ".git").resolve()
    assert g.run("rev-parse", "--show-prefix").text.strip() == ""  # runs at the top


def test_a_linked_worktree_shares_the_common_dir(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"))
    g = Git.discover(tmp_path / "wt")
    assert g.root == (tmp_path / "wt").resolve()
    assert g.common_dir == (repo / ".git").resolve() != g.git_dir.resolve()
    assert g.objects_dir == g.common_dir / "objects"
    # a runner that was not handed the common dir finds the same one from the files
    near = Runner.near(tmp_path / "wt" / "missing" / "file.txt")
    assert near.root == (tmp_path / "wt").resolve() and near.common_dir is None
    assert near.common_dir_hint() == g.runner.common_dir_hint() == g.common_dir


def test_a_bare_repository_runs_in_its_git_dir(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(tmp_path, "clone", "-q", "--bare", str(repo), "bare.git")
    g = Git.discover(tmp_path / "bare.git")
    assert g.worktree is None and g.root == g.git_dir == (tmp_path / "bare.git").resolve()
    assert g.run("rev-parse", "--is-bare-repository").text.strip() == "true"


def _by_git(path: Path) -> tuple[Path, Path, Path, Path | None, str]:
    """What ``git rev-parse`` says of the repository holding ``path``."""
    git_dir, common, fmt, bare = Runner(path).run(
        "rev-parse", "--absolute-git-dir", "--git-common-dir", "--show-object-format",
        "--is-bare-repository",
    ).text.split("\n")[:4]  # fmt: skip
    common_dir = (Path(common) if os.path.isabs(common) else path / common).resolve()
    top = None
    if bare != "true":
        top = Path(Runner(path).run("rev-parse", "--show-toplevel").text.strip()).resolve()
    root = top if top is not None else Path(git_dir)
    return root, Path(git_dir).resolve(), common_dir, top, fmt


@pytest.mark.parametrize(
    "layout",
    ["top", "below", "not-yet-created", "linked-worktree", "submodule", "bare", "inside-git-dir",
     "worktree-config", "sha256", "core-bare", "include", "symlinked"],
)  # fmt: skip
def test_a_repository_is_found_as_git_finds_it_with_or_without_a_process(
    tmp_path: Path, layout: str
) -> None:
    """A read command finds the plainest repository without starting git: whatever the
    layout, the answer is git's (the others are asked of git)."""
    from gitprov.git import repo as repo_module

    repo = make_repo(tmp_path / "repo", {"src/pkg/mod.py": "x = 1\n"})
    path = repo
    plain = layout in ("top", "below", "not-yet-created", "symlinked")
    if layout == "below":
        path = repo / "src" / "pkg"
    elif layout == "not-yet-created":
        path = repo / "src" / "sessions" / "new"
    elif layout == "linked-worktree":
        git(repo, "worktree", "add", "-q", str(tmp_path / "wt"))
        path = tmp_path / "wt"
    elif layout == "submodule":
        git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(repo), "sub")
        path = repo / "sub"
    elif layout == "bare":
        git(tmp_path, "clone", "-q", "--bare", str(repo), "bare.git")
        path = tmp_path / "bare.git"
    elif layout == "inside-git-dir":
        path = repo / ".git" / "refs"
    elif layout == "worktree-config":
        git(repo, "config", "extensions.worktreeConfig", "true")
    elif layout == "sha256":
        path = tmp_path / "sha"
        git(tmp_path, "init", "-q", "--object-format=sha256", "sha")
    elif layout == "core-bare":
        git(repo, "config", "core.bare", "false")  # said, and false: still plain
        plain = True
    elif layout == "include":
        git(repo, "config", "include.path", str(tmp_path / "more.cfg"))
    elif layout == "symlinked":
        (tmp_path / "link").symlink_to(repo, target_is_directory=True)
        path = tmp_path / "link" / "src"
    start = repo_module.nearest_existing(path)
    assert (repo_module._plain(start) is not None) == plain, layout
    if layout == "inside-git-dir":  # not a work tree: said as before
        with pytest.raises(NotAGitRepositoryError, match=r"inside a \.git directory"):
            Git.discover(path)
        return
    found = Git.discover(path)
    expected = _by_git(start)
    assert (found.root, found.git_dir, found.common_dir, found.worktree) == expected[:4]
    assert found.object_format == expected[4]


def test_a_repository_is_asked_of_git_when_a_ceiling_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitprov.git import repo as repo_module

    repo = make_repo(tmp_path / "repo", {"src/x.py": "x = 1\n"})
    assert repo_module._plain(repo / "src") == (repo / ".git").resolve()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(repo))
    assert repo_module._plain(repo / "src") is None
    with pytest.raises(NotAGitRepositoryError):
        Git.discover(repo / "src")  # git stops below the ceiling, as it does alone
