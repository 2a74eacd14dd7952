"""``python -m gitprov``: the same as the ``gitprov`` command."""

from gitprov.cli import main

main(prog_name="gitprov")
