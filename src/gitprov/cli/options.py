"""What ``fetch``, ``push`` and ``sync`` share: their options and how they find the remote."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from gitprov.runner import Git
from gitprov.sync import ATTEMPTS, LOCK_TIMEOUT, Sync, resolve_remote

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


def open_sync(path: str, remote: str | None, lock_timeout: float) -> Sync:
    """The sync of the repository at ``path`` with ``remote`` (default: upstream's, origin)."""
    git = Git.discover(path)
    return Sync(git, resolve_remote(git, remote, Path(path)), lock_timeout=lock_timeout)
