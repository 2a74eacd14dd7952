"""``gitprov run [--id ID] [--input PATH] [--output PATH] -- CMD ...``: run any command and
record it as a session."""

from __future__ import annotations

import os

import click

from gitprov import child
from gitprov.cli.main import Target, main
from gitprov.errors import GitProvError
from gitprov.git import Git
from gitprov.model.sections import DIRTY_POLICIES
from gitprov.recorder import Ended, Recording


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--id", "session_id", metavar="ID", help="Session id (default: a new Kedro-style id)."
)
@click.option(
    "--dirty",
    type=click.Choice(DIRTY_POLICIES),
    default="allow",
    show_default=True,
    help="What a dirty work tree does: recorded, recorded with a warning, or refused "
    "before COMMAND starts.",
)
@click.option(
    "--require-pushed", is_flag=True, help="Refuse to start unless HEAD is on its upstream."
)
@click.option("--replace", is_flag=True, help="Replace the record of an --id that already has one.")
@click.option(
    "--snapshot-exclude",
    "snapshot_exclude",
    multiple=True,
    metavar="PATTERN",
    help="Leave files matching PATTERN (gitignore syntax) out of a dirty run's snapshot, "
    "as .gitprovignore does; repeatable.",
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="PATH",
    help="A file or folder COMMAND reads (a glob names every match), recorded in run.inputs "
    "with its digest, taken before COMMAND starts; repeatable.",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="PATH",
    help="A file or folder COMMAND writes (a glob names every match), recorded in "
    "run.outputs with its digest, taken after COMMAND ends; repeatable.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_obj
def run(
    target: Target,
    session_id: str | None,
    dirty: str,
    require_pushed: bool,
    replace: bool,
    snapshot_exclude: tuple[str, ...],
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    command: tuple[str, ...],
) -> None:
    """Run COMMAND in the repository and record it; exit as COMMAND exits.

    The repository is checked before COMMAND starts; its output is not captured. The
    record's ``run:`` holds the command line (``argv``, secrets masked), exit code, status
    and timing, and the digests of the ``--input`` and ``--output`` paths (relative to the
    repository folder COMMAND runs in). Runs recorded inside COMMAND name this one as their
    ``parent``.
    """
    cwd = os.path.abspath(target.path)
    ref, notes_ref = target.refs(Git.discover(target.path))
    recording = Recording(
        target.path,
        session_id,
        {},
        {"argv": list(command), "cwd": cwd},
        inputs=inputs,
        outputs=outputs,
        ref=ref,
        notes_ref=notes_ref,
        dirty=dirty,
        require_pushed=require_pushed,
        replace=replace,
        snapshot_exclude=snapshot_exclude,
    )
    outcome = child.Outcome(1)
    try:
        with recording:
            outcome = child.run(command, cwd)
            recording.end(
                Ended(
                    outcome.status,
                    signal=outcome.signal_name,
                    error=outcome.error,
                    outcome={"exit_code": outcome.exit_code},
                )
            )
    except GitProvError as exc:  # the command ran, but its record could not be written
        click.echo(f"gitprov: error: {exc}", err=True)
        child.exit_like(outcome)
    session = recording.session
    if session.recorded:
        click.echo(f"gitprov: recorded session {recording.session_id}", err=True)
    elif session.spooled is not None:  # the session logged why
        click.echo(
            f"gitprov: session {recording.session_id} is spooled in {session.spooled}; "
            f"`gitprov recover` writes it",
            err=True,
        )
    else:  # the session logged why, and the record itself
        click.echo(f"gitprov: session {recording.session_id} was NOT recorded", err=True)
    child.exit_like(outcome)
