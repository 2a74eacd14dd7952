"""The ``gitprov`` command (its console script) and ``python -m gitprov``."""

from __future__ import annotations

import gc


def run() -> None:
    """Run the command line. The modules it imports live as long as the process, so the
    cyclic collector is kept off them: paused while they load, then frozen out of its
    scans (a warm ``list --where`` spent a twentieth of its instructions rescanning
    them); it runs as usual on everything the command itself makes."""
    gc.disable()
    try:
        from gitprov.cli import main
    finally:
        gc.freeze()
        gc.enable()
    main(prog_name="gitprov")


if __name__ == "__main__":
    run()
