"""Tombstones: what is left of a forgotten session (its id, when, who, why), never its content.

A tombstone lives in the records tree as ``forgotten/<xx>/<session_id>.yaml`` (``xx`` as for
records), so it travels with the records ref to every clone and remote, a save reads one
small fanout folder to refuse a forgotten id, and a merge unions tombstones as it unions
records. It holds four short strings; a tombstone from a remote is read within
:data:`MAX_TOMBSTONE_BYTES` and refused whole if it holds anything else.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from gitprov.errors import SessionForgottenError
from gitprov.model.document import dump
from gitprov.model.limits import load_stored

#: The largest tombstone read (bytes): four short strings.
MAX_TOMBSTONE_BYTES = 16 * 1024
#: The longest reason kept (characters); a longer one is cut, marked with an ellipsis.
MAX_REASON = 2000

_FIELDS = ("session_id", "forgotten_at", "by", "reason")


class Tombstone(NamedTuple):
    """A forgotten session: ``forgotten_at`` (UTC, as records' ``saved_at``), ``by`` (who
    ran ``gitprov forget``) and the ``reason`` given."""

    session_id: str
    forgotten_at: str
    by: str
    reason: str

    def dump(self) -> bytes:
        return dump({name: getattr(self, name) for name in _FIELDS})

    @classmethod
    def load(cls, data: bytes, session_id: str, where: str) -> Tombstone:
        """Parse a stored tombstone (the blob ``where``); one that is not exactly the four
        strings, for ``session_id``, raises :class:`CorruptRecordError`."""

        def check(fields: Any) -> None:
            if not isinstance(fields, dict) or sorted(fields) != sorted(_FIELDS):
                raise ValueError(f"is not a mapping of exactly {', '.join(_FIELDS)}")
            if not all(isinstance(fields[name], str) for name in _FIELDS):
                raise ValueError("holds a value that is not a string")
            if fields["session_id"] != session_id:
                raise ValueError(f"names session {fields['session_id']!r}")

        named = f"the tombstone of session {session_id}"
        fields = load_stored(data, MAX_TOMBSTONE_BYTES, named, where, check)
        return cls(*(fields[name] for name in _FIELDS))

    def error(self) -> SessionForgottenError:
        return SessionForgottenError(
            f"session {self.session_id} was forgotten on {self.forgotten_at}: {self.reason} "
            f"(by {self.by}); its record is gone for good, and its id cannot be recorded again"
        )
