"""Which refs every entry point uses: the option, else the repository's config (kept by
``gitprov --ref ... --notes-ref ... init``), else the default names."""

from __future__ import annotations

from pathlib import Path

import pytest

import gitprov
from gitprov.git import Git
from gitprov.git.writing import config_from_files
from gitprov.refs import DEFAULT_NOTES_REF, DEFAULT_REF, resolve

from conftest import cli, git

TEAM = ("refs/provenance/team", "refs/notes/team")


def ok(repo: Path, *args: str) -> str:
    proc = cli("-C", str(repo), *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_entry_point_uses_the_refs_init_kept(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(repo, "--ref", TEAM[0], "--notes-ref", TEAM[1], "init")
    monkeypatch.chdir(repo)
    with gitprov.record(session_id="record-1"):
        pass
    gitprov.GitSessionStore(path=str(repo), session_id="kedro-1").save()
    run = cli("run", "--id", "run-1", "--", "true", cwd=repo, process=True)
    assert run.returncode == 0, run.stderr

    ids = ["kedro-1", "record-1", "run-1"]
    assert gitprov.SessionLog(".").ids() == ids
    assert sorted(ok(repo, "list", "--format", "ids").split()) == ids
    head = git(repo, "rev-parse", "HEAD").strip()
    assert [e["session_id"] for e in gitprov.SessionLog(".").for_commit(head)] == ids
    written = git(repo, "for-each-ref", "--format=%(refname)", "refs/provenance", "refs/notes")
    assert written.split() == sorted(TEAM)


def test_an_option_beats_the_config_and_only_none_turns_the_index_off(repo: Path) -> None:
    g = Git.discover(repo)
    assert resolve(g) == (DEFAULT_REF, DEFAULT_NOTES_REF)
    git(repo, "config", "gitprov.ref", TEAM[0])
    git(repo, "config", "gitprov.notesRef", TEAM[1])
    assert resolve(g) == TEAM
    assert resolve(g, "refs/provenance/x") == ("refs/provenance/x", TEAM[1])
    assert resolve(g, notes_ref="refs/notes/y") == (TEAM[0], "refs/notes/y")
    assert resolve(g, notes_ref=None) == (TEAM[0], None)
    with gitprov.record(repo, session_id="s-1", notes_ref=None):
        pass
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/notes").strip() == ""
    assert gitprov.SessionLog(repo).ids() == ["s-1"]


@pytest.mark.parametrize("how", ["file", "include", "git -c"])
def test_the_config_is_read_as_git_reads_it(
    repo: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Plain config files are read in-process; what only git can tell goes to git."""
    config = repo / ".git" / "config"
    team = f"[GitProv]\n\tRef = {TEAM[0]}\n\tnotesref = {TEAM[1]}\n"
    if how == "file":
        config.write_text(config.read_text() + team)
    elif how == "include":
        (repo / ".git" / "team.inc").write_text(team)
        config.write_text(config.read_text() + "[include]\n\tpath = team.inc\n")
    else:
        monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'gitprov.ref'='{TEAM[0]}'")
    g = Git.discover(repo)
    in_process = config_from_files(g.common_dir, "gitprov")
    assert (in_process is not None) == (how == "file")
    expected = (TEAM[0], DEFAULT_NOTES_REF) if how == "git -c" else TEAM
    assert resolve(g) == expected
