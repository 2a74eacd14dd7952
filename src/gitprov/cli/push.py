"""``gitprov push [REMOTE]``: the records to the remote, never forced."""

from __future__ import annotations

import click

from gitprov.cli.main import Target, main
from gitprov.cli.options import attempts_option, echo_report, lock_timeout_option, open_sync
from gitprov.progress import Progress


@main.command("push")
@click.argument("remote", required=False)
@attempts_option("Merge-and-retry rounds when other clones keep pushing.")
@lock_timeout_option
@click.pass_obj
def push_cmd(target: Target, remote: str | None, attempts: int, lock_timeout: float) -> None:
    """Push the records and notes to REMOTE (default: the upstream's remote, else origin).

    Never forced: when REMOTE has records this clone lacks, they are fetched and merged
    first, and the push is tried again.
    """
    sync = open_sync(target, remote, lock_timeout)
    with Progress(f"Pushing records to {sync.remote.shown}") as bar:
        sync.on_step = bar.step
        report = sync.push(attempts)
    echo_report(report)
