"""``gitprov schema``: the record's JSON Schema (draft 2020-12), as shipped in the package."""

from __future__ import annotations

import json
from importlib import resources

import click

from gitprov.cli.main import emit, main

#: The schema's file name inside the ``gitprov`` package.
SCHEMA_FILE = "record.schema.json"


def schema_text() -> str:
    """The shipped schema file (``gitprov/model/``), as it is."""
    return resources.files("gitprov.model").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default="json")
def schema(fmt: str) -> None:
    """Print the JSON Schema every record validates against."""
    if fmt == "json":
        click.echo(schema_text(), nl=False)
    else:
        emit(json.loads(schema_text()), fmt)
