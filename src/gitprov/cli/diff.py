"""``gitprov diff ID``: what a run had changed on top of its commit, as a patch."""

from __future__ import annotations

import sys

import click

from gitprov.audit.checkout import diff
from gitprov.cli.completion import session_ids
from gitprov.cli.main import Target, main
from gitprov.cli.terminal import diff_colors_bytes, pager, printable


@main.command("diff")
@click.argument("session_id", shell_complete=session_ids)
@click.pass_obj
def diff_cmd(target: Target, session_id: str) -> None:
    """Print the uncommitted change of SESSION_ID against its commit (empty for clean runs);
    files the snapshot left out (secrets, exclusions, size) are named on stderr."""
    log = target.log()
    data = diff(log, session_id)
    skipped = (log.get(session_id).get("git") or {}).get("snapshot_skipped") or []
    with pager():
        sys.stdout.buffer.write(diff_colors_bytes(data))
        sys.stdout.flush()
        for left in skipped:
            if isinstance(left, dict):
                click.echo(
                    f"gitprov: not in the patch: {printable(str(left.get('path')))} (left out "
                    f"of the snapshot: {printable(str(left.get('reason')))})",
                    err=True,
                )
