"""``gitprov push [REMOTE]``: the records to the remote, never forced."""

from __future__ import annotations

from pathlib import Path

import click

from gitprov.cli.main import main
from gitprov.runner import Git
from gitprov.sync import ATTEMPTS, LOCK_TIMEOUT, Sync, resolve_remote


@main.command("push")
@click.argument("remote", required=False)
@click.option(
    "--attempts",
    type=click.IntRange(min=1),
    default=ATTEMPTS,
    show_default=True,
    help="Merge-and-retry rounds when other clones keep pushing.",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=LOCK_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another sync of this repository.",
)
@click.pass_obj
def push_cmd(path: str, remote: str | None, attempts: int, lock_timeout: float) -> None:
    """Push the records and notes to REMOTE (default: the upstream's remote, else origin).

    Never forced: when REMOTE has records this clone lacks, they are fetched and merged
    first, and the push is tried again.
    """
    git = Git.discover(path)
    target = resolve_remote(git, remote, Path(path))
    report = Sync(git, target, lock_timeout=lock_timeout).push(attempts)
    for line in report.lines():
        click.echo(line)
