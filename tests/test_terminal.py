"""The terminal as git's: a pager and colour on a terminal (a real pseudo-terminal here, and
real ``python -m gitprov`` processes), neither when piped; progress on a terminal's stderr
only; ``gitprov help CMD``; shell completion of session ids."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import gitprov

from conftest import cli, git, make_repo

pty = pytest.importorskip("pty", reason="pseudo-terminals are POSIX")

#: A pager that says it ran, then shows its input.
PAGER = "sh -c 'echo PAGED; cat'"
ESC = b"\x1b["
#: git's core.pager, set through the environment (as ``git -c`` would).
CORE_PAGER = {
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "core.pager",
    "GIT_CONFIG_VALUE_0": "sh -c 'echo CORE; cat'",
}

#: What the user's own environment could set and change the outcome.
_THEIRS = ("GIT_PAGER", "PAGER", "LESS", "NO_COLOR", "TERM", "GITPROV_PROGRESS")


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: bytes  # a terminal's "\r\n" as "\n"
    stderr: bytes


def run(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    tty_out: bool = True,
    tty_err: bool = True,
) -> Ran:
    """``gitprov *args`` in a new process whose stdout and stderr are each a terminal of
    its own (a pseudo-terminal) or a pipe."""
    full = {k: v for k, v in os.environ.items() if k not in _THEIRS}
    full.update({"TERM": "xterm", **(env or {})})
    masters: dict[str, int] = {}
    ends: dict[str, int] = {}
    for name, tty in (("out", tty_out), ("err", tty_err)):
        if tty:
            masters[name], ends[name] = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitprov", *args],
        cwd=cwd,
        env=full,
        stdin=subprocess.DEVNULL,
        stdout=ends.get("out", subprocess.PIPE),
        stderr=ends.get("err", subprocess.PIPE),
    )
    for fd in ends.values():
        os.close(fd)
    got = {name: b"" for name in ("out", "err")}
    readers = {fd: name for name, fd in masters.items()}
    for name, pipe in (("out", proc.stdout), ("err", proc.stderr)):
        if pipe is not None:
            readers[pipe.fileno()] = name
    deadline = time.monotonic() + 120
    while readers and time.monotonic() < deadline:
        ready, _, _ = select.select(list(readers), [], [], 1)
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                data = b""
            if data:
                got[readers[fd]] += data
            else:
                del readers[fd]
    proc.wait(timeout=60)
    for fd in masters.values():
        os.close(fd)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    as_shown = {k: v.replace(b"\r\n", b"\n") for k, v in got.items()}
    return Ran(proc.returncode, as_shown["out"], as_shown["err"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Iterator[Path]:
    """``clean1`` and ``clean2`` (other parameters), ``dirty`` (a changed file), ``big``
    (a record far larger than a pipe's buffer), ``odd`` (terminal escapes in its
    parameters) and a bare remote, ``origin``."""
    root = tmp_path_factory.mktemp("terminal")
    repo = make_repo(root / "repo", {"README.md": "hello\n", "app.py": "print(1)\n"})
    with gitprov.record(repo, session_id="clean1", params={"lr": 0.1}):
        pass
    with gitprov.record(repo, session_id="clean2", params={"lr": 0.2}):
        pass
    (repo / "app.py").write_text("print(2)\n")
    with gitprov.record(repo, session_id="dirty", params={"lr": 0.3}):
        pass
    with gitprov.record(repo, session_id="big", params={f"p{i}": "x" * 60 for i in range(3000)}):
        pass
    with gitprov.record(repo, session_id="odd", params={"lr": "\x1b]0;owned\x07", "k\x1b[2J": 1}):
        pass
    git(root, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(root / "origin.git"))
    yield repo


# -- the pager -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["show", "clean1"], b"session_id: clean1\n"),
        (["diff", "dirty"], b"+print(2)"),
        (["compare", "clean1", "clean2"], b"params.lr"),
        (["list"], b"clean1"),
        (["verify"], b""),  # nothing to say but "ok" (on stdout, after the pager)
    ],
)
def test_pages_on_a_terminal(runs: Path, args: list[str], shown: bytes) -> None:
    ran = run(*args, cwd=runs, env={"PAGER": PAGER})
    assert ran.stdout.startswith(b"PAGED\n")
    assert shown in ran.stdout.partition(b"PAGED\n")[2]


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"GIT_PAGER": "sh -c 'echo GIT; cat'"}, b"GIT"),
        ({"GIT_PAGER": "sh -c 'echo GIT; cat'", **CORE_PAGER}, b"GIT"),
        (CORE_PAGER, b"CORE"),
    ],
    ids=["GIT_PAGER", "GIT_PAGER over core.pager", "core.pager over PAGER"],
)
def test_which_pager(runs: Path, env: dict[str, str], said: bytes) -> None:
    ran = run("show", "clean1", cwd=runs, env={"PAGER": PAGER, **env})
    assert ran.stdout.startswith(said + b"\n")


@pytest.mark.parametrize(
    ("args", "env", "tty_out"),
    [
        (["show", "clean1"], {}, False),  # piped
        (["--no-pager", "show", "clean1"], {}, True),
        (["show", "clean1"], {"PAGER": "cat"}, True),  # as git: cat is no pager
    ],
    ids=["piped", "--no-pager", "PAGER=cat"],
)
def test_no_pager(runs: Path, args: list[str], env: dict[str, str], tty_out: bool) -> None:
    ran = run(*args, cwd=runs, env={"PAGER": PAGER, **env}, tty_out=tty_out)
    assert ran.returncode == 0, ran.stderr
    assert b"PAGED" not in ran.stdout
    assert ran.stdout.startswith(b"session_id: clean1\n")


def test_the_default_pager_is_less_told_to_quit_on_a_short_page(runs: Path) -> None:
    """Without GIT_PAGER or PAGER, less -FRX: a record that fits the screen is shown and
    less quits by itself (no key pressed here)."""
    if subprocess.run(["sh", "-c", "command -v less"], capture_output=True).returncode:
        pytest.skip("less is not installed")
    ran = run("compare", "clean1", "clean2", cwd=runs)
    assert ran.returncode == 0, ran.stderr
    assert b"params.lr" in ran.stdout


def test_a_pager_that_cannot_start_is_skipped(runs: Path) -> None:
    ran = run("show", "clean1", cwd=runs, env={"PAGER": "/nonexistent/pager"})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(b"session_id: clean1\n")


def test_quitting_the_pager_early_is_quiet(runs: Path) -> None:
    """The user quits less after the first screen of a long record: no BrokenPipe."""
    ran = run("show", "big", cwd=runs, env={"PAGER": "head -c 20"})
    assert ran.returncode == 0
    assert ran.stdout.startswith(b"session_id: big\n") and len(ran.stdout) == 20
    assert b"Traceback" not in ran.stderr and b"Broken" not in ran.stderr, ran.stderr


def test_a_reader_that_goes_away_is_quiet(runs: Path) -> None:
    """``gitprov show big | true``: the output is dropped, as a writer killed by SIGPIPE
    would drop it (exit 141), with no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitprov", "show", "big"],
        cwd=runs,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # long before gitprov has its record to write
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert err == b""


