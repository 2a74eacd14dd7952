"""The storage seam: what the rest of gitprov may ask of where records live.

:class:`Records` is what a session (saving), the log (reading) and audit ask for;
:class:`~gitprov.store.records.RecordStore`, the records ref and notes index in git, is
the one backend today. Callers hold a store as a :class:`Records`, so the type checker keeps
them off the backend's internals (its trees, object writer and ref moves); the sync engine,
which merges histories, uses the backend's marked sync section. A new backend implements
this protocol; ``tests/test_store_contract.py`` runs the same contract against every
backend it lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from gitprov.git.objects import ObjectWriter
    from gitprov.git.reader import ObjectReader
    from gitprov.model.tombstone import Tombstone
    from gitprov.store.forget import Forgotten
    from gitprov.store.untrusted import LeftOut


class Note(NamedTuple):
    """A line for the commit index: ``line`` goes into the note on ``commit``."""

    commit: str
    line: str


class Stored(NamedTuple):
    """A file as stored on a ref: where (``ref:path``, for messages) and its bytes."""

    where: str
    data: bytes


class Pending(Protocol):
    """One save under way (from :meth:`Records.saving`)."""

    def prefetch(self) -> None:
        """Read ahead what the save will need, while the caller captures the tree."""

    def save(
        self,
        data: bytes,
        *,
        note: Note | None = None,
        pins: Sequence[str] = (),
        replace: bool = True,
        digests: Sequence[str] = (),
    ) -> str:
        """Store ``data`` (with its index line, pins and digest entries) in one
        compare-and-swap; return the new tip."""


class Records(Protocol):
    """Records of one repository under ``ref``, indexed by commit under ``notes_ref``."""

    @property
    def ref(self) -> str: ...

    @property
    def notes_ref(self) -> str | None: ...

    @property
    def objects(self) -> ObjectWriter:
        """Where a save's other objects (a dirty run's snapshot) are written, so that they
        go out with the record."""

    def saving(self, session_id: str) -> AbstractContextManager[Pending]:
        """Start a save of ``session_id`` (its processes come up while the caller works)."""

    def save(
        self,
        session_id: str,
        data: bytes,
        *,
        note: Note | None = None,
        pins: Sequence[str] = (),
        replace: bool = True,
        digests: Sequence[str] = (),
    ) -> str:
        """Store ``data`` as ``session_id``'s record; return the new tip."""

    def read(self, session_id: str) -> bytes:
        """The stored bytes of ``session_id``'s record (``SessionNotFoundError``)."""

    def has(self, session_id: str) -> bool: ...

    def forgotten(self, session_id: str) -> Tombstone | None:
        """``session_id``'s tombstone, if it was forgotten."""

    def ids(self) -> list[str]:
        """Every stored session id, ascending."""

    def record_in(self, cat: ObjectReader, ref: str, session_id: str) -> Stored | None:
        """``session_id``'s record in ``ref``: this store's or a fetched copy of it."""

    def tombstone_in(self, cat: ObjectReader, ref: str, session_id: str) -> Stored | None:
        """``session_id``'s tombstone in ``ref``: this store's or a fetched copy of it."""

    def note_in(self, cat: ObjectReader, notes_ref: str, commit: str) -> bytes | None:
        """The note on ``commit`` in ``notes_ref``: this store's or a fetched copy."""

    def indexed_in(
        self, cat: ObjectReader, ref: str, digest: str, skipped: list[LeftOut]
    ) -> list[str]:
        """The session ids ``ref`` indexes under ``digest`` (``sha256:<hex>``): this
        store's or a fetched copy's; what is not an index entry goes into ``skipped``."""

    def forget(self, ids: Sequence[str], reason: str) -> Forgotten:
        """Remove ``ids``' records for good, leaving a tombstone each."""
