"""``gitprov run -- CMD``: any command, recorded, ending exactly as the command ended."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gitprov import SessionLog

from conftest import cli, git

GITPROV = [sys.executable, "-c", "from gitprov.cli import main; main()"]


def gitprov_run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("-C", str(repo), "run", *args, process=True)


def last_run(repo: Path) -> dict[str, object]:
    log = SessionLog(repo)
    (session_id,) = log.ids()
    run: dict[str, object] = log.get(session_id)["run"]
    return run


def test_success_streams_output_and_records(repo: Path) -> None:
    code = "import sys; print('to stdout'); print('to stderr', file=sys.stderr)"
    proc = gitprov_run(repo, "--", sys.executable, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "to stdout\n"
    assert proc.stderr.startswith("to stderr\n")
    run = last_run(repo)
    assert run["status"] == "success"
    assert run["argv"] == [sys.executable, "-c", code]
    assert run["exit_code"] == 0
    assert run["cwd"] == str(repo)
    assert run["started_at"] <= run["finished_at"]  # type: ignore[operator]
    assert run["error"] is None and "signal" not in run


def test_command_runs_in_the_c_directory(repo: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            *GITPROV,
            "-C",
            str(repo / "src"),
            "run",
            "--",
            sys.executable,
            "-c",
            "import os; print(os.getcwd())",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(repo / "src")


def test_exit_status_is_passed_through(repo: Path) -> None:
    proc = gitprov_run(repo, "--id", "exit-3", "--", sys.executable, "-c", "raise SystemExit(3)")
    assert proc.returncode == 3
    run = SessionLog(repo).get("exit-3")["run"]
    assert run["status"] == "failed" and run["exit_code"] == 3


def test_missing_program_exits_127_and_is_recorded(repo: Path) -> None:
    proc = gitprov_run(repo, "--", "no-such-program-gitprov", "--flag")
    assert proc.returncode == 127
    run = last_run(repo)
    assert run["status"] == "failed"
    assert run["exit_code"] == 127
    assert run["argv"] == ["no-such-program-gitprov", "--flag"]
    assert run["error"] == {
        "type": "FileNotFoundError",
        "message": "no-such-program-gitprov: command not found",
    }


def test_command_killed_by_a_signal(repo: Path) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    proc = gitprov_run(repo, "--", sys.executable, "-c", code)
    assert proc.returncode == -signal.SIGTERM
    run = last_run(repo)
    assert run["status"] == "interrupted"
    assert run["signal"] == "SIGTERM" and run["exit_code"] == 128 + signal.SIGTERM


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_to_gitprov_reach_the_command(repo: Path, signum: int) -> None:
    code = "import time; print('ready', flush=True); time.sleep(60)"
    proc = subprocess.Popen(
        [*GITPROV, "-C", str(repo), "run", "--", sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,  # no terminal: a SIGINT can only have come to gitprov
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signum)
    assert proc.wait(timeout=30) == -signum  # the command died of it, and so did gitprov
    run = last_run(repo)
    assert run["status"] == "interrupted"
    assert run["signal"] == signal.Signals(signum).name
    assert run["duration_s"] < 30  # type: ignore[operator]


def test_secrets_on_the_command_line_are_masked(repo: Path) -> None:
    proc = gitprov_run(
        repo, "--", sys.executable, "-c", "pass", "--password", "hunter2", "API_KEY=s3cr3t"
    )
    assert proc.returncode == 0, proc.stderr
    assert last_run(repo)["argv"] == [
        sys.executable,
        "-c",
        "pass",
        "--password",
        "***",
        "API_KEY=***",
    ]
    everything = git(repo, "log", "-p", "--all")
    assert "hunter2" not in everything and "s3cr3t" not in everything


def test_bad_id_or_no_repository_fails_before_the_command(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = ["--", sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]
    proc = gitprov_run(repo, "--id", "../x", *command)
    assert proc.returncode == 1 and "invalid session id" in proc.stderr
    outside = tmp_path / "outside"
    outside.mkdir()
    proc = gitprov_run(outside, *command)
    assert proc.returncode == 1 and "not inside a git repository" in proc.stderr
    assert not marker.exists()
    assert SessionLog(repo).ids() == []


def test_dirty_policy_refuses_before_the_command(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = ["--", sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]
    (repo / "wip.py").write_text("work in progress\n")
    proc = gitprov_run(repo, "--dirty", "refuse", *command)
    assert proc.returncode == 1 and "dirty" in proc.stderr and not marker.exists()
    proc = gitprov_run(repo, "--require-pushed", *command)  # no upstream to be on
    assert proc.returncode == 1 and not marker.exists()
    assert SessionLog(repo).ids() == []
    proc = gitprov_run(repo, "--dirty", "warn", *command)
    assert proc.returncode == 0 and marker.exists()
    (session_id,) = SessionLog(repo).ids()
    assert SessionLog(repo).get(session_id)["git"]["policy"]["dirty"] == "warn"


def test_a_command_is_required(repo: Path) -> None:
    proc = gitprov_run(repo)
    assert proc.returncode == 2
    assert "Missing argument" in proc.stderr
