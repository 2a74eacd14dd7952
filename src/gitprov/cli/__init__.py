"""The ``gitprov`` command line: one module per command, registered on :data:`main`.

A command's module is imported when the command runs (see :data:`gitprov.cli.main.COMMANDS`),
so ``gitprov --version`` or ``gitprov list`` never pay for what ``sync`` or ``run`` import.
"""

from __future__ import annotations

from gitprov.cli.main import main

__all__ = ["main"]
