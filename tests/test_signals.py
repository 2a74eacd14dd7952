"""SIGTERM and SIGHUP (a CI cancel, a closed terminal, ``kill``) stop a run but still leave
its record: ``run.status: interrupted`` and ``run.signal``, and the process ends with the
status a killed process reports. Real processes only: a ``python -m kedro run``, a script
using ``gitprov.record()``, ``gitprov run``; each is stopped while it is inside the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gitprov import SessionLog

from conftest import git, make_repo
from kedro_project import MARKER_ENV, PAUSE_ENV, kedro_env, make_kedro_project

SIGNALS = [signal.SIGTERM, signal.SIGHUP]
GITPROV = [sys.executable, "-c", "from gitprov.cli import main; main()"]


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    """Poll ``ready()`` until true; fail with the process's output if it ends first."""
    deadline = time.monotonic() + 60
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"never {what} (exit {proc.returncode}): {out}{err}")
        time.sleep(0.05)


def only_record(repo: Path) -> dict[str, Any]:
    log = SessionLog(repo)
    (session_id,) = log.ids()
    return log.get(session_id)


def note_on_head(repo: Path) -> str:
    return git(repo, "notes", "--ref", "provenance", "show", "HEAD")


# -- kedro run ----------------------------------------------------------------------------


def start_kedro(
    root: Path, pause: Path, *args: str, env: dict[str, str] | None = None, **popen: Any
) -> subprocess.Popen[str]:
    """``python -m kedro run *args``, with ``total`` pausing (and ``pause`` created) and
    ``report`` leaving ``pause.end`` if it ever runs."""
    env = {PAUSE_ENV: str(pause), MARKER_ENV: str(pause.with_suffix(".end")), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "kedro", "run", *args],
        cwd=root,
        env=kedro_env(root, env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


@pytest.mark.parametrize("signum", SIGNALS)
def test_kedro_run_stopped_by_a_signal_is_recorded(tmp_path: Path, signum: int) -> None:
    root = make_repo(make_kedro_project(tmp_path / "proj"), {})
    pause = tmp_path / "paused"
    proc = start_kedro(root, pause)
    wait_until(pause.exists, proc, "reached the total node")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, out + err  # as a shell reports a killed process
    assert not pause.with_suffix(".end").exists()  # the last node never ran
    record = only_record(root)
    run = record["run"]
    assert run["status"] == "interrupted"
    assert run["signal"] == signal.Signals(signum).name
    assert run["nodes"]["completed"] == ["make_numbers"]
    assert run["finished_at"] is not None and run["duration_s"] < 30
    assert record["exception"]["type"] == "gitprov.signals.Stopped"  # Kedro's own key
    assert "status: interrupted" in note_on_head(root)


def test_parallel_kedro_run_stopped_with_its_workers(tmp_path: Path) -> None:
    """A CI cancel signals the whole process group: the forked workers, which inherited the
    handler, die of the signal; the main process records."""
    root = make_repo(make_kedro_project(tmp_path / "proj"), {})
    pause = tmp_path / "paused"
    proc = start_kedro(
        root,
        pause,
        "--runner",
        "ParallelRunner",
        env={"KEDRO_MP_CONTEXT": "fork"},
        start_new_session=True,  # a group of its own, signalled without hitting pytest
    )
    wait_until(pause.exists, proc, "reached the total node")
    os.killpg(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    run = only_record(root)["run"]
    assert run["status"] == "interrupted" and run["signal"] == "SIGTERM"
    assert run["runner"] == "ParallelRunner"
    assert run["nodes"]["completed"] == ["make_numbers"]


# -- gitprov.record() -----------------------------------------------------------------------

RECORDED_SCRIPT = """\
import signal, sys, time
from pathlib import Path

import gitprov

repo, pause = sys.argv[1], Path(sys.argv[2])
with gitprov.record(repo, session_id="stopped"):
    pause.touch()
    time.sleep(60)
"""


@pytest.mark.parametrize("signum", SIGNALS)
def test_record_block_stopped_by_a_signal_is_recorded(repo: Path, signum: int) -> None:
    pause = repo.parent / "paused"
    proc = subprocess.Popen(
        [sys.executable, "-c", RECORDED_SCRIPT, str(repo), str(pause)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(pause.exists, proc, "entered the block")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, out + err
    assert err == ""  # a stop, not a crash: no traceback
    run = SessionLog(repo).get("stopped")["run"]
    assert run["status"] == "interrupted"
    assert run["signal"] == signal.Signals(signum).name
    assert run["error"]["type"] == "gitprov.signals.Stopped"
    assert run["error"]["message"] == f"stopped by {signal.Signals(signum).name}"
    assert run["duration_s"] < 30
    assert "status: interrupted" in note_on_head(repo)


USERS_HANDLER_SCRIPT = """\
import signal, sys, time
from pathlib import Path

import gitprov

repo, pause = sys.argv[1], Path(sys.argv[2])


def mine(signum, frame):
    raise RuntimeError("the script's own handler ran")


signal.signal(signal.SIGTERM, mine)
try:
    with gitprov.record(repo, session_id="handled"):
        pause.touch()
        time.sleep(60)
except RuntimeError:
    print(signal.getsignal(signal.SIGTERM) is mine)
    print(signal.getsignal(signal.SIGHUP) is signal.SIG_DFL)
"""


def test_record_leaves_a_users_handler_alone(repo: Path) -> None:
    pause = repo.parent / "paused"
    proc = subprocess.Popen(
        [sys.executable, "-c", USERS_HANDLER_SCRIPT, str(repo), str(pause)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(pause.exists, proc, "entered the block")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    # The user's handler ran and is still in place; SIGHUP, caught during the block, is
    # back to the default after it.
    assert out.split() == ["True", "True"]
    run = SessionLog(repo).get("handled")["run"]
    assert run["status"] == "failed" and "signal" not in run
    assert run["error"]["message"] == "the script's own handler ran"


FORKING_SCRIPT = """\
import os, signal, sys

import gitprov

with gitprov.record(sys.argv[1], session_id="forked"):
    child = os.fork()
    if child == 0:  # inherits the handlers, but has no record to write
        os.kill(os.getpid(), signal.SIGTERM)
        os._exit(0)  # not reached: the signal kills the child
    _, status = os.waitpid(child, 0)
    print(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM)
"""


def test_a_forked_child_dies_of_the_signal_as_usual(repo: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", FORKING_SCRIPT, str(repo)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True"]
    assert SessionLog(repo).get("forked")["run"]["status"] == "success"


# -- gitprov run ----------------------------------------------------------------------------


def sleeping_child(pid: int) -> bool:
    """Whether ``pid``'s child is ``sleep`` already (not the forked Python before exec)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return any(
            Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0] == b"sleep"
            for child in children
        )
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("signum", SIGNALS)
def test_gitprov_run_stopped_by_a_signal_is_recorded(repo: Path, signum: int) -> None:
    proc = subprocess.Popen(
        [*GITPROV, "-C", str(repo), "run", "--", "sleep", "5"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: sleeping_child(proc.pid), proc, "started sleep")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signum, out + err  # gitprov dies of it, as its command did
    run = only_record(repo)["run"]
    assert run["status"] == "interrupted"
    assert run["signal"] == signal.Signals(signum).name
    assert run["exit_code"] == 128 + signum
    assert run["duration_s"] < 5  # stopped, not slept through
