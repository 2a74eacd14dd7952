"""The terminal's edges (issue 16): an unknown id's nearest ids, ids written with colons,
empty states, the line a ``kedro run`` prints, hints that name command-line options,
``gitprov run``'s options and a command that is not found, and ``make demo``'s last lines.

Real repositories; one real ``python -m kedro run`` recorded, and one refused before its
pipeline (the store's error as Kedro's command line ends with it).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gitprov
from gitprov import SessionLog
from gitprov.cli.main import main
from gitprov.errors import (
    DirtyWorkTreeError,
    SessionExistsError,
    UnpushedCommitError,
    option,
    option_style,
)
from gitprov.session import OPTIONS, Session

from conftest import cli, git, make_repo
from kedro_project import kedro_run, make_kedro_project

KEDRO_IDS = ["2026-11-29T17.04.09.123Z", "2026-11-29T17.04.10.456Z", "2026-11-30T08.00.00.000Z"]
FIRST_RUN = "to record a first run: `gitprov run -- COMMAND`"


def save(repo: Path, *ids: str) -> None:
    for session_id in ids:
        Session(repo, session_id).save({})


def last_record(repo: Path) -> dict[str, object]:
    log = SessionLog(repo)
    return log.get(log.ids()[-1])


# -- unknown ids ----------------------------------------------------------------------------


def test_an_unknown_id_names_the_nearest_ones(repo: Path) -> None:
    save(repo, *KEDRO_IDS, "nightly-42")
    typo = cli("-C", str(repo), "show", "2026-11-29T17.04.09.124Z")
    assert typo.returncode == 1
    assert f"did you mean {KEDRO_IDS[0]}, " in typo.stderr, typo.stderr
    assert cli("-C", str(repo), "diff", "nightly-43").stderr.endswith(
        "; did you mean nightly-42? `gitprov list` shows the recorded ids\n"
    )
    compared = cli("-C", str(repo), "compare", "nightly-42", "nightly-43")
    assert compared.returncode == 1 and "did you mean nightly-42?" in compared.stderr
    unlike = cli("-C", str(repo), "show", "zzz")
    assert unlike.returncode == 1
    assert "did you mean" not in unlike.stderr and "`gitprov list` shows" in unlike.stderr


def test_the_nearest_ids_are_found_among_many_at_once(repo: Path) -> None:
    """Among 100k Kedro ids the suggestion comes from the ids next to it (a difflib pass
    over all of them takes seconds), and names the run just before it in time first."""
    ids = [
        f"2026-{m:02d}-{d:02d}T{h:02d}.{mi:02d}.07.123Z"
        for m in range(1, 11)
        for d in range(1, 26)
        for h in range(20)
        for mi in range(0, 60, 3)
    ]
    log = SessionLog(repo)
    started = time.perf_counter()
    error = log._not_found("2026-03-02T15.58.14.334Z", sorted(ids))
    assert time.perf_counter() - started < 0.5
    assert "did you mean 2026-03-02T15.57.07.123Z, " in str(error)


def test_an_id_written_with_colons_finds_the_kedro_id(repo: Path) -> None:
    save(repo, *KEDRO_IDS, "run:1", "run.1")
    shown = cli("-C", str(repo), "show", "--format", "json", "2026-11-29T17:04:09.123Z")
    assert shown.returncode == 0, shown.stderr
    assert f'"session_id": "{KEDRO_IDS[0]}"' in shown.stdout
    log = SessionLog(repo)
    assert log.resolve("2026-11-29T17:04:10") == KEDRO_IDS[1]  # a prefix, as started_at
    assert log.get("2026-11-30T08:00")["session_id"] == KEDRO_IDS[2]
    assert log.resolve("run:1") == "run:1" and log.resolve("run.1") == "run.1"
    ambiguous = cli("-C", str(repo), "show", "2026-11-29T17:04")
    assert ambiguous.returncode == 1 and "ambiguous" in ambiguous.stderr
    invalid = cli("-C", str(repo), "show", "../x:1")
    assert invalid.returncode == 1 and "invalid session id" in invalid.stderr


# -- empty states ---------------------------------------------------------------------------


def test_with_no_record_at_all_the_commands_say_how_to_record_one(
    repo: Path, tmp_path: Path
) -> None:
    for args in (
        ["show", "x"],
        ["diff", "x"],
        ["checkout", "x", str(tmp_path / "out")],
        ["compare", "x", "y"],
        ["which", "README.md"],
    ):
        proc = cli("-C", str(repo), *args)
        assert proc.returncode == 1, args
        assert FIRST_RUN in proc.stderr, (args, proc.stderr)
        assert "gitprov fetch" not in proc.stderr  # no remote to fetch from
    assert SessionLog(repo).nothing_recorded() is not None
    save(repo, "one")
    assert SessionLog(repo).nothing_recorded() is None
    assert FIRST_RUN not in cli("-C", str(repo), "show", "x").stderr


def test_a_fresh_clone_is_told_to_fetch_the_records(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin")
    save(origin, "first")
    git(tmp_path, "clone", "-q", str(origin), "clone")  # brings no refs/provenance/*
    clone = tmp_path / "clone"
    proc = cli("-C", str(clone), "show", "first")
    assert proc.returncode == 1
    assert "if origin has records (a teammate's runs), `gitprov fetch` brings them" in (proc.stderr)
    assert FIRST_RUN in proc.stderr
    assert cli("-C", str(clone), "fetch").returncode == 0  # works as printed
    assert cli("-C", str(clone), "show", "first").returncode == 0
    assert SessionLog(clone).nothing_recorded() is None


# -- Kedro ----------------------------------------------------------------------------------


def test_kedro_run_names_its_session_and_a_store_error_is_one_line(tmp_path: Path) -> None:
    project = make_kedro_project(tmp_path / "project", store_args={"dirty": "refuse"})
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "project")
    ran = kedro_run(project)
    assert ran.returncode == 0, ran.stderr
    log = SessionLog(project)
    (session_id,) = log.ids()
    said = [line for line in ran.stderr.splitlines() if line.startswith("gitprov:")]
    assert said == [
        f"gitprov: recorded session {session_id} in {log.git.root} (refs/provenance/sessions)"
    ]

    (project / "conf/base/parameters.yml").write_text("n: 5\nfail: false\n")
    refused = kedro_run(project)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        'gitprov: error: "dirty": "refuse" in SESSION_STORE_ARGS: the work tree has '
        "uncommitted changes: conf/base/parameters.yml (modified). Commit or stash them, or "
        'use "dirty": "warn" in SESSION_STORE_ARGS (or allow).'
    ]
    assert "Traceback" not in refused.stdout
    assert SessionLog(project).ids() == [session_id]


# -- hints name the options their reader types -----------------------------------------------


def test_hints_name_command_line_options_on_the_command_line(repo: Path) -> None:
    (repo / "README.md").write_text("changed\n")
    refused = cli("-C", str(repo), "run", "--dirty", "refuse", "--", "true")
    assert refused.returncode == 1
    assert "--dirty refuse: the work tree has uncommitted changes" in refused.stderr
    assert "or use --dirty warn (or allow)" in refused.stderr
    assert "dirty=" not in refused.stderr and "SESSION_STORE_ARGS" not in refused.stderr
    assert cli("-C", str(repo), "run", "--dirty", "warn", "--", "true").returncode == 0

    unpushed = cli("-C", str(repo), "run", "--require-pushed", "--", "true")
    assert unpushed.returncode == 1 and "or use --no-require-pushed." in unpushed.stderr
    assert "require_pushed" not in unpushed.stderr
    assert cli("-C", str(repo), "run", "--no-require-pushed", "--", "true").returncode == 0

    assert cli("-C", str(repo), "run", "--id", "x", "--", "true").returncode == 0
    again = cli("-C", str(repo), "run", "--id", "x", "--", "true")
    assert again.returncode == 1 and "(--replace)" in again.stderr
    assert "replace=" not in again.stderr


def test_hints_name_keywords_in_python(repo: Path) -> None:
    (repo / "README.md").write_text("changed\n")
    # record() checks the repository when called, before its block
    with pytest.raises(DirtyWorkTreeError, match=r"or use dirty='warn' \(or allow\)"):
        gitprov.record(repo, dirty="refuse")
    with pytest.raises(UnpushedCommitError, match="or use require_pushed=False"):
        gitprov.record(repo, require_pushed=True)
    with gitprov.record(repo, session_id="x"):
        pass
    with pytest.raises(SessionExistsError, match=r"\(replace=True\)"):
        gitprov.record(repo, session_id="x")


def test_option_renders_each_form() -> None:
    assert option("max_changes", 5) == "max_changes=5"
    with option_style("cli"):
        assert option("max_changes", 5) == "--max-changes 5"
        assert option("snapshot", False) == "--no-snapshot"
        assert option("replace", True) == "--replace"
        with option_style("kedro"):
            assert option("dirty", "warn") == '"dirty": "warn" in SESSION_STORE_ARGS'
            assert option("snapshot", False) == '"snapshot": False in SESSION_STORE_ARGS'
        assert option("dirty", "warn") == "--dirty warn"
    assert option("dirty", "warn") == "dirty='warn'"


# -- gitprov run ----------------------------------------------------------------------------


def test_run_takes_every_recording_option() -> None:
    import gitprov.cli.run as run_module

    taken = {param.name for param in run_module.run.params}
    on_the_group = {param.name for param in main.params}
    assert {"ref", "notes_ref"} <= on_the_group
    assert set(OPTIONS) - {"ref", "notes_ref"} <= taken, set(OPTIONS) - taken
    for param in run_module.run.params:
        assert param.name == "command" or getattr(param, "help", None), param.name


def test_run_options_reach_the_record(repo: Path) -> None:
    (repo / "README.md").write_text("changed\n")
    (repo / "new").mkdir()
    (repo / "new/a.txt").write_text("aaaa\n")
    (repo / "new/b.txt").write_text("bbbb\n")
    args = ["--no-snapshot", "--max-changes", "1", "--untracked", "normal"]
    args += ["--secret-key", "flavour", "--", "true", "flavour=vanilla"]
    assert cli("-C", str(repo), "run", *args).returncode == 0
    record = last_record(repo)
    section = record["git"]
    assert isinstance(section, dict)
    assert section["snapshot"] is None and section["change_count"] == 2  # new/ as one
    assert len(section["changes"]) == 1
    assert record["run"]["argv"] == ["true", "flavour=***"]  # type: ignore[index]

    sizes = ["--snapshot-max-bytes", "1", "--snapshot-max-total-bytes", "1", "--", "true"]
    assert cli("-C", str(repo), "run", *sizes).returncode == 0
    skipped = last_record(repo)["git"]["snapshot_skipped"]  # type: ignore[index]
    reasons = {item["path"]: item["reason"] for item in skipped}
    assert "1-byte snapshot limit" in reasons["new/a.txt"]
    assert "1-byte budget" in reasons["README.md"]


def test_a_command_that_is_not_found_says_so_and_is_recorded_as_failed(repo: Path) -> None:
    proc = cli("-C", str(repo), "run", "--", "nosuchprog-gitprov", "--flag")
    assert proc.returncode == 127
    log = SessionLog(repo)
    assert proc.stderr.splitlines() == [
        "gitprov: error: nosuchprog-gitprov: command not found",
        f"gitprov: recorded session {log.ids()[-1]} in {log.git.root} (refs/provenance/sessions)",
    ]
    run = last_record(repo)["run"]
    assert isinstance(run, dict)
    assert run["status"] == "failed" and run["exit_code"] == 127
    assert run["error"]["message"] == "nosuchprog-gitprov: command not found"

    script = repo / "gone.sh"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    proc = cli("-C", str(repo), "run", "--", "./gone.sh")
    assert proc.returncode == 127
    assert proc.stderr.splitlines()[0] == (
        "gitprov: error: ./gone.sh: cannot execute: required file not found (its #! interpreter?)"
    )
    assert last_record(repo)["run"]["status"] == "failed"  # type: ignore[index]

    escaping = cli("-C", str(repo), "run", "--", "no\x1b[2Jsuch")  # the terminal is not cleared
    assert escaping.stderr.splitlines()[0] == "gitprov: error: no\\x1b[2Jsuch: command not found"


# -- make demo ------------------------------------------------------------------------------


def test_the_demo_ends_with_a_command_that_works_as_printed(repo: Path) -> None:
    import demo

    save(repo, "demo-run")
    explore, activate, report = demo.explore(repo)
    command = explore.removeprefix("Explore it yourself: ")
    env = {k: v for k, v in os.environ.items() if k != "PATH"} | {"PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        shlex.split(command), capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "demo-run" in proc.stdout
    sourced = activate.split("`")[1].removeprefix("source ")
    assert Path(shlex.split(sourced)[0]).is_file()
    assert Path(sys.executable).parent == Path(shlex.split(command)[0]).parent
    assert report == f"The report: {repo / demo.REPORT}"
