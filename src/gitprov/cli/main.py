"""The ``gitprov`` group: ``-C PATH`` like git, and errors as one line with exit 1."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import yaml

from gitprov._version import __version__
from gitprov.errors import GitProvError


class _Group(click.Group):
    """Turns gitprov's own errors into ``gitprov: error: ...`` and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
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
    help="Run as if started in PATH (like git -C).",
)
@click.version_option(__version__, prog_name="gitprov")
@click.pass_context
def main(ctx: click.Context, path: str) -> None:
    """Provenance of pipeline runs, recorded in the project's own git repository."""
    ctx.obj = path


def emit(data: Any, fmt: str) -> None:
    """Print ``data`` as YAML or JSON (both parseable by any tool)."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).rstrip("\n")
        )
