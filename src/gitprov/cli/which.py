"""``gitprov which PATH|sha256:HEX``: the recorded runs that wrote or read these bytes."""

from __future__ import annotations

import sys

import click

from gitprov.cli.main import Target, emit, main, table


@main.command()
@click.argument("target_bytes", metavar="PATH|sha256:HEX")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def which(target: Target, target_bytes: str, fmt: str) -> None:
    """Which recorded runs wrote (or read) exactly these bytes: a file or a folder, or its
    digest. Newest first; exit 1 when none did. Fetched records count."""
    import dataclasses
    import os

    from gitprov.audit.which import as_digest

    given = target_bytes
    if not given.startswith("sha256:"):
        given = str(target.at(given))
        if not os.path.exists(given):
            raise click.BadParameter(f"{target_bytes}: no such file or folder")
    log = target.log()
    try:
        digest = as_digest(given, log.git)
    except OSError as exc:  # a broken link, a FIFO, a file that cannot be read
        raise click.BadParameter(f"{target_bytes}: cannot be digested ({exc})") from None
    found = log.which(digest)
    if fmt == "json":
        emit([dataclasses.asdict(match) for match in found], fmt)
    elif found:
        rows = [["SESSION", "ROLE", "DATASET", "COMMIT", "TREE", "STATUS"]]
        rows += [
            [
                m.session_id,
                m.role,
                m.dataset or m.path or "-",
                m.commit[:12] if m.commit else "(unborn)",
                "dirty" if m.dirty else "clean",
                m.status,
            ]
            for m in found
        ]
        click.echo(table(rows))
    if not found:
        click.echo(f"gitprov: no recorded run wrote or read these bytes ({digest})", err=True)
        hint = log.nothing_recorded()  # none at all: say how to get some
        if hint is not None:
            click.echo(f"gitprov: {hint}", err=True)
        sys.exit(1)
