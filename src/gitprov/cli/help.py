"""``gitprov help [COMMAND]``: the same as ``gitprov COMMAND --help`` (or ``gitprov --help``)."""

from __future__ import annotations

import click

from gitprov.cli.main import COMMANDS, main

#: The commands ``gitprov --help`` lists (``hook`` is hidden: the pre-push hook runs it).
SHOWN = sorted(set(COMMANDS) - {"hook"})


def _commands(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    return [name for name in SHOWN if name.startswith(incomplete)]


@main.command("help")
@click.argument("command", required=False, shell_complete=_commands)
@click.pass_context
def help_cmd(ctx: click.Context, command: str | None) -> None:
    """Show the help of COMMAND, or of gitprov itself."""
    parent = ctx.parent
    assert parent is not None
    if command is None:
        click.echo(parent.get_help())
        return
    found = main.get_command(parent, command)
    if found is None or found.hidden:
        raise click.UsageError(
            f"no such command {command!r}; the commands: {', '.join(SHOWN)}", ctx
        )
    with click.Context(found, info_name=command, parent=parent) as sub:
        click.echo(found.get_help(sub))
