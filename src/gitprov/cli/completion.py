"""Shell completion of session ids, for every argument that takes one.

Click's own mechanism does the rest (``eval "$(_GITPROV_COMPLETE=bash_source gitprov)"``,
``zsh_source``, ``fish_source``: see the README). Completion runs on every Tab press, so it
reads the ids the way ``gitprov list --format ids`` does and never fails: any error
completes nothing rather than printing a traceback into the user's command line.
"""

from __future__ import annotations

import click


def session_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """The recorded session ids (local and fetched) that start with ``incomplete``, in the
    repository and refs the command line names (``-C``, ``--ref``, ``--notes-ref``)."""
    import logging

    from gitprov.cli.main import Target

    root = ctx.find_root().params
    logging.disable(logging.CRITICAL)  # skipped-copy warnings would land in the prompt
    try:
        target = Target(root.get("path") or ".", root.get("ref"), root.get("notes_ref"))
        ids = target.log().ids()
    except Exception:  # completion must never fail
        return []
    finally:
        logging.disable(logging.NOTSET)
    return [i for i in ids if i.startswith(incomplete)]
