"""Shared fixtures: real git repositories in temporary directories, and the command line."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gitprov.cli import main
from gitprov.model.run import PARENT_ENV

os.environ["KEDRO_DISABLE_TELEMETRY"] = "1"

# A run started under nohup (or by a CI runner that ignores SIGHUP) hands SIG_IGN on to
# every child, and gitprov rightly leaves an ignored signal alone: the signal tests need
# the default disposition, as in a terminal.
if hasattr(signal, "SIGHUP"):
    signal.signal(signal.SIGHUP, signal.SIG_DFL)

#: An identity for the tests' own commits; gitprov itself needs none.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run git in a test repository (test set-up only; gitprov uses its own runner)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    proc = subprocess.run(
        ["git", "-C", str(cwd), *args], env=env, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def make_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    """A repository with one commit holding ``files`` on branch ``main``."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, content in (files or {"README.md": "hello\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def every_object(repo: Path) -> bytes:
    """Every object the repository holds, loose or packed, reachable or not, as
    ``cat-file --batch`` prints them: what a grep for a secret must search."""
    return subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True,
        check=True,
    ).stdout


def remove_object(repo: Path, sha: str) -> None:
    """Make ``sha`` unreadable: unpack everything loose, then delete its file."""
    aside = repo.parent / "packs-aside"
    aside.mkdir(exist_ok=True)
    for packed in (repo / ".git" / "objects" / "pack").glob("pack-*"):
        packed.rename(aside / packed.name)
    for pack in aside.glob("*.pack"):
        with pack.open("rb") as stdin:
            subprocess.run(
                ["git", "-C", str(repo), "unpack-objects", "-q"], stdin=stdin, check=True
            )
    path = repo / ".git" / "objects" / sha[:2] / sha[2:]
    path.chmod(0o644)
    path.unlink()


#: Modules whose tests share module-scoped fixtures that take seconds (a few ``kedro run``):
#: under pytest-xdist one worker runs each of them whole, so they are built once, not once
#: per worker. (xdist's own ``loadgroup`` does not group under pytest 9.)
ONE_WORKER_MODULES = frozenset(
    {"tests/test_kedro_e2e.py", "tests/test_what_went_in.py", "tests/test_report_browser.py"}
)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's load scheduling, one test at a time, but :data:`ONE_WORKER_MODULES` whole."""
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.partition("::")[0]
            return module if module in ONE_WORKER_MODULES else nodeid

    return Scheduling(config, log)


def _isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """No user or system git config leaks in: tests see git's defaults only, and no
    enclosing recorded run."""
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv(PARENT_ENV, raising=False)  # the suite may itself run under gitprov run


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    _isolate(monkeypatch, tmp_path_factory.mktemp("home"))
    yield


@pytest.fixture(scope="module")
def isolated_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The same isolation, for module-scoped fixtures (``_isolated_home`` is per test)."""
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, tmp_path_factory.mktemp("module-home"))
        yield


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fresh repository with one commit on ``main``."""
    return make_repo(tmp_path / "repo", {"README.md": "hello\n", "src/app.py": "print(1)\n"})


#: What a CLI invocation could leave behind in the test process, if it leaked.
_WATCHED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _process_state() -> tuple[dict[str, str], str, list[object]]:
    return dict(os.environ), os.getcwd(), [signal.getsignal(s) for s in _WATCHED_SIGNALS]


@contextmanager
def _as_a_fresh_process(cwd: Path | None) -> Iterator[None]:
    """Run a command in-process as a new ``gitprov`` process would: in ``cwd``, with no
    logging handler (Python's last resort prints warnings on stderr, as in a process),
    and fail if it changed the environment, the folder or signal handlers, or left a
    thread running."""
    start = os.getcwd()
    expected = _process_state()
    if cwd is not None:
        expected = (expected[0], os.path.realpath(cwd), expected[2])
    threads = set(threading.enumerate())
    root = logging.getLogger()
    handlers = root.handlers[:]
    root.handlers.clear()
    try:
        if cwd is not None:
            os.chdir(cwd)
        yield
        left = _process_state()
        running = set(threading.enumerate()) - threads
    finally:
        os.chdir(start)
        root.handlers[:] = handlers
    assert left == expected, "the command changed the environment, folder or signal handlers"
    assert not running, f"the command left threads running: {running}"


def cli(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    process: bool = False,
    text: bool = True,
) -> subprocess.CompletedProcess[Any]:
    """``gitprov *args`` as a user runs it: exit status, stdout and stderr apart (``str``,
    or ``bytes`` when ``text`` is false).

    In-process through click's ``CliRunner`` (about 20 ms against 230 ms for a new Python)
    unless ``process`` is true: for what only a process shows (``gitprov run``'s child and
    signals, several gitprov processes at once, a kill). ``env`` is added to the
    environment; an error that is not gitprov's propagates, as a crash would show.
    """
    if process:
        return subprocess.run(
            [sys.executable, "-m", "gitprov", *args],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            text=text,
            timeout=300,
            check=False,
        )
    with _as_a_fresh_process(cwd):
        result = CliRunner().invoke(
            main, list(args), input=input, env=env, prog_name="gitprov", catch_exceptions=False
        )
    if text:
        return subprocess.CompletedProcess(
            ["gitprov", *args], result.exit_code, result.stdout, result.stderr
        )
    return subprocess.CompletedProcess(
        ["gitprov", *args], result.exit_code, result.stdout_bytes, result.stderr_bytes
    )
