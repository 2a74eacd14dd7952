"""What ``fetch``, ``push`` and ``sync`` share: their options and how they find the remote."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from gitprov.cli.main import Target
from gitprov.git import Git
from gitprov.sync.engine import ATTEMPTS, LOCK_TIMEOUT, Sync, SyncReport, resolve_remote

F = TypeVar("F", bound=Callable[..., object])

lock_timeout_option = click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=LOCK_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another sync of this repository.",
)


def attempts_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--attempts", type=click.IntRange(min=1), default=ATTEMPTS, show_default=True, help=help
    )


def open_sync(target: Target, remote: str | None, lock_timeout: float) -> Sync:
    """The sync of the target's repository with ``remote`` (default: upstream's, origin)."""
    git = Git.discover(target.path)
    ref, notes_ref = target.refs(git)
    return Sync(
        git,
        resolve_remote(git, remote, Path(target.path)),
        ref=ref,
        notes_ref=notes_ref,
        lock_timeout=lock_timeout,
    )


def echo_report(report: SyncReport) -> None:
    """What a push or sync did on stdout; what it left out of the merge, once, on stderr."""
    for line in report.lines():
        click.echo(line)
    for item in report.left_out:
        click.echo(f"gitprov: warning: left out {item}", err=True)
