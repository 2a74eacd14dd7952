"""The query index: what ``gitprov list``, ``verify``, ``report`` and ``SessionLog.query``
read instead of parsing every record (derived from the records refs, never their source)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitprov.audit.log import SessionLog
    from gitprov.index.query import QueryIndex


def open_index(log: SessionLog) -> QueryIndex:
    """The query index of the records ``log`` reads (caught up on each query)."""
    from gitprov.index.query import QueryIndex

    return QueryIndex(log.git, log.ref)
