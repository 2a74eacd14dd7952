"""``gitprov init``: configure git to show, keep and carry provenance."""

from __future__ import annotations

import sys

import click

from gitprov.cli.main import main
from gitprov.configure import init
from gitprov.runner import Git

_MARK = {"changed": "+", "ok": "=", "refused": "!"}


@main.command("init")
@click.option("--hooks", is_flag=True, help="Install the pre-push hook that pushes the records.")
@click.option(
    "--remote",
    "remotes",
    multiple=True,
    metavar="NAME",
    help="Configure fetching for this remote only (repeatable; default: every remote).",
)
@click.pass_obj
def init_cmd(path: str, hooks: bool, remotes: tuple[str, ...]) -> None:
    """Make git log show sessions, amend/rebase keep them, fetch bring them."""
    steps = init(Git.discover(path), remotes=list(remotes) or None, hooks=hooks)
    for step in steps:
        click.echo(f"{_MARK[step.outcome]} {step.message}")
    if any(step.outcome == "refused" for step in steps):
        sys.exit(1)
