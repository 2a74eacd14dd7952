"""Which recorded runs wrote or read given bytes: the digest index, read for one digest.

The records tree indexes every ``sha256:`` digest a record lists in ``run.inputs`` or
``run.outputs`` under ``digests/<aa>/<hex>/<yy>/<session id>``
(:data:`~gitprov.store.records.DIGESTS_DIR`, read by
:meth:`~gitprov.store.records.RecordStore.indexed_in`). Looking one digest up reads the few trees on
its path, in the local records ref and each fetched copy, then the records it names:
never a listing of all records, so the answer costs the same with 10 or 100,000 of them.
An entry only points: a record that does not list the digest (re-saved since with other
outputs, or named by a hostile copy) is not a match, and what is not laid out as gitprov
writes it is skipped (:func:`~gitprov.store.untrusted.index_problem`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitprov.errors import GitProvError
from gitprov.git import Git
from gitprov.model.digests import Role, digest_hex, listing
from gitprov.model.document import run_status


@dataclass(frozen=True)
class Match:
    """One dataset item of a recorded run whose bytes have the digest asked for."""

    session_id: str
    role: Role  # "output": the run wrote these bytes; "input": it read them
    dataset: str | None  # the Kedro dataset's name, or what the entry point named it
    path: str | None  # where the run read or wrote it (relative to the project inside it)
    digest: str
    commit: str | None  # the code that ran
    dirty: bool | None  # whether the work tree differed from it
    status: str  # how the run ended (``success``, ``failed``, ``interrupted``)
    started_at: str | None  # ``run.started_at``, else ``provenance.saved_at``
    source: str  # the records ref the record was read from (local, or a fetched copy)


def as_digest(path_or_digest: str | os.PathLike[str], git: Git) -> str:
    """``sha256:<hex>`` given as it is, or of the file or folder at a path (as records
    digest them, :mod:`gitprov.state.digest`, through the cache in ``git``'s git dir
    unless it is a bare server repository); ``OSError`` when the path is neither."""
    text = os.fspath(path_or_digest)
    if text.startswith("sha256:"):
        if digest_hex(text) is None:
            raise GitProvError(f"{text!r} is not a digest: sha256: and 64 hex digits (lowercase)")
        return text
    from gitprov.state.digest import Digests

    with Digests(None if git.worktree is None else git.common_dir) as digests:
        return digests.of(text)


def matches(session_id: str, record: Mapping[str, Any], digest: str, source: str) -> list[Match]:
    """The items of ``session_id``'s ``record`` (read from the records ref ``source``)
    with ``digest``."""
    git = record.get("git")
    git = git if isinstance(git, Mapping) else {}
    run = record.get("run")
    provenance = record.get("provenance")
    started = run.get("started_at") if isinstance(run, Mapping) else None
    if started is None and isinstance(provenance, Mapping):
        started = provenance.get("saved_at")
    commit, dirty = git.get("commit"), git.get("dirty")
    return [
        Match(
            session_id=session_id,
            role=role,
            dataset=_text(item.get("dataset")),
            path=_text(item.get("path")),
            digest=digest,
            commit=_text(commit),
            dirty=dirty if isinstance(dirty, bool) else None,
            status=run_status(record),
            started_at=_text(started),
            source=source,
        )
        for role, item in listing(record, digest)
    ]


def newest_first(found: list[Match]) -> list[Match]:
    """``found`` newest first: by start time, then by session id (undated last); one
    session's items keep their order (outputs first)."""
    return sorted(found, key=lambda m: (m.started_at or "", m.session_id), reverse=True)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
