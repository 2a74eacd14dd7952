"""The ``gitprov`` command line: one module per command, registered on :data:`main`."""

from __future__ import annotations

from gitprov.cli import (  # noqa: F401  (registers the commands)
    checkout,
    diff,
    fetch,
    forget,
    hook,
    init,
    list_cmd,
    push,
    recover,
    run,
    schema,
    show,
    sync,
    verify,
    which,
)
from gitprov.cli.main import main

__all__ = ["main"]
