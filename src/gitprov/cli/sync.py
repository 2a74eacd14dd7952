"""``gitprov sync [REMOTE]``: fetch, merge and push until the remote holds every record."""

from __future__ import annotations

from pathlib import Path

import click

from gitprov.cli.main import main
from gitprov.runner import Git
from gitprov.sync import ATTEMPTS, LOCK_TIMEOUT, Sync, resolve_remote


@main.command("sync")
@click.argument("remote", required=False)
@click.option(
    "--attempts",
    type=click.IntRange(min=1),
    default=ATTEMPTS,
    show_default=True,
    help="Fetch-merge-push rounds before giving up on a remote that keeps moving.",
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
def sync_cmd(path: str, remote: str | None, attempts: int, lock_timeout: float) -> None:
    """Merge REMOTE's records with this clone's and push the union back.

    REMOTE defaults to the current branch's upstream remote, else origin. A session id
    saved with different content here and there keeps both; the line `conflict: ...`
    names the id the remote's copy is kept under.
    """
    git = Git.discover(path)
    target = resolve_remote(git, remote, Path(path))
    report = Sync(git, target, lock_timeout=lock_timeout).sync(attempts)
    for line in report.lines():
        click.echo(line)
