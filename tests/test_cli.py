"""The gitprov command line, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gitprov import GitSessionStore

from conftest import cli as gitprov
from conftest import git


@pytest.fixture
def recorded(repo: Path) -> Path:
    for i in range(3):
        store = GitSessionStore(
            path=str(repo / "sessions"), session_id=f"2026-01-0{i + 1}T00.00.00.000Z"
        )
        store["username"] = "ann"
        if i == 1:
            (repo / "README.md").write_text("dirty\n")
        if i == 2:
            git(repo, "checkout", "-q", "README.md")
            git(repo, "checkout", "-q", "-b", "feature")
            store["exception"] = {"type": "ValueError", "value": "boom", "traceback": []}
        store.save()
    return repo


def test_list_table(recorded: Path) -> None:
    proc = gitprov("-C", str(recorded), "list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == [
        "SESSION", "STARTED", "DURATION", "STATUS", "COMMIT", "BRANCH", "TREE", "WHAT", "USER"
    ]  # fmt: skip
    # newest first: id, date, time, duration, status, commit, branch, tree, what, user
    assert lines[1].split()[4:] == ["failed", lines[1].split()[5], "feature", "clean", "-", "ann"]
    assert lines[2].split()[6:] == ["main", "dirty", "-", "ann"]
    assert lines[3].split()[4:] == ["success", lines[3].split()[5], "main", "clean", "-", "ann"]


def test_list_formats_and_limit(recorded: Path) -> None:
    ids = gitprov("-C", str(recorded), "list", "--format", "ids").stdout.split()
    assert ids == [f"2026-01-0{i}T00.00.00.000Z" for i in (3, 2, 1)]  # newest first
    last = gitprov("-C", str(recorded), "list", "--format", "ids", "--limit", "1").stdout.split()
    assert last == ids[:1]
    as_json = json.loads(gitprov("-C", str(recorded), "list", "--format", "json").stdout)
    assert [r["session_id"] for r in as_json] == ids
    as_yaml = yaml.safe_load(gitprov("-C", str(recorded), "list", "--format", "yaml").stdout)
    assert as_yaml == as_json


def test_list_filters(recorded: Path) -> None:
    def ids(*args: str) -> list[str]:
        return gitprov("-C", str(recorded), "list", "--format", "ids", *args).stdout.split()

    assert ids("--dirty") == ["2026-01-02T00.00.00.000Z"]
    assert ids("--clean", "--branch", "main") == ["2026-01-01T00.00.00.000Z"]
    assert ids("--branch", "feature") == ["2026-01-03T00.00.00.000Z"]
    assert ids("--commit", "HEAD") == [f"2026-01-0{i}T00.00.00.000Z" for i in (3, 2, 1)]


def test_show_by_prefix_and_cwd(recorded: Path) -> None:
    proc = gitprov("show", "2026-01-03", cwd=recorded / "src")
    assert proc.returncode == 0, proc.stderr
    record = yaml.safe_load(proc.stdout)
    assert record["session_id"] == "2026-01-03T00.00.00.000Z"
    assert record["exception"]["value"] == "boom"
    as_json = json.loads(
        gitprov("-C", str(recorded), "show", "--format", "json", "2026-01-03").stdout
    )
    assert as_json == record


def test_errors_and_exit_codes(recorded: Path, tmp_path: Path) -> None:
    missing = gitprov("-C", str(recorded), "show", "1999")
    assert missing.returncode == 1
    assert missing.stderr.startswith("gitprov: error: no session 1999")
    assert len(missing.stderr.strip().splitlines()) == 1
    invalid = gitprov("-C", str(recorded), "show", "../x")
    assert invalid.returncode == 1 and "invalid session id" in invalid.stderr
    usage = gitprov("-C", str(recorded), "list", "--format", "xml")
    assert usage.returncode == 2
    outside = tmp_path / "outside"
    outside.mkdir()
    not_repo = gitprov("-C", str(outside), "list", env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert not_repo.returncode == 1 and "not inside a git repository" in not_repo.stderr


def test_empty_repository_lists_nothing(repo: Path) -> None:
    proc = gitprov("-C", str(repo), "list", "--format", "ids")
    assert proc.returncode == 0 and proc.stdout == ""
