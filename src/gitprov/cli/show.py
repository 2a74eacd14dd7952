"""``gitprov show ID``: one record, whole."""

from __future__ import annotations

import click

from gitprov.cli.main import Target, emit, main


@main.command()
@click.argument("session_id")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@click.pass_obj
def show(target: Target, session_id: str, fmt: str) -> None:
    """Show the record of SESSION_ID (a unique prefix is enough)."""
    emit(target.log().get(session_id), fmt)
