"""``gitprov show ID``: one record, whole."""

from __future__ import annotations

import click

from gitprov.cli.main import emit, main
from gitprov.log import SessionLog


@main.command()
@click.argument("session_id")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@click.pass_obj
def show(path: str, session_id: str, fmt: str) -> None:
    """Show the record of SESSION_ID (a unique prefix is enough)."""
    emit(SessionLog(path).get(session_id), fmt)