# -- colour --------------------------------------------------------------------------------


def test_diff_colours_on_a_terminal(runs: Path) -> None:
    ran = run("--no-pager", "diff", "dirty", cwd=runs)
    assert b"\x1b[1mdiff --git a/app.py b/app.py\x1b[0m\n" in ran.stdout
    assert b"\x1b[36m@@ -1 +1 @@\x1b[0m\n" in ran.stdout
    assert b"\x1b[31m-print(1)\x1b[0m\n\x1b[32m+print(2)\x1b[0m\n" in ran.stdout


def test_list_colours_statuses(runs: Path) -> None:
    ran = run("--no-pager", "list", cwd=runs)
    assert b"\x1b[32msuccess" in ran.stdout


def test_colours_go_through_the_pager(runs: Path) -> None:
    ran = run("compare", "clean1", "clean2", cwd=runs, env={"PAGER": PAGER})
    assert ran.stdout.startswith(b"PAGED\n\x1b[1mKEY ")


@pytest.mark.parametrize(
    ("args", "env", "tty_out"),
    [
        (["diff", "dirty"], {}, False),
        (["diff", "dirty"], {"NO_COLOR": "1"}, True),
        (["--color=never", "diff", "dirty"], {}, True),
        (["diff", "dirty"], {"TERM": "dumb"}, True),
        (["compare", "clean1", "clean2"], {"NO_COLOR": "1"}, True),
    ],
    ids=["piped", "NO_COLOR", "--color=never", "TERM=dumb", "compare NO_COLOR"],
)
def test_no_colour(runs: Path, args: list[str], env: dict[str, str], tty_out: bool) -> None:
    ran = run("--no-pager", *args, cwd=runs, env=env, tty_out=tty_out)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout and ESC not in ran.stdout


def test_a_records_control_characters_never_reach_the_terminal(runs: Path) -> None:
    ran = run("--no-pager", "compare", "clean1", "odd", cwd=runs)
    assert ran.returncode == 0, ran.stderr
    assert b"\\x1b]0;owned\\x07" in ran.stdout and b"params.k\\x1b[2J" in ran.stdout
    assert b"\x1b]" not in ran.stdout and b"\x1b[2J" not in ran.stdout


