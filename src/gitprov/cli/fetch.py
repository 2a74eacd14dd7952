"""``gitprov fetch [REMOTE]``: teammates' records into the remote-tracking refs."""

from __future__ import annotations

import click

from gitprov.cli.main import Target, main
from gitprov.cli.options import fetch_line, lock_timeout_option, open_sync
from gitprov.progress import Progress


@main.command("fetch")
@click.argument("remote", required=False)
@lock_timeout_option
@click.pass_obj
def fetch_cmd(target: Target, remote: str | None, lock_timeout: float) -> None:
    """Fetch REMOTE's records (default: the upstream's remote, else origin).

    They land in refs/provenance/remotes/REMOTE/sessions and
    refs/notes/remotes/REMOTE/provenance, never on your own refs; `gitprov list` and
    `show` read them at once, `gitprov sync` merges them.
    """
    sync = open_sync(target, remote, lock_timeout)
    with Progress(f"Fetching records from {sync.remote.shown}"):
        moves = sync.fetch()
    for move in moves:
        click.echo(fetch_line(move, sync.remote.shown))
