"""``gitprov sync [REMOTE]``: fetch, merge and push until the remote holds every record."""

from __future__ import annotations

import click

from gitprov.cli.main import Target, main
from gitprov.cli.options import attempts_option, echo_report, lock_timeout_option, open_sync
from gitprov.progress import Progress


@main.command("sync")
@click.argument("remote", required=False)
@attempts_option("Fetch-merge-push rounds before giving up on a remote that keeps moving.")
@lock_timeout_option
@click.pass_obj
def sync_cmd(target: Target, remote: str | None, attempts: int, lock_timeout: float) -> None:
    """Merge REMOTE's records with this clone's and push the union back.

    REMOTE defaults to the current branch's upstream remote, else origin. A session id
    saved with different content here and there keeps both; the line `conflict: ...`
    names the id the remote's copy is kept under. What REMOTE holds that is not a record
    gitprov can read is left out, and named on stderr.
    """
    sync = open_sync(target, remote, lock_timeout)
    with Progress(f"Syncing records with {sync.remote.shown}") as bar:
        sync.on_step = bar.step
        report = sync.sync(attempts)
    echo_report(report)
