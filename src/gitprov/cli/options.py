"""What ``fetch``, ``push`` and ``sync`` share: their options, how they find the remote,
and the words of their reports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from gitprov.cli.main import Target
from gitprov.git import Git
from gitprov.sync.engine import ATTEMPTS, Sync, SyncReport
from gitprov.sync.lock import LOCK_TIMEOUT
from gitprov.sync.remote import resolve_remote
from gitprov.sync.transport import Moved

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
    for line in report_lines(report):
        click.echo(line)
    for item in report.left_out:
        click.echo(f"gitprov: warning: left out {item}", err=True)


def report_lines(report: SyncReport) -> list[str]:
    """The lines that say what a push or sync did."""
    where = report.remote.shown
    out = []
    if report.merged:
        out.append(
            f"{where}: {_records(report.incoming)} in, {_records(report.outgoing)} out"
            f" ({report.attempts} attempt{'s' if report.attempts > 1 else ''})"
        )
    if report.forgotten:
        out.append(
            f"forgot here what {where} has tombstones for (this clone's history "
            f"rewritten): session {', '.join(report.forgotten)}"
        )
    if report.purged:
        out.append(
            f"rewrote {where}'s records history without the forgotten sessions it still "
            f"held (pushed with a lease on the value fetched): session "
            f"{', '.join(report.purged)}"
        )
    for move in report.pushed:
        change = f"{_short(move.old)}..{_short(move.new)}" if move.old else "new"
        out.append(f"pushed {move.ref} ({change})")
    if not report.pushed:
        out.append(f"{where} already has every local record")
    for session_id, copy in report.conflicts:
        out.append(
            f"conflict: session {session_id} differs here and on {where}; both kept: "
            f"{session_id} (this clone's) and {copy} ({where}'s)"
        )
    if report.missing:
        shown = ", ".join(sha[:12] for sha in report.missing[:5])
        more = ", ..." if len(report.missing) > 5 else ""
        out.append(
            f"shallow clone: {len(report.missing)} of the {report.annotated} commits sessions "
            f"ran on are not in it ({shown}{more}); their records are complete, "
            f"`git fetch --unshallow` brings the code"
        )
    return out


def fetch_line(move: Moved, remote: str) -> str:
    """How ``gitprov fetch`` moved one tracking ref (``remote``: the remote as shown)."""
    if move.new is None:
        return f"{move.ref}: {remote} has none yet"
    if move.old == move.new:
        return f"{move.ref}: up to date"
    if move.old is None:
        return f"{move.ref}: new ({move.new[:12]})"
    return f"{move.ref}: {move.old[:12]}..{move.new[:12]}"


def _records(count: int) -> str:
    return f"{count} record{'' if count == 1 else 's'}"


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "-"
