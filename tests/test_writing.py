"""Git's write rules (``core.sharedRepository``, ``core.fsync``) read without a process
agree with ``git config``, and anything the reader cannot be sure of is left to git."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitprov.errors import GitProvError
from gitprov.git import Git
from gitprov.git.writing import DEFAULT_FSYNC, WriteRules

from conftest import git

CASES = [
    "",
    "[core]\n\tsharedRepository = group\n",
    "[core]\n\tsharedRepository = 0640\n\tfsync = none\n",
    "[core]\n\tsharedRepository = all\n\tfsync = committed,-reference\n",
    "[CORE]\n\tSharedRepository=true\n[core] fsyncObjectFiles\n",
    "[core]\n\tfsync = loose-object ; a comment\n\tfsyncObjectFiles = false\n",
    '[remote "origin"]\n\turl = "https://h/x.git"\n[core]\n\tsharedRepository = 2\n',
    "[core]\n\tsharedRepository = umask\n[core]\n\tsharedRepository = everybody\n",
]


@pytest.mark.parametrize("config", CASES)
def test_config_files_read_as_git_reads_them(repo: Path, config: str) -> None:
    with (repo / ".git" / "config").open("a") as fh:
        fh.write(config)
    found = WriteRules.from_files(Git.discover(repo).common_dir)
    assert found is not None
    assert found == WriteRules.read(Git.discover(repo))


def test_global_config_counts(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    global_config = tmp_path / "global"
    global_config.write_text("[core]\n\tfsync = all\n\tsharedRepository = group\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    git(repo, "config", "core.sharedRepository", "umask")  # the repository's own wins
    found = WriteRules.from_files(Git.discover(repo).common_dir)
    assert found == WriteRules.read(Git.discover(repo))
    assert found is not None and found.shared == 0 and "loose-object" in found.fsync


@pytest.mark.parametrize(
    "config",
    [
        "[include]\n\tpath = other\n",
        '[includeIf "gitdir:/x/"]\n\tpath = other\n',
        '[core]\n\tsharedRepository = "group"\n',
        "[core]\n\tfsync = pack,\\\n\tloose-object\n",
        "[extensions]\n\tworktreeConfig = true\n",
    ],
)
def test_anything_unusual_is_left_to_git(repo: Path, config: str) -> None:
    with (repo / ".git" / "config").open("a") as fh:
        fh.write(config)
    assert WriteRules.from_files(Git.discover(repo).common_dir) is None


def test_command_line_config_is_left_to_git(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.sharedRepository")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "group")
    g = Git.discover(repo)
    assert WriteRules.from_files(g.common_dir) is None
    assert WriteRules.of(g).shared == 0o660
    monkeypatch.delenv("GIT_CONFIG_COUNT")
    assert WriteRules.of(g) == WriteRules(0, DEFAULT_FSYNC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [  # as git 2.39's parse_fsync_components computes them (checked with strace on git)
        ("pack,-pack", {"pack", "pack-metadata", "commit-graph"}),
        ("none,pack", {"pack", "pack-metadata", "commit-graph"}),
        ("loose-object,none", {"loose-object"}),
        ("loose-object,-loose-object", {"loose-object", "pack", "pack-metadata", "commit-graph"}),
        ("loose", {"loose-object", "pack", "pack-metadata", "commit-graph"}),
        ("-pack", {"commit-graph"}),
        ("none", set()),
        ("committed", {"loose-object", "pack", "pack-metadata", "commit-graph", "reference"}),
    ],
)
def test_core_fsync_is_read_as_git_reads_it(value: str, expected: set[str]) -> None:
    assert WriteRules.parse(f"core.fsync\n{value}\0".encode()).fsync == expected


def test_a_byte_order_mark_and_crlf_are_read_as_git_reads_them(repo: Path) -> None:
    config = repo / ".git" / "config"
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes().replace(b"\n", b"\r\n"))
    config.write_bytes(config.read_bytes() + b"[core]\r\n\tsharedRepository = group\r\n")
    g = Git.discover(repo)
    assert WriteRules.from_files(g.common_dir) == WriteRules.read(g)
    assert WriteRules.read(g).shared == 0o660


@pytest.mark.parametrize("value", ["World", "Group", "0400", "sometimes"])
def test_a_shared_repository_value_git_refuses_is_refused(repo: Path, value: str) -> None:
    git(repo, "config", "core.sharedRepository", value)
    with pytest.raises(GitProvError, match="sharedRepository"):
        WriteRules.of(Git.discover(repo))
