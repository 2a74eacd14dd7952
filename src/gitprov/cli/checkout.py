"""``gitprov checkout ID DIR``: the exact code of a run, in a new or empty folder."""

from __future__ import annotations

from pathlib import Path

import click

from gitprov.audit.checkout import checkout
from gitprov.cli.completion import session_ids
from gitprov.cli.main import Target, main
from gitprov.cli.terminal import printable
from gitprov.progress import Progress


@main.command("checkout")
@click.argument("session_id", shell_complete=session_ids)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def checkout_cmd(target: Target, session_id: str, directory: Path) -> None:
    """Write the tree SESSION_ID ran on into DIRECTORY (which must be new or empty; a
    relative one is taken from -C PATH, as git does)."""
    directory = target.at(directory)
    with Progress(f"Writing the code of {session_id} into {directory}"):
        done = checkout(target.log(), session_id, directory)
    click.echo(f"wrote {done.files} files of {done.commit[:12]} into {directory}")
    for sub, sha in done.submodules:
        click.echo(
            f"not restored: submodule {sub} at {sha}; clone it there and "
            f"`git -C {directory / sub} checkout {sha}`"
        )
    for left in done.skipped:
        path, reason = (printable(str(left.get(k))) for k in ("path", "reason"))
        click.echo(f"not restored: {path} (left out of the snapshot: {reason})")
