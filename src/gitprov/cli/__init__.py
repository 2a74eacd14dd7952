"""The ``gitprov`` command line: one module per command, registered on :data:`main`."""

from __future__ import annotations

from gitprov.cli import checkout, diff, fetch, init, list_cmd, push, run, show, sync, verify  # noqa: F401  (registers the commands)
from gitprov.cli.main import main

__all__ = ["main"]
