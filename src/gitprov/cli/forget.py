"""``gitprov forget ID... --reason TEXT``: remove records for good, everywhere they sync."""

from __future__ import annotations

import click

from gitprov.cli import completion
from gitprov.cli.main import Target, main


@main.command("forget")
@click.argument(
    "session_ids",
    metavar="ID...",
    nargs=-1,
    required=True,
    shell_complete=completion.session_ids,
)
@click.option(
    "--reason",
    required=True,
    help="Why (kept in the tombstone with the date and who forgot; never the record).",
)
@click.pass_obj
def forget_cmd(target: Target, session_ids: tuple[str, ...], reason: str) -> None:
    """Remove the records of ID... (full ids) from the records ref's whole history.

    A tombstone (id, date, who, reason) takes each one's place; a save under a forgotten
    id is refused, and `gitprov show ID` says when and why it was forgotten. The saves
    that wrote these records no longer pin their snapshots, and their lines leave the
    notes index. Then run `gitprov sync` here (it rewrites the remote's records, with a
    lease) and in every other clone (each drops its own copy), and
    `git reflog expire --expire=now --all && git gc --prune=now` in each clone and on the
    remote to delete the objects themselves.
    """
    log = target.log()
    done = log.forget(list(session_ids), reason)
    for tombstone in done.already:
        click.echo(
            f"session {tombstone.session_id} was already forgotten on "
            f"{tombstone.forgotten_at}: {tombstone.reason}"
        )
    if not done.ids:
        return
    unpinned = f"; no save pins {', '.join(c[:12] for c in done.unpinned)} any longer"
    click.echo(
        f"forgot session {', '.join(done.ids)}: {done.rewritten} records commit"
        f"{'' if done.rewritten == 1 else 's'} rewritten{unpinned if done.unpinned else ''}"
    )
    copies = [i for i in log.ids() if any(i.startswith(f"{f}+") for f in done.ids)]
    if copies:  # a sync conflict kept the remote's version under its own id
        click.echo(
            f"still recorded: {', '.join(copies)}, conflict copies of what was forgotten "
            f"(`gitprov show` names what each is a copy of); forget them too if they hold "
            f"the same content"
        )
    click.echo(
        "next: `gitprov sync` here and in every other clone, then `git reflog expire "
        "--expire=now --all && git gc --prune=now` in each clone and on the remote"
    )
