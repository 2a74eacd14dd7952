"""``gitprov.record``: plain Python runs recorded like Kedro sessions."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

import gitprov
from gitprov import DirtyWorkTreeError, InvalidSessionIdError, NotAGitRepositoryError, SessionLog
from gitprov.recorder import new_session_id
from gitprov.state.environment import find_project, packages

from conftest import git, make_repo

KEDRO_ID = re.compile(r"\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d\.\d{3}Z")


def only_record(repo: Path) -> dict[str, object]:
    log = SessionLog(repo)
    (session_id,) = log.ids()
    return log.get(session_id)


def test_success_records_data_status_timing_and_environment(repo: Path) -> None:
    git(repo, "config", "user.name", "Ada Lovelace")
    git(repo, "config", "user.email", "ada@example.com")
    with gitprov.record(repo, params={"lr": 0.1}) as rec:
        rec["metrics"] = {"loss": 0.25}
        rec.run["epochs"] = 3
    record = only_record(repo)
    assert KEDRO_ID.fullmatch(rec.session_id)
    assert record["session_id"] == rec.session_id
    assert record["params"] == {"lr": 0.1}
    assert record["metrics"] == {"loss": 0.25}
    run = record["run"]
    assert list(run) == [
        "status",
        "argv",
        "cwd",
        "user",
        "inputs",
        "epochs",
        "started_at",
        "finished_at",
        "duration_s",
        "error",
        "outputs",
    ]
    assert run["user"] == {"name": "Ada Lovelace", "email": "ada@example.com"}
    assert run["inputs"] == run["outputs"] == []
    assert run["status"] == "success" and run["error"] is None
    assert run["argv"] == sys.argv and run["cwd"] == os.getcwd()
    assert run["started_at"] <= run["finished_at"]
    assert 0 <= run["duration_s"] < 60
    assert record["git"]["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert set(record["provenance"]["host"]) == {"hostname", "platform", "python"}
    assert "username" in record


def test_exception_is_recorded_with_traceback_and_reraised(repo: Path) -> None:
    with pytest.raises(ValueError, match="bad input"), gitprov.record(repo, session_id="r1"):
        raise ValueError("bad input")
    run = SessionLog(repo).get("r1")["run"]
    assert run["status"] == "failed"
    error = run["error"]
    assert error["type"] == "ValueError" and error["message"] == "bad input"
    assert error["traceback"][0] == "Traceback (most recent call last):"
    assert any('raise ValueError("bad input")' in line for line in error["traceback"])
    assert error["traceback"][-1] == "ValueError: bad input"
    note = git(repo, "notes", "--ref", "provenance", "show", "HEAD")
    assert "session_id: r1" in note and "status: failed" in note


def test_dirty_run_gets_a_snapshot(repo: Path) -> None:
    (repo / "src" / "app.py").write_text("print(2)\n")
    (repo / "new.py").write_text("new\n")
    with gitprov.record(repo, session_id="r8"):
        pass
    section = SessionLog(repo).get("r8")["git"]
    assert section["dirty"] is True
    assert git(repo, "show", f"{section['snapshot']}:src/app.py") == "print(2)\n"
    assert git(repo, "show", f"{section['snapshot']}:new.py") == "new\n"


def test_a_racily_clean_change_is_in_the_snapshot(tmp_path: Path) -> None:
    """A same-size edit in the second the index was written looks clean by its stat data
    (git compares whole seconds), so git reads such a "racy" file again; the snapshot's
    scratch copy of the index must keep it racy, not date it now and miss the edit."""
    repo = tmp_path / "racy"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "core.trustctime", "false")  # ctime cannot be set back
    app = repo / "app.py"
    then = (time.time_ns() // 10**9 - 10) * 10**9  # a whole second, well past
    app.write_text("print(1)\n")
    os.utime(app, ns=(then, then))
    git(repo, "add", "app.py")
    git(repo, "commit", "-qm", "initial")
    app.write_text("print(2)\n")  # same size, same second
    os.utime(app, ns=(then, then + 1))
    os.utime(repo / ".git" / "index", ns=(then, then + 2))  # index written that second too
    with gitprov.record(repo, session_id="racy"):
        pass
    section = SessionLog(repo).get("racy")["git"]
    assert section["dirty"] is True
    assert git(repo, "show", f"{section['snapshot']}:app.py") == "print(2)\n"


def test_keyboard_interrupt_is_recorded_as_interrupted_and_reraised(repo: Path) -> None:
    with pytest.raises(KeyboardInterrupt), gitprov.record(repo, session_id="r2"):
        raise KeyboardInterrupt
    run = SessionLog(repo).get("r2")["run"]
    assert run["status"] == "interrupted"
    assert run["error"]["type"] == "KeyboardInterrupt"
    note = git(repo, "notes", "--ref", "provenance", "show", "HEAD")
    assert "status: interrupted" in note


def test_sigterm_and_sighup_are_caught_only_during_the_block(repo: Path) -> None:
    """Over the default handler only (``nohup``'s SIG_IGN stays), and put back however the
    block ends. Stopping a block with a signal is tested in real processes (test_signals)."""
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        with gitprov.record(repo, session_id="r9"):
            assert callable(signal.getsignal(signal.SIGTERM))
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        with pytest.raises(ValueError), gitprov.record(repo, session_id="r10"):
            assert callable(signal.getsignal(signal.SIGTERM))
            raise ValueError
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@pytest.mark.parametrize(("code", "status"), [(0, "success"), (None, "success"), (3, "failed")])
def test_system_exit(repo: Path, code: int | None, status: str) -> None:
    with pytest.raises(SystemExit), gitprov.record(repo, session_id="r3"):
        sys.exit(code)
    run = SessionLog(repo).get("r3")["run"]
    assert run["status"] == status
    assert (run["error"] is not None) == (status == "failed")


def test_block_may_set_the_status(repo: Path) -> None:
    with gitprov.record(repo, session_id="r4") as rec:
        rec.run["status"] = "failed"
    assert SessionLog(repo).get("r4")["run"]["status"] == "failed"


def test_repository_and_id_are_checked_before_the_block(repo: Path, tmp_path: Path) -> None:
    ran = []
    with pytest.raises(InvalidSessionIdError), gitprov.record(repo, session_id="../escape"):
        ran.append(1)
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    with pytest.raises(NotAGitRepositoryError), gitprov.record(outside):
        ran.append(2)
    assert ran == []
    assert SessionLog(repo).ids() == []


def test_store_options_configure_the_recording_not_the_record(repo: Path) -> None:
    (repo / "wip.py").write_text("work in progress\n")
    ran = []
    with pytest.raises(DirtyWorkTreeError), gitprov.record(repo, "p1", dirty="refuse"):
        ran.append(1)
    assert ran == [] and SessionLog(repo).ids() == []
    with gitprov.record(repo, "p2", dirty="warn", snapshot=False, params={"a": 1}):
        pass
    record = SessionLog(repo).get("p2")
    assert record["params"] == {"a": 1} and "dirty" not in record and "snapshot" not in record
    assert record["git"]["policy"]["dirty"] == "warn" and record["git"]["snapshot"] is None


def test_secrets_in_data_never_reach_git(repo: Path) -> None:
    with gitprov.record(
        repo, session_id="r5", params={"api_key": "s3cr3t", "db": [{"password": "hunter2"}]}
    ) as rec:
        rec["connection"] = "postgres://db?sslmode=require&password=pw0rd"
    record = SessionLog(repo).get("r5")
    assert record["params"] == {"api_key": "***", "db": [{"password": "***"}]}
    assert record["connection"] == "postgres://db?sslmode=require&password=***"
    everything = git(repo, "log", "-p", "--all")
    for secret in ("s3cr3t", "hunter2", "pw0rd"):
        assert secret not in everything


def test_generated_ids_are_unique_and_ordered() -> None:
    ids = [new_session_id() for _ in range(20)]
    assert all(KEDRO_ID.fullmatch(i) for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 20


def test_packages_the_project_declares(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {
            "pyproject.toml": '[project]\nname = "x"\ndependencies = ["PyYAML>=6", "click"]\n',
            "requirements.txt": (
                "# pinned\nclick==8.*\nno-such-package-gitprov ; python_version > '3'\n"
                "-r other.txt\n"
            ),
            "sub/dir/run.py": "",
        },
    )
    assert find_project(repo / "sub" / "dir", repo) == repo
    assert packages(repo) == {
        "click": version("click"),
        "no-such-package-gitprov": None,
        "pyyaml": version("PyYAML"),
    }
    with gitprov.record(repo / "sub" / "dir", session_id="r6"):
        pass
    assert SessionLog(repo).get("r6")["provenance"]["packages"] == packages(repo)


def test_no_declared_dependencies_means_no_packages(repo: Path) -> None:
    assert find_project(repo / "src", repo) is None
    with gitprov.record(repo, session_id="r7"):
        pass
    assert "packages" not in SessionLog(repo).get("r7")["provenance"]
