"""Output that meets a terminal as git's does.

Paging: :func:`pager` sends stdout through ``$GIT_PAGER``, else git's ``core.pager``, else
``$PAGER``, else ``less`` (with ``LESS=FRX``: quits at once when the output fits, keeps
colours, leaves the screen) when stdout is a terminal; never when it is piped or
redirected, never with ``gitprov --no-pager``; ``cat`` or an empty value turns it off. A
pager that cannot start is skipped, and one the user quits early ends the output quietly
(no BrokenPipe traceback).

Colour (:func:`paint`, :func:`status`, :func:`diff_colors`): on only when what finally shows
the output is a terminal (directly or through the pager), off with ``NO_COLOR``,
``TERM=dumb`` or when piped; ``--color=always|never`` overrides.

This module is on every command's path: it imports nothing heavy at load time
(``shlex``, and :mod:`gitprov.child`, which starts it, only once a pager is wanted).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    import subprocess

F = TypeVar("F", bound=Callable[..., Any])

#: ``click.Context.meta`` keys the global options set (the meta dict is shared by the
#: group's context and its command's).
PAGER_KEY = "gitprov.pager"
COLOR_KEY = "gitprov.color"

#: How each kind of text is coloured (git's choices for diffs; status as a traffic light).
STYLES: dict[str, dict[str, Any]] = {
    "success": {"fg": "green"},
    "failed": {"fg": "red"},
    "interrupted": {"fg": "yellow"},
    "add": {"fg": "green"},
    "del": {"fg": "red"},
    "hunk": {"fg": "cyan"},
    "header": {"bold": True},
}

#: Set while :func:`pager` pages: stdout is then the pager's pipe, shown on a terminal.
_paging = False


def _remember(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        ctx.meta[key] = value

    return callback


def terminal_options(f: F) -> F:
    """The group's ``--no-pager`` and ``--color`` (both read through ``ctx.meta``)."""
    f = click.option(
        "--color",
        type=click.Choice(["auto", "always", "never"]),
        default="auto",
        expose_value=False,
        callback=_remember(COLOR_KEY),
        help="Colour the output: auto (on a terminal, unless NO_COLOR is set), always, never.",
    )(f)
    return click.option(
        "--no-pager",
        is_flag=True,
        expose_value=False,
        callback=_remember(PAGER_KEY),
        help="Print straight to the terminal, never through a pager.",
    )(f)


def _meta(key: str) -> Any:
    ctx = click.get_current_context(silent=True)
    return None if ctx is None else ctx.meta.get(key)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def color_on() -> bool:
    """Whether stdout is coloured: ``--color``, else not with ``NO_COLOR`` or
    ``TERM=dumb``, else when it is a terminal or the pager."""
    choice = _meta(COLOR_KEY) or "auto"
    if choice != "auto":
        return bool(choice == "always")
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _paging or _isatty(sys.stdout)


def paint(text: str, kind: str, on: bool | None = None) -> str:
    """``text`` in the colour of ``kind`` (:data:`STYLES`), when colour is on."""
    if not (color_on() if on is None else on) or kind not in STYLES:
        return text
    return click.style(text, **STYLES[kind])


def status(text: str, width: int = 0) -> str:
    """A run status (success, failed, interrupted) in its colour, padded to ``width`` first
    so that coloured columns stay aligned."""
    return paint(text.ljust(width), text)


def diff_colors(text: str) -> str:
    """A git patch coloured as ``git diff`` colours it: headers bold, a hunk's ``@@ ... @@``
    cyan, removed lines red, added lines green; unchanged when colour is off."""
    if not color_on():
        return text
    out = []
    header = False
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        end = line[len(body) :]
        header = body.startswith("diff --git ") or (header and not body.startswith("@@"))
        if header:
            body = paint(body, "header", True)
        elif body.startswith("@@"):
            cut = body.find("@@", 2) + 2 if body.find("@@", 2) > 0 else len(body)
            body = paint(body[:cut], "hunk", True) + body[cut:]  # the function name: plain
        elif body[:1] in ("+", "-"):
            body = paint(body, "add" if body[0] == "+" else "del", True)
        out.append(body + end)
    return "".join(out)


def diff_colors_bytes(data: bytes) -> bytes:
    """:func:`diff_colors` for a patch as git wrote it (bytes, any encoding)."""
    if not color_on():
        return data
    return diff_colors(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")


def printable(text: str) -> str:
    """``text`` with its control characters escaped (``\\x1b``): what a record holds (and
    a fetched record is hostile) must not move the cursor or retitle the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _core_pager() -> str | None:
    """The repository's (or the user's) ``core.pager``, in the folder ``-C`` names."""
    from gitprov.errors import GitProvError
    from gitprov.git.process import Runner

    ctx = click.get_current_context(silent=True)
    path = (ctx.find_root().params.get("path") if ctx is not None else None) or "."
    try:
        found = Runner.near(path).run("config", "--get", "core.pager", ok=(0, 1, 128))
    except GitProvError:
        return None
    return found.text.rstrip("\n") if found.returncode == 0 else None


def _pager_command() -> list[str] | None:
    """The pager to run, in git's order: ``GIT_PAGER``, ``core.pager``, ``PAGER``,
    ``less``; ``None``: none."""
    import shlex

    value = os.environ.get("GIT_PAGER")
    if value is None:
        value = _core_pager()
    if value is None:
        value = os.environ.get("PAGER")
    if value is None:
        value = "less"
    try:
        argv = shlex.split(value)
    except ValueError:
        return None
    return None if not argv or argv == ["cat"] else argv


def _start_pager() -> subprocess.Popen[bytes] | None:
    """The pager, started reading a pipe, when stdout is a terminal and paging is wanted."""
    if os.name == "nt" or _paging or _meta(PAGER_KEY) or not _isatty(sys.stdout):
        return None
    argv = _pager_command()
    if argv is None:
        return None
    from gitprov.child import start_pager

    return start_pager(argv)  # None: print as if there were no pager


@contextmanager
def pager() -> Iterator[None]:
    """Page what the block writes to stdout (and stderr, when it is the terminal too, as
    git does), and colour it; see the module's docstring for when. Wrap only the output:
    gather the data first, so that an error is printed after the pager is gone."""
    global _paging
    ctx = click.get_current_context(silent=True)
    proc = _start_pager()
    if proc is None:
        if ctx is not None:
            ctx.color = color_on()
        try:
            yield
        except BrokenPipeError:  # the reader went away (`gitprov show ID | head`)
            _drop_output()
            raise SystemExit(141) from None  # as a process killed by SIGPIPE
        return
    assert proc.stdin is not None
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2) if fd == 1 or _isatty(sys.stderr)}
    for fd in saved:
        os.dup2(proc.stdin.fileno(), fd)
    proc.stdin.close()  # fd 1 (and 2) hold the pipe now: restoring them closes it
    _paging = True
    if ctx is not None:
        ctx.color = color_on()
    try:
        yield
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the user quit the pager: the rest is not wanted
        _drop_output()
    finally:
        _paging = False
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        from gitprov.child import wait_pager

        wait_pager(proc)


def _drop_output() -> None:
    """Point stdout at /dev/null and flush into it what is still buffered, so that
    nothing is written (and nothing raises) when Python exits."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
