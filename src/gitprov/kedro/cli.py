"""``kedro gitprov ...``: gitprov's own command line, inside a Kedro project.

Kedro merges the groups named by ``kedro.project_commands`` entry points into its CLI, so
the whole ``gitprov`` group becomes one ``kedro`` subcommand.
"""

from __future__ import annotations

import click

from gitprov.cli import main


@click.group()
def commands() -> None:
    """gitprov commands for Kedro projects."""


commands.add_command(main, name="gitprov")
