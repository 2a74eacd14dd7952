"""``gitprov verify [ID...]``: can every run's code still be recovered?"""

from __future__ import annotations

import sys

import click

from gitprov.cli.completion import session_ids as complete_ids
from gitprov.cli.main import Target, main
from gitprov.cli.terminal import pager


@main.command("verify")
@click.argument("session_ids", nargs=-1, shell_complete=complete_ids)
@click.pass_obj
def verify_cmd(target: Target, session_ids: tuple[str, ...]) -> None:
    """Check records (default: all): they parse, their fields have the types gitprov
    writes, their commit and snapshot exist, are complete and are kept reachable. One line
    per problem, naming its record; exit 1 on any."""
    from gitprov.audit.verify import verify
    from gitprov.store import spool

    log = target.log()
    checked, problems = verify(log, list(session_ids) or None)
    waiting = spool.notice(log.git)
    if waiting is not None:
        problems.append(waiting)
    with pager():
        for problem in problems:
            click.echo(problem)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {checked} record(s)", err=True)
        sys.exit(1)
    click.echo(f"ok: {checked} record(s) verified")
