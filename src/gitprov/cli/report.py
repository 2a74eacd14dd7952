"""``gitprov report``: the runs as one self-contained HTML file (:mod:`gitprov.report`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from gitprov.cli.filters import columns_option, filter_options
from gitprov.cli.main import Target, main


@main.command("report")
@filter_options
@columns_option
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N runs.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default="gitprov-report.html",
    show_default=True,
    help="The HTML file to write.",
)
@click.option("--open", "open_it", is_flag=True, help="Open the report in a web browser.")
@click.pass_obj
def report_cmd(
    target: Target,
    filters: dict[str, Any],
    columns: list[str],
    limit: int | None,
    output: Path,
    open_it: bool,
) -> None:
    """Write every run (or those the filters select) into one HTML file that needs
    nothing else: summary, sortable and filterable runs table, time line, each run's
    record and code diff, comparisons and plots. It makes no network request. A record
    that does not parse is named on stderr and in the report, and left out."""
    from gitprov.report import collect, render

    output = target.at(output)
    log = target.log()
    payload = collect(log, log.query(**filters, limit=limit), columns=columns)
    text = render(payload)
    partial = output.with_name(f".{output.name}.partial")  # never a half-written report
    try:
        partial.unlink(missing_ok=True)  # made anew, never opened through a planted link
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, "w", encoding="utf-8") as out:
            out.write(text)
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise click.FileError(str(output), exc.strerror) from exc
    for session_id, why in payload["broken"].items():
        click.echo(f"gitprov: warning: session {session_id} left out: {why}", err=True)
    click.echo(f"wrote {output} ({payload['summary']['runs']} runs)")
    if not payload["runs"] and (hint := log.nothing_recorded()):
        click.echo(f"gitprov: {hint}", err=True)
    if open_it:
        import webbrowser

        webbrowser.open(output.resolve().as_uri())
