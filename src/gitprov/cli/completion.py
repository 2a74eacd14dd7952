"""Shell completion of session ids, for every argument that takes one.

Click's own mechanism does the rest (``eval "$(_GITPROV_COMPLETE=bash_source gitprov)"``,
``zsh_source``, ``fish_source``: see the README). Completion runs on every Tab press, so it
lists names only (``SessionLog.ids`` also checks each record's size: 4 s at 100k records,
against 0.1 s) and never fails: any error completes nothing rather than printing a
traceback into the user's command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gitprov.git import Git


def session_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """The recorded session ids (local and fetched, less the forgotten) that start with
    ``incomplete``, in the repository and refs the command line names (``-C``, ``--ref``,
    ``--notes-ref``)."""
    import logging

    from gitprov.cli.main import Target

    root = ctx.find_root().params
    logging.disable(logging.CRITICAL)  # skipped-copy warnings would land in the prompt
    try:
        log = Target(root.get("path") or ".", root.get("ref"), root.get("notes_ref")).log()
        return _ids(log.git, log.sources()[0], incomplete)
    except Exception:  # completion must never fail
        return []
    finally:
        logging.disable(logging.NOTSET)


def _ids(git: Git, refs: list[str], prefix: str) -> list[str]:
    """The ids starting with ``prefix`` that ``refs`` hold a record of and no tombstone,
    by their file names alone (a fetched copy's names are checked as ids, nothing else)."""
    from gitprov.errors import GitProvError
    from gitprov.git.process import zsplit
    from gitprov.model.document import validate_session_id
    from gitprov.store.records import FORGOTTEN_DIR
    from gitprov.store.untrusted import BUCKET

    found: dict[bool, set[str]] = {False: set(), True: set()}  # by "is a tombstone"
    for ref in refs:
        top = git.run("ls-tree", "--name-only", "-z", ref, ok=(0, 128)).stdout
        folders = [n.decode() for n in zsplit(top) if BUCKET.fullmatch(n.decode(errors="replace"))]
        folders += [FORGOTTEN_DIR] if FORGOTTEN_DIR.encode() in zsplit(top) else []
        if not folders:
            continue
        listing = git.run(
            "--literal-pathspecs", "ls-tree", "-r", "--name-only", "-z", ref, "--", *folders
        )
        for path in zsplit(listing.stdout):
            *where, name = path.decode("utf-8", "replace").split("/")
            if name.startswith(prefix) and name.endswith(".yaml"):
                tombstone = len(where) == 2 and where[0] == FORGOTTEN_DIR
                if len(where) == 1 or tombstone:
                    found[tombstone].add(name.removesuffix(".yaml"))
    ids = []
    for session_id in sorted(found[False] - found[True]):
        try:
            ids.append(validate_session_id(session_id))
        except GitProvError:
            continue
    return ids
