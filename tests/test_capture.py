"""capture(): the record's git section, against real repositories in every shape."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import gitprov
from gitprov import SessionLog, capture
from gitprov.model.redact import scrub_url

from conftest import git, make_repo


def test_clean_repo(repo: Path) -> None:
    info = capture(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    assert info["commit"] == head
    assert info["commit_sha"] == git(repo, "rev-parse", "--short", "HEAD").strip()
    assert info["branch"] == "main"
    assert info["detached"] is False
    assert info["dirty"] is False
    assert info["changes"] == [] and info["change_count"] == 0
    assert info["upstream"] is None and info["ahead"] is None and info["behind"] is None
    assert info["describe"] is None
    assert info["remotes"] == {}


def test_every_change_kind(repo: Path) -> None:
    (repo / "README.md").write_text("changed\n")
    (repo / "staged.txt").write_text("new\n")
    git(repo, "add", "staged.txt")
    git(repo, "mv", "src/app.py", "src/main.py")
    (repo / "untracked dir").mkdir()
    (repo / "untracked dir" / "ü.txt").write_text("x")
    info = capture(repo)
    by_path = {c["path"]: c for c in info["changes"]}
    assert by_path["README.md"]["status"] == "modified"
    assert by_path["staged.txt"]["status"] == "added"
    assert by_path["src/main.py"] == {
        "path": "src/main.py",
        "status": "renamed",
        "from": "src/app.py",
    }
    assert by_path["untracked dir/ü.txt"]["status"] == "untracked"
    assert info["dirty"] is True and info["change_count"] == 4


def test_deleted_typechange_and_conflict(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "README.md").write_text("other side\n")
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("main side\n")
    git(repo, "commit", "-qam", "main")
    git(repo, "merge", "other", check=False)
    (repo / "src" / "app.py").unlink()
    info = capture(repo)
    statuses = {c["path"]: c["status"] for c in info["changes"]}
    assert statuses == {"README.md": "conflicted", "src/app.py": "deleted"}


def test_typechange(repo: Path) -> None:
    (repo / "src" / "app.py").unlink()
    os.symlink("../README.md", repo / "src" / "app.py")
    assert capture(repo)["changes"] == [{"path": "src/app.py", "status": "typechange"}]


def test_unborn_branch(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "trunk")
    (tmp_path / "a.txt").write_text("a")
    info = capture(tmp_path)
    assert info["commit"] is None and info["commit_sha"] is None
    assert info["branch"] == "trunk"
    assert info["changes"] == [{"path": "a.txt", "status": "untracked"}]


def test_detached_head(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "--detach")
    info = capture(repo)
    assert info["detached"] is True and info["branch"] is None and info["commit"] == head


def test_upstream_ahead_behind_and_remotes(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "remote", "add", "backup", "https://alice:s3cret@example.com/org/repo.git")
    (origin / "more.txt").write_text("more")
    git(origin, "add", "more.txt")
    git(origin, "commit", "-qm", "upstream work")
    git(clone, "fetch", "-q")
    (clone / "mine.txt").write_text("mine")
    git(clone, "add", "mine.txt")
    git(clone, "commit", "-qm", "local work")
    info = capture(clone)
    assert info["upstream"] == "origin/main"
    assert (info["ahead"], info["behind"]) == (1, 1)
    assert info["remotes"] == {"origin": str(origin), "backup": "https://example.com/org/repo.git"}


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://user:pass@host/r.git", "https://host/r.git"),
        ("https://ghp_tokenvalue@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://oauth2:glpat-xyz@gitlab.com/o/r.git", "https://gitlab.com/o/r.git"),
        ("ssh://git:pw@host:2222/r.git", "ssh://git@host:2222/r.git"),
        ("ssh://git@host/r.git", "ssh://git@host/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        (
            "https://host/r.git?access_token=abc&x=1",
            "https://host/r.git?access_token=%2A%2A%2A&x=1",
        ),
        ("/srv/git/r.git", "/srv/git/r.git"),
        # malformed, which urlsplit refuses ("Invalid IPv6 URL"): credentials still go
        ("https://u:p@host]/x", "https://host]/x"),
        ("https://u:p@[::1/x?token=t#f", "https://[::1/x?token=%2A%2A%2A#f"),
        ("ssh://git:pw@[host/r.git", "ssh://git@[host/r.git"),
    ],
)
def test_scrub_url(url: str, clean: str) -> None:
    assert scrub_url(url) == clean


@pytest.mark.parametrize("read_by", ["gitprov", "git config"])
def test_a_malformed_remote_url_is_recorded_without_its_password(repo: Path, read_by: str) -> None:
    """One bad remote must neither fail every run nor leak its password."""
    git(repo, "remote", "add", "bad", "https://u:pw-s3cr3t@host]/x")
    git(repo, "remote", "add", "origin", "https://example.com/o/r.git")
    if read_by == "git config":  # an include makes gitprov ask git instead of the file
        git(repo, "config", "include.path", "absent.config")
    with gitprov.record(repo, session_id="bad-remote"):
        pass
    record = SessionLog(repo).get("bad-remote")
    assert record["git"]["remotes"] == {
        "bad": "https://host]/x",
        "origin": "https://example.com/o/r.git",
    }
    assert "pw-s3cr3t" in git(repo, "config", "remote.bad.url")  # there to leak...
    assert "pw-s3cr3t" not in git(repo, "log", "-p", "--all")  # ...and not recorded


def test_describe_with_tag(repo: Path) -> None:
    git(repo, "tag", "v1.0")
    (repo / "x.txt").write_text("x")
    git(repo, "add", "x.txt")
    git(repo, "commit", "-qm", "after tag")
    info = capture(repo)
    short = git(repo, "rev-parse", "--short", "HEAD").strip()
    assert info["describe"] == f"v1.0-1-g{short}"
    assert info["commit_sha"] == short


def test_project_in_subdirectory_keeps_root_relative_paths(repo: Path) -> None:
    project = repo / "projects" / "kedro_app"
    project.mkdir(parents=True)
    (project / "new.py").write_text("x")
    (repo / "README.md").write_text("changed\n")
    info = capture(project / "sessions")  # Kedro's store path; it does not exist
    assert {c["path"] for c in info["changes"]} == {"projects/kedro_app/new.py", "README.md"}


def test_worktree(repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(wt))
    (wt / "wt.txt").write_text("w")
    info = capture(wt)
    assert info["branch"] == "feature"
    assert info["changes"] == [{"path": "wt.txt", "status": "untracked"}]


def test_submodule_change(repo: Path, tmp_path: Path) -> None:
    lib = make_repo(tmp_path / "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
    git(repo, "commit", "-qm", "add submodule")
    (repo / "lib" / "README.md").write_text("edited inside the submodule\n")
    assert capture(repo)["changes"] == [{"path": "lib", "status": "submodule"}]


def test_huge_change_list_is_capped(repo: Path) -> None:
    for i in range(30):
        (repo / f"f{i}.txt").write_text(str(i))
    info = capture(repo, max_changes=10)
    assert len(info["changes"]) == 10
    assert info["change_count"] == 30


def test_untracked_modes(repo: Path) -> None:
    (repo / "d").mkdir()
    (repo / "d" / "a").write_text("a")
    (repo / "d" / "b").write_text("b")
    assert capture(repo)["change_count"] == 2
    assert capture(repo, untracked="normal")["changes"] == [{"path": "d/", "status": "untracked"}]
    assert capture(repo, untracked="no")["dirty"] is False
    with pytest.raises(ValueError, match="untracked must be one of"):
        capture(repo, untracked="everything")


def test_describe_with_packed_tags_and_from_a_worktree(repo: Path, tmp_path: Path) -> None:
    git(repo, "tag", "-a", "-m", "release", "v2.0")
    git(repo, "pack-refs", "--all")
    assert not any((repo / ".git" / "refs" / "tags").iterdir())
    short = git(repo, "rev-parse", "--short", "HEAD").strip()
    assert capture(repo)["describe"] == f"v2.0-0-g{short}"
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "--detach", str(wt))
    assert capture(wt / "missing" / "sessions")["describe"] == f"v2.0-0-g{short}"


def test_remotes_behind_an_include_and_quoting(repo: Path) -> None:
    (repo / ".git" / "extra.config").write_text(
        '[remote "team"]\n\turl = "https://t:pw@host/r.git"\n'
    )
    git(repo, "config", "include.path", "extra.config")
    git(repo, "remote", "add", "origin", "git@github.com:o/r.git")
    assert capture(repo)["remotes"] == {
        "team": "https://host/r.git",
        "origin": "git@github.com:o/r.git",
    }
