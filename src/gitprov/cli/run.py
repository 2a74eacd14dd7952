"""``gitprov run [OPTIONS] -- CMD ...``: run any command and record it as a session, with
every recording option the store has (:data:`gitprov.session.OPTIONS`)."""

from __future__ import annotations

import os

import click

from gitprov import child
from gitprov.cli.main import Target, main
from gitprov.cli.terminal import printable
from gitprov.errors import GitProvError
from gitprov.git import Git
from gitprov.model.sections import DIRTY_POLICIES, UNTRACKED_MODES
from gitprov.recorder import Ended, Recording
from gitprov.state.screen import MAX_TOTAL_BYTES, MAX_UNTRACKED_BYTES
from gitprov.state.status import MAX_CHANGES


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
    "--require-pushed/--no-require-pushed",
    default=False,
    help="Refuse to start unless HEAD is on a remote-tracking branch (pushed).",
)
@click.option("--replace", is_flag=True, help="Replace the record of an --id that already has one.")
@click.option(
    "--untracked",
    type=click.Choice(UNTRACKED_MODES),
    default="all",
    show_default=True,
    help="How untracked files are listed: each file, folders collapsed (normal), or none.",
)
@click.option(
    "--max-changes",
    type=click.IntRange(min=0),
    default=MAX_CHANGES,
    show_default=True,
    metavar="N",
    help="Changed paths listed in the record (git.change_count keeps the true count).",
)
@click.option(
    "--snapshot/--no-snapshot",
    default=True,
    show_default=True,
    help="Store the exact tree of a dirty run (its changed files), or only list them.",
)
@click.option(
    "--snapshot-max-bytes",
    type=click.IntRange(min=0),
    default=MAX_UNTRACKED_BYTES,
    show_default=True,
    metavar="BYTES",
    help="Untracked files larger than this are left out of a snapshot (and named).",
)
@click.option(
    "--snapshot-max-total-bytes",
    type=click.IntRange(min=0),
    default=MAX_TOTAL_BYTES,
    show_default=True,
    metavar="BYTES",
    help="What one snapshot's changed files may add up to; the largest are left out first.",
)
@click.option(
    "--snapshot-exclude",
    "snapshot_exclude",
    multiple=True,
    metavar="PATTERN",
    help="Leave files matching PATTERN (gitignore syntax) out of a dirty run's snapshot, "
    "as .gitprovignore does; repeatable.",
)
@click.option(
    "--secret-key",
    "secret_keys",
    multiple=True,
    metavar="WORD",
    help="A word that marks a key as secret (its value masked), on top of the built-in "
    "ones (password, token, ...); repeatable.",
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
    untracked: str,
    max_changes: int,
    snapshot: bool,
    snapshot_max_bytes: int,
    snapshot_max_total_bytes: int,
    snapshot_exclude: tuple[str, ...],
    secret_keys: tuple[str, ...],
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    command: tuple[str, ...],
) -> None:
    """Run COMMAND in the repository and record it; exit as COMMAND exits.

    The repository is checked before COMMAND starts; its output is not captured. The
    record's ``run:`` holds the command line (``argv``, secrets masked), exit code, status
    and timing, and the digests of the ``--input`` and ``--output`` paths (relative to the
    repository folder COMMAND runs in). Runs recorded inside COMMAND name this one as their
    ``parent``. The records ref and commit index are gitprov's own options, given before
    ``run`` (``gitprov --ref REF run ...``).
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
        untracked=untracked,
        max_changes=max_changes,
        snapshot=snapshot,
        snapshot_max_bytes=snapshot_max_bytes,
        snapshot_max_total_bytes=snapshot_max_total_bytes,
        snapshot_exclude=snapshot_exclude,
        secret_keys=secret_keys,
    )
    outcome = child.Outcome(1)
    try:
        with recording:
            outcome = child.run(command, cwd)
            if outcome.error is not None:  # it could not start: say why, as a shell does
                click.echo(f"gitprov: error: {printable(outcome.error['message'])}", err=True)
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
        click.echo(session.recorded_line(), err=True)
    elif session.spooled is not None:  # the session logged why
        click.echo(
            f"gitprov: session {recording.session_id} is spooled in {session.spooled}; "
            f"`gitprov recover` writes it",
            err=True,
        )
    else:  # the session logged why, and the record itself
        click.echo(f"gitprov: session {recording.session_id} was NOT recorded", err=True)
    child.exit_like(outcome)
