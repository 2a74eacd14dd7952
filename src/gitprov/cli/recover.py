"""``gitprov recover``: write the records that earlier saves had to keep in the spool."""

from __future__ import annotations

import sys

import click

from gitprov.cli.main import Target, main
from gitprov.git import Git
from gitprov.git.writing import WriteRules
from gitprov.store import spool


@main.command()
@click.option(
    "--replace",
    is_flag=True,
    help="Write a spooled record even over a record its id got meanwhile.",
)
@click.pass_obj
def recover(target: Target, replace: bool) -> None:
    """Write spooled records (kept when a stale lock, a full disk or a read-only
    repository stopped their save). Exit 1 if any still cannot be written."""
    git = Git.discover(target.path)
    written, failed = spool.write_all(git, WriteRules.of(git), replace=replace)
    for session_id in written:
        click.echo(f"recovered session {session_id}")
    for path, why in failed:
        click.echo(f"gitprov: {path} still cannot be written: {why}", err=True)
    if failed:
        sys.exit(1)
    if not written:
        click.echo("nothing is spooled: every record is written")
