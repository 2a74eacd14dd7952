"""``gitprov show ID``: one record, whole."""

from __future__ import annotations

import click

from gitprov.cli.completion import session_ids
from gitprov.cli.main import Target, emit, main
from gitprov.cli.terminal import pager


@main.command()
@click.argument("session_id", shell_complete=session_ids)
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@click.pass_obj
def show(target: Target, session_id: str, fmt: str) -> None:
    """Show the record of SESSION_ID (a unique prefix is enough)."""
    record = target.log().get(session_id)
    with pager():
        emit(record, fmt)
