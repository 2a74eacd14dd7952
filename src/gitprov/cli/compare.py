"""``gitprov compare A B [C ...]``: the keys whose values differ between runs, side by side."""

from __future__ import annotations

import json
import re
from typing import Any

import click

from gitprov.cli import completion
from gitprov.cli.main import Target, emit, main, table
from gitprov.cli.terminal import diff_colors, pager, paint

#: A table cell's longest value; json and yaml show values whole.
WIDTH = 40

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_DIGEST = re.compile(r"(sha256:)([0-9a-f]{64})")


@main.command("compare")
@click.argument(
    "session_ids",
    nargs=-1,
    required=True,
    metavar="A B [C ...]",
    shell_complete=completion.session_ids,
)
@click.option("--all", "show_all", is_flag=True, help="Show the keys that are equal too.")
@click.option("--code", is_flag=True, help="Add the diffstat between the trees the runs used.")
@click.option("--patch", is_flag=True, help="With --code: the whole patch, not only its stat.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "yaml"]), default="table")
@click.pass_obj
def compare_cmd(
    target: Target, session_ids: tuple[str, ...], show_all: bool, code: bool, patch: bool, fmt: str
) -> None:
    """Compare runs (ids or unique prefixes): every parameter, metric, run and git field,
    input and output digest whose value differs, one column per run. With --code, what
    changed in the code from the first run to each other one."""
    if len(session_ids) < 2:
        raise click.UsageError("compare needs two session ids or more")
    if patch and not code:
        raise click.UsageError("--patch goes with --code")
    from gitprov.audit.compare import code_diff

    log = target.log()
    found = log.compare(session_ids)
    for twice in sorted({s for s in found.sessions if found.sessions.count(s) > 1}):
        click.echo(f"gitprov: warning: session {twice} is given more than once", err=True)
    first, *others = found.records
    code_diffs = [code_diff(log.git, first, other, patch=patch) for other in others] if code else []
    if fmt != "table":
        data: dict[str, Any] = {"sessions": found.sessions, "keys": found.values(equal=show_all)}
        if code:
            data["code"] = [
                {"from": found.sessions[0], "to": to, "diff": text}
                for to, text in zip(found.sessions[1:], code_diffs, strict=True)
            ]
        with pager():
            emit(data, fmt)
        return
    keys = found.keys(equal=show_all)
    with pager():
        if keys:
            heads = ["KEY", *_headings(found.sessions)]
            rows = [[k, *(_cell(f[k]) if k in f else "" for f in found.flat)] for k in keys]
            heading, *lines = table([heads, *rows]).split("\n")
            click.echo("\n".join([paint(heading, "header"), *lines]))
        else:
            click.echo(f"the {len(found.records)} runs have the same value for every key")
        for to, text in zip(found.sessions[1:], code_diffs, strict=code):
            click.echo(paint(f"\ncode {found.sessions[0]} -> {to}:", "header"))
            click.echo(diff_colors(text.rstrip("\n")) if text.strip() else "the same tree")


def _cell(value: Any) -> str:
    """``value`` for a table: strings bare, the rest as JSON; a commit or digest to 12 hex
    digits, anything else cut at :data:`WIDTH`."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if _SHA.fullmatch(text):
        return text[:12]
    if digest := _DIGEST.fullmatch(text):
        return digest[1] + digest[2][:12]
    return text if len(text) <= WIDTH else text[: WIDTH - 3] + "..."


def _headings(sessions: list[str]) -> list[str]:
    """The ids as column headings: whole up to 24 characters (a Kedro id), else the
    shortest prefix of 12 characters or more that tells them apart."""
    if all(len(s) <= 24 for s in sessions):
        return sessions
    distinct = set(sessions)
    for size in range(12, max(map(len, sessions))):
        if len({s[:size] for s in distinct}) == len(distinct):
            return [s if len(s) <= size else s[:size] + "..." for s in sessions]
    return sessions
