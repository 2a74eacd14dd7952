"""``gitprov init``: configure git to show, keep and carry provenance."""

from __future__ import annotations

import sys

import click

from gitprov.cli.main import Target, main
from gitprov.configure import init
from gitprov.git import Git

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
def init_cmd(target: Target, hooks: bool, remotes: tuple[str, ...]) -> None:
    """Make git log show sessions, amend/rebase keep them, fetch bring them.

    With --ref/--notes-ref, the names are kept in the repository's config (gitprov.ref,
    gitprov.notesRef), so later commands and the pre-push hook use them too.
    """
    git = Git.discover(target.path)
    ref, notes_ref = target.refs(git)
    steps = init(git, remotes=list(remotes) or None, hooks=hooks, ref=ref, notes_ref=notes_ref)
    for step in steps:
        click.echo(f"{_MARK[step.outcome]} {step.message}")
    if any(step.outcome == "refused" for step in steps):
        sys.exit(1)