def test_color_always_when_piped(runs: Path) -> None:
    proc = cli("--color=always", "diff", "dirty", cwd=runs, text=False)
    assert b"\x1b[32m+print(2)\x1b[0m" in proc.stdout


# -- progress ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["fetch"], b"Fetching records from origin"),
        (["sync"], b"Syncing records with origin"),
        (["push"], b"Pushing records to origin"),
        (["checkout", "clean1", "{tmp}/code"], b"Writing the code of clean1 into "),
    ],
    ids=["fetch", "sync", "push", "checkout"],
)
def test_progress_on_a_terminal_only(
    runs: Path, tmp_path: Path, args: list[str], line: bytes
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    fast = {"GITPROV_PROGRESS_DELAY": "0"}
    shown = run(*args, cwd=runs, env=fast, tty_out=False)
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr.startswith(b"\r" + line)
    assert shown.stderr.endswith(b", done.\n")
    assert b"\r" not in shown.stdout  # the report itself goes to stdout, as before
    if args[0] == "checkout":
        args[-1] += "2"
    quiet = run(*args, cwd=runs, env=fast, tty_err=False)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == b""
    assert quiet.stdout and b"\r" not in quiet.stdout


# -- help, -C PATH, completion -------------------------------------------------------------


@pytest.mark.parametrize("command", ["show", "compare", "sync"])
def test_help_command(command: str) -> None:
    asked = cli("help", command)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout == cli(command, "--help").stdout
    assert asked.stdout.startswith(f"Usage: gitprov {command} ")


def test_help_alone_and_unknown() -> None:
    assert cli("help").stdout == cli("--help").stdout
    unknown = cli("help", "nosuch")
    assert unknown.returncode == 2
    assert "no such command 'nosuch'" in unknown.stderr and "hook" not in unknown.stderr


def test_dash_c_says_path() -> None:
    assert "-C PATH " in cli("--help").stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    script = cli(env={"_GITPROV_COMPLETE": f"{shell}_source"})
    assert script.returncode == 0, script.stderr
    assert "_GITPROV_COMPLETE" in script.stdout and f"{shell}_complete" in script.stdout


def test_bash_completes_session_ids_with_the_script(runs: Path) -> None:
    """The README's line, in a real bash: the script calls ``gitprov`` back for the ids."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "gitprov").exists() or shutil.which("bash") is None:
        pytest.skip("needs bash and the gitprov script beside this Python")
    script = (
        'eval "$(_GITPROV_COMPLETE=bash_source gitprov)"; '
        "COMP_WORDS=(gitprov diff cl); COMP_CWORD=2; _gitprov_completion gitprov; "
        'echo "${COMPREPLY[@]}"'
    )
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    done = subprocess.run(
        ["bash", "--norc", "-c", script],
        cwd=runs,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout == "clean1 clean2\n", done.stderr


def complete(*words: str, cwd: Path) -> list[str]:
    """What bash is offered for the last of ``words`` (``gitprov`` first)."""
    env = {
        "_GITPROV_COMPLETE": "bash_complete",
        "COMP_WORDS": " ".join(words),
        "COMP_CWORD": str(len(words) - 1),
    }
    proc = cli(cwd=cwd, env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


@pytest.mark.parametrize("command", ["show", "diff", "checkout", "compare clean1", "forget"])
def test_completion_of_session_ids(runs: Path, command: str) -> None:
    assert complete("gitprov", *command.split(), "cl", cwd=runs) == ["plain,clean1", "plain,clean2"]


def test_completion_reads_the_repository_dash_c_names(runs: Path, tmp_path: Path) -> None:
    assert complete("gitprov", "-C", str(runs), "show", "d", cwd=tmp_path) == ["plain,dirty"]


def test_completion_leaves_forgotten_sessions_out(repo: Path) -> None:
    for session_id in ("kept", "kept-too", "gone"):
        with gitprov.record(repo, session_id=session_id):
            pass
    assert cli("forget", "gone", "--reason", "test", cwd=repo).returncode == 0
    assert complete("gitprov", "show", "", cwd=repo) == ["plain,kept", "plain,kept-too"]


def test_completion_outside_a_repository_offers_nothing(tmp_path: Path) -> None:
    assert complete("gitprov", "show", "", cwd=tmp_path) == []


def test_completion_of_commands(tmp_path: Path) -> None:
    assert complete("gitprov", "help", "s", cwd=tmp_path) == [
        "plain,schema",
        "plain,show",
        "plain,sync",
    ]
