"""Running the user's own programs: the command of ``gitprov run``, a pre-push hook
gitprov's took the place of (:func:`run_hook`), and the pager (:func:`start_pager`).

These are not git calls, so they do not go through :mod:`gitprov.git.process`. The command gets
our stdin, stdout and stderr (its output streams as it is written; nothing is captured)
and our environment. Signals sent to us are passed on to it, its end is reported as a
shell reports one (127 not found, 126 not runnable, 128+N killed by signal N), and
:func:`exit_like` lets ``gitprov`` end exactly as the command did.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType
from typing import NoReturn

from gitprov.model.run import error_of
from gitprov.model.sections import FAILED, INTERRUPTED, SUCCESS, RunError, RunStatus

#: Signals passed on to the command.
FORWARDED = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
    if hasattr(signal, name)
)

#: Deaths by these signals mean the run was stopped, not that it failed on its own.
STOPPING = frozenset(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGKILL")
    if hasattr(signal, name)
)


@dataclass(frozen=True)
class Outcome:
    """How the command ended."""

    exit_code: int  # as a shell reports it: 128+N for signal N
    signal: int | None = None
    error: RunError | None = None  # why it could not start

    @property
    def status(self) -> RunStatus:
        if self.exit_code == 0:
            return SUCCESS
        return INTERRUPTED if self.signal in STOPPING else FAILED

    @property
    def signal_name(self) -> str | None:
        return signal.Signals(self.signal).name if self.signal is not None else None


def _terminal_delivers_sigint() -> bool:
    """Whether a SIGINT came from the terminal, which sends it to the command too.

    True when our process group is the terminal's foreground group: Ctrl-C then reached
    the command already, and passing it on would interrupt the command twice.
    """
    for fd in (0, 1, 2):
        try:
            return os.tcgetpgrp(fd) == os.getpgrp()
        except (OSError, AttributeError):
            continue
    return False


def run(argv: Sequence[str], cwd: str) -> Outcome:
    """Run ``argv`` in ``cwd`` to its end, passing on the signals we receive."""
    proc: subprocess.Popen[bytes] | None = None
    pending: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and _terminal_delivers_sigint():
            return
        if proc is None:
            pending.append(signum)  # arrived while the command was being started
        else:
            proc.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    try:
        try:
            proc = subprocess.Popen(list(argv), cwd=cwd)
        except FileNotFoundError as exc:
            return Outcome(127, error=error_of(exc, message=_not_found(argv[0], cwd)))
        except OSError as exc:
            message = f"{argv[0]}: cannot execute: {exc.strerror or exc}"
            return Outcome(126, error=error_of(exc, message=message))
        for signum in pending:
            proc.send_signal(signum)
        returncode = proc.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if returncode < 0:
        return Outcome(128 - returncode, signal=-returncode)
    return Outcome(returncode)


def _not_found(program: str, cwd: str) -> str:
    """Why ``program`` could not start (ENOENT), in a shell's words: it is nowhere to be
    found, or it is there but what it needs to run (its ``#!`` interpreter) is not."""
    there = (
        os.path.exists(os.path.join(cwd, program)) if os.sep in program else shutil.which(program)
    )
    if there:
        return f"{program}: cannot execute: required file not found (its #! interpreter?)"
    return f"{program}: command not found"


def exit_like(outcome: Outcome) -> NoReturn:
    """End this process as the command ended: same exit status, or same signal."""
    if outcome.signal is not None:
        # The command dumped its own core if it was going to; ours would be noise.
        with contextlib.suppress(ImportError, ValueError, OSError):
            import resource

            _, hard = resource.getrlimit(resource.RLIMIT_CORE)
            resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
        signal.signal(outcome.signal, signal.SIG_DFL)
        os.kill(os.getpid(), outcome.signal)
    sys.exit(outcome.exit_code)  # the signal did not end us (or there was none)


def run_hook(argv: Sequence[str], data: bytes | None) -> int:
    """Run a hook as git would (``data`` on its stdin) and return its exit status; one
    without a ``#!`` line runs with the shell, as git runs it. ``OSError`` when it cannot
    run at all."""
    try:
        return subprocess.run(list(argv), input=data, check=False).returncode
    except OSError as exc:
        if exc.errno != errno.ENOEXEC:
            raise
        return subprocess.run(["/bin/sh", *argv], input=data, check=False).returncode


def start_pager(argv: Sequence[str]) -> subprocess.Popen[bytes] | None:
    """The user's pager, started reading a pipe (``LESS=FRX`` and ``LV=-c`` unless set, as
    git sets them); ``None`` when it cannot start (not installed, not executable)."""
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    try:
        return subprocess.Popen(list(argv), stdin=subprocess.PIPE, env=env)
    except OSError:
        return None


def wait_pager(proc: subprocess.Popen[bytes]) -> None:
    """Wait for the pager to end, through Ctrl-C as git does (less stays in charge of
    the terminal until the user quits it)."""
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt:
            continue
