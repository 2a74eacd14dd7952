"""``gitprov list``: the recorded sessions, newest last."""

from __future__ import annotations

import sys
from typing import Any

import click

from gitprov.cli.main import Target, emit, main, table
from gitprov.errors import CorruptRecordError
from gitprov.model.document import run_status
from gitprov.store import spool


def _row(record: dict[str, Any]) -> list[str]:
    git = record.get("git") or {}
    commit = git.get("commit") or ""
    return [
        str(record.get("session_id", "")),
        commit[:12] if commit else "(unborn)",
        str(git.get("branch") or ("(detached)" if git.get("detached") else "-")),
        "dirty" if git.get("dirty") else "clean",
        run_status(record),
        str(record.get("username") or "-"),
    ]


def _table(records: list[dict[str, Any]]) -> str:
    rows = [["SESSION", "COMMIT", "BRANCH", "TREE", "STATUS", "USER"]]
    rows += [_row(r) for r in records]
    return table(rows)


@main.command("list")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "ids", "yaml", "json"]), default="table"
)
@click.option("--commit", "rev", metavar="REV", help="Only sessions that ran on this commit.")
@click.option("--branch", help="Only sessions that ran on this branch.")
@click.option("--dirty/--clean", default=None, help="Only dirty (or only clean) runs.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N sessions.")
@click.pass_obj
def list_cmd(
    target: Target,
    fmt: str,
    rev: str | None,
    branch: str | None,
    dirty: bool | None,
    limit: int | None,
) -> None:
    """List recorded sessions (oldest first). A record that does not parse is named on
    stderr (exit 1) and the others are listed all the same."""
    log = target.log()
    waiting = spool.notice(log.git)
    if waiting is not None:
        click.echo(f"gitprov: {waiting}", err=True)
    unfiltered = branch is None and dirty is None
    broken: dict[str, CorruptRecordError] = {}
    if rev is not None:
        ran = [entry["session_id"] for entry in log.for_commit(rev)]
        # a note may outlive a record
        records = list(log.records(ran, skip_missing=True, broken=broken))
    else:
        ids = log.ids()
        if unfiltered and limit:
            ids = ids[-limit:]
        if fmt == "ids" and unfiltered:
            if ids:
                click.echo("\n".join(ids))
            return
        records = list(log.records(ids, broken=broken))
    if branch is not None:
        records = [r for r in records if (r.get("git") or {}).get("branch") == branch]
    if dirty is not None:
        records = [r for r in records if bool((r.get("git") or {}).get("dirty")) == dirty]
    if limit:
        records = records[-limit:]
    if fmt == "table":
        click.echo(_table(records))
    elif fmt == "ids":
        if records:
            click.echo("\n".join(str(r.get("session_id")) for r in records))
    else:
        emit(records, fmt)
    for exc in broken.values():
        click.echo(f"gitprov: error: {exc}", err=True)
    if broken:
        sys.exit(1)
