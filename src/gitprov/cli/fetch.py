"""``gitprov fetch [REMOTE]``: teammates' records into the remote-tracking refs."""

from __future__ import annotations

from pathlib import Path

import click

from gitprov.cli.main import main
from gitprov.runner import Git
from gitprov.sync import LOCK_TIMEOUT, Sync, resolve_remote


@main.command("fetch")
@click.argument("remote", required=False)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=LOCK_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another sync of this repository.",
)
@click.pass_obj
def fetch_cmd(path: str, remote: str | None, lock_timeout: float) -> None:
    """Fetch REMOTE's records (default: the upstream's remote, else origin).

    They land in refs/provenance/remotes/REMOTE/sessions and
    refs/notes/remotes/REMOTE/provenance, never on your own refs; `gitprov list` and
    `show` read them at once, `gitprov sync` merges them.
    """
    git = Git.discover(path)
    target = resolve_remote(git, remote, Path(path))
    for move in Sync(git, target, lock_timeout=lock_timeout).fetch():
        if move.new is None:
            click.echo(f"{move.ref}: {target.spec} has none yet")
        elif move.old == move.new:
            click.echo(f"{move.ref}: up to date")
        elif move.old is None:
            click.echo(f"{move.ref}: new ({move.new[:12]})")
        else:
            click.echo(f"{move.ref}: {move.old[:12]}..{move.new[:12]}")
