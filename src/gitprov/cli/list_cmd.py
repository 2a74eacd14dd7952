"""``gitprov list``: the recorded runs, newest first, found through the query index.

Imports what the chosen format needs when it runs: ``gitprov list --limit 20`` is asked to
take little more than a ``git ls-tree``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

import click

from gitprov.audit import query
from gitprov.cli.filters import columns_option, filter_options
from gitprov.cli.main import Target, emit, main, table
from gitprov.cli.terminal import color_on, pager, paint
from gitprov.errors import CorruptRecordError
from gitprov.index.api import IndexEntry

FORMATS = ("table", "ids", "json", "yaml", "csv")
#: The formats whose output is one document, printed even when no run matches.
DOCUMENTS = ("json", "yaml", "csv")
HEADINGS = ["SESSION", "STARTED", "DURATION", "STATUS", "COMMIT", "BRANCH", "TREE", "WHAT", "USER"]
STATUS = HEADINGS.index("STATUS")
#: The entry's fields in json, yaml and csv (its ``values`` become the asked columns).
FIELDS = [f.name for f in fields(IndexEntry) if f.name != "values"]


@main.command("list")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@filter_options
@columns_option
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Only the newest N runs.")
@click.option("--reverse", is_flag=True, help="Oldest first (with --limit: the newest N).")
@click.pass_obj
def list_cmd(
    target: Target,
    fmt: str,
    filters: dict[str, Any],
    columns: list[str],
    limit: int | None,
    reverse: bool,
) -> None:
    """List recorded runs, newest first (by run.started_at, else the time of the save).

    Filters combine: a run is listed when all of them hold; a --where on a key no run has
    lists nothing. A record that does not parse is named on stderr (exit 1) and the others
    are listed all the same."""
    from gitprov.store import spool

    log = target.log()
    waiting = spool.notice(log.git)
    if waiting is not None:
        click.echo(f"gitprov: {waiting}", err=True)
    broken: dict[str, CorruptRecordError] = {}
    entries = log.query(**filters, limit=limit, columns=columns, broken=broken)
    if reverse:
        entries.reverse()
    if entries or fmt in DOCUMENTS:  # a script reading json gets [] when none matches
        with pager():
            _show(entries, fmt, columns)
    if not entries and not broken and not log.query(limit=1):  # not one run: how to get some
        hint = log.nothing_recorded()
        if hint is not None:
            click.echo(f"gitprov: {hint}", err=True)
    for exc in broken.values():
        click.echo(f"gitprov: error: {exc}", err=True)
    if broken:
        sys.exit(1)


def _show(entries: list[IndexEntry], fmt: str, columns: list[str]) -> None:
    if fmt == "ids":
        click.echo("\n".join(e.session_id for e in entries))
    elif fmt == "table":
        rows = [HEADINGS + [_cell(key) for key in columns], *_rows(entries, columns)]
        coloured = color_on()  # asked once, not per row

        def paint_status(i: int, cell: str) -> str:
            return paint(cell, cell.rstrip(), coloured) if i == STATUS else cell

        click.echo(table(rows, paint_status if coloured else None))
    elif fmt == "csv":
        click.echo(
            _csv(_objects(entries, columns), FIELDS + [k for k in columns if k not in FIELDS])
        )
    else:
        emit(_objects(entries, columns), fmt)


def _cell(value: Any) -> str:
    """A value as one table cell, on one line (:func:`table` escapes what else a terminal
    must not be sent)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return " ".join(str(value).split()) or "-"


def _rows(entries: list[IndexEntry], columns: list[str]) -> list[list[str]]:
    """The entries' table rows: the fields that repeat (status, branch, what, user) made
    cells once per value, names bound once (thousands of rows are read)."""
    started, duration = query.started, query.duration
    cell = {v: _cell(v) for v in {v for e in entries for v in (e.status, e.branch, e.user)}}
    what = {v: query.shorten(_cell(v)) for v in {e.what for e in entries}}
    rows = [
        [
            e.session_id,  # a valid id: one word
            started(e.started),
            duration(e.duration),
            cell[e.status],
            e.commit[:12] if e.commit else "-",  # unborn, or not told
            cell[e.branch],
            "-" if e.dirty is None else "dirty" if e.dirty else "clean",
            what[e.what],
            cell[e.user],
        ]
        for e in entries
    ]
    if columns:
        for row, e in zip(rows, entries, strict=True):
            row += [_cell(e.values.get(key)) for key in columns]
    return rows


def _objects(entries: Iterable[IndexEntry], columns: list[str]) -> list[dict[str, Any]]:
    """Each entry's fields, then the columns asked for (``null`` where a run has no such
    key; a column named as a field gives way to the field)."""
    out = []
    for entry in entries:
        item = {name: getattr(entry, name) for name in FIELDS}
        for key in columns:
            item.setdefault(key, entry.values.get(key))
        out.append(item)
    return out


def _csv(items: list[dict[str, Any]], header: list[str]) -> str:
    """``items`` as CSV with a header row: empty for null, JSON for a list or mapping. CSV
    has no escapes: control characters but tab and newline are written as ``\\x1b`` (a
    fetched record's must not reach a terminal, and no spreadsheet wants them)."""
    import csv
    import io
    import json
    import re

    control = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False, default=str)
        return control.sub(lambda found: repr(found[0])[1:-1], str(value))

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([text(item.get(key)) for key in header] for item in items)
    return out.getvalue().rstrip("\n")
