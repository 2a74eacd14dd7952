"""The ``gitprov`` group: ``-C PATH`` like git, the refs, and errors as one line, exit 1."""

from __future__ import annotations

import importlib
import os
import sys
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from gitprov._version import __version__
from gitprov.cli.terminal import printable, terminal_options
from gitprov.errors import GitProvError, option_style
from gitprov.refs import (
    CONFIGURED,
    DEFAULT_NOTES_REF,
    DEFAULT_REF,
    NOTES_REF_CONFIG,
    REF_CONFIG,
    resolve,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from gitprov.audit.log import SessionLog
    from gitprov.git import Git

#: Every command and the module that defines it, imported only when the command runs.
COMMANDS = {
    "checkout": "checkout",
    "compare": "compare",
    "diff": "diff",
    "fetch": "fetch",
    "forget": "forget",
    "help": "help",
    "hook": "hook",
    "init": "init",
    "list": "list_cmd",
    "push": "push",
    "recover": "recover",
    "report": "report",
    "run": "run",
    "schema": "schema",
    "show": "show",
    "sync": "sync",
    "verify": "verify",
    "which": "which",
}


class Target(NamedTuple):
    """What every command works on: the folder (``-C``) and the two refs."""

    path: str
    ref_option: str | None
    notes_ref_option: str | None

    def refs(self, git: Git) -> tuple[str, str]:
        """The records ref and notes ref (:func:`gitprov.refs.resolve`: the options, else
        the repository's ``gitprov.ref``/``gitprov.notesRef``, else the defaults)."""
        notes_ref = CONFIGURED if self.notes_ref_option is None else self.notes_ref_option
        return resolve(git, self.ref_option, notes_ref)

    def at(self, given: str | os.PathLike[str]) -> Path:
        """A path given on the command line: a relative one is taken from ``-C PATH``, as
        git takes it."""
        return Path(self.path, given)

    def log(self) -> SessionLog:
        from gitprov.audit.log import SessionLog
        from gitprov.git import Git

        git = Git.discover(self.path)
        ref, notes_ref = self.refs(git)
        return SessionLog(git, ref=ref, notes_ref=notes_ref)


def _ref_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not (value.startswith("refs/") and len(value.split("/")) >= 3):
        raise click.BadParameter(f"{value!r} is not a full ref name such as refs/provenance/x")
    return value


class _Group(click.Group):
    """Finds each command in its own module (:data:`COMMANDS`), imported when needed, and
    turns gitprov's own errors into ``gitprov: error: ...`` and exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            importlib.import_module(f"gitprov.cli.{COMMANDS[cmd_name]}")  # registers it
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with option_style("cli"):  # hints name --options, not record()'s keywords
                return super().invoke(ctx)
        except GitProvError as exc:
            click.echo(f"gitprov: error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "path",
    default=".",
    type=click.Path(file_okay=False),
    metavar="PATH",
    help="Run as if started in PATH (like git -C).",
)
@click.option(
    "--ref",
    metavar="REF",
    callback=_ref_name,
    help=f"The records ref (default: the repository's {REF_CONFIG}, else {DEFAULT_REF}).",
)
@click.option(
    "--notes-ref",
    metavar="REF",
    callback=_ref_name,
    help=f"The commit index (default: {NOTES_REF_CONFIG}, else {DEFAULT_NOTES_REF}).",
)
@terminal_options
@click.version_option(__version__, prog_name="gitprov")
@click.pass_context
def main(ctx: click.Context, path: str, ref: str | None, notes_ref: str | None) -> None:
    """Provenance of pipeline runs, recorded in the project's own git repository."""
    ctx.obj = Target(path, ref, notes_ref)


def emit(data: Any, fmt: str) -> None:
    """Print ``data`` as YAML or JSON (both parseable by any tool)."""
    if fmt == "json":
        import json
        import re

        text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        # C1 controls (U+009B is CSI to some terminals) as escapes: the same JSON value
        click.echo(re.sub("[\x7f-\x9f]", lambda c: f"\\u{ord(c[0]):04x}", text))
    else:
        import yaml

        click.echo(
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).rstrip("\n")
        )


def table(rows: list[list[str]], paint: Callable[[int, str], str] | None = None) -> str:
    """``rows`` (the first: the headings) as aligned columns; ``paint(column, cell)``
    colours a body cell once padded (colour codes take no width). A record's control
    characters are shown escaped, never sent to the terminal."""
    # one test of every cell at once, escaping only a row that needs it: thousands of rows
    # stay cheap
    if not "".join(chain.from_iterable(rows)).isprintable():
        rows = [r if "".join(r).isprintable() else [printable(c) for c in r] for r in rows]
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    if paint is None:
        line = "  ".join(f"%-{w}s" for w in widths)  # every row through one format
        return "\n".join([(line % tuple(row)).rstrip() for row in rows])
    return "\n".join(
        "  ".join(
            paint(i, cell.ljust(w)) if n else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for n, row in enumerate(rows)
    )
