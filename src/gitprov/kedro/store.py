"""``GitSessionStore``: Kedro's ``SESSION_STORE_CLASS`` that keeps sessions in git.

Kedro builds the store with ``path=<project>/sessions`` and ``session_id=<id>`` (plus
``SESSION_STORE_ARGS``), fills it as a dict while the session runs and calls ``save()``
when the session closes. Everything that can go wrong with the repository is checked in
``__init__``, so a misconfigured project fails before its pipeline runs, not after.
"""

from __future__ import annotations

import weakref
from collections import UserDict
from typing import Any

from gitprov.errors import SessionNotFoundError
from gitprov.session import Session

#: The stores of the sessions alive in this process, by session id, for the plugin's hooks
#: (Kedro hands hooks the session id, never the store). Weak: an entry lives exactly as
#: long as its session holds the store, through the ``save()`` Kedro calls after the hooks.
_LIVE: weakref.WeakValueDictionary[str, GitSessionStore] = weakref.WeakValueDictionary()


def live_store(session_id: str) -> GitSessionStore | None:
    """The store of the live session ``session_id`` in this process, if there is one."""
    return _LIVE.get(session_id)


try:  # Kedro's settings validator requires a BaseSessionStore subclass.
    from kedro.framework.session.store import BaseSessionStore as _Base
except ImportError:  # pragma: no cover - exercised by the no-Kedro test environment

    class _Base(UserDict):  # type: ignore[no-redef,type-arg]
        """The same contract as Kedro's base class, for use without Kedro."""

        def __init__(self, path: str, session_id: str) -> None:
            self._path = path
            self._session_id = session_id
            super().__init__(self.read())

        def read(self) -> dict[str, Any]:
            return {}

        def save(self) -> None:
            return None


class GitSessionStore(_Base):
    """A Kedro session store whose records live on ``refs/provenance/sessions``.

    ``options`` are :class:`gitprov.session.Session`'s (``SESSION_STORE_ARGS``): ``ref``,
    ``notes_ref``, ``untracked``, ``max_changes``, ``dirty``, ``require_pushed``,
    ``snapshot``, ``snapshot_max_bytes``, ``secret_keys``.
    """

    def __init__(self, path: str, session_id: str, **options: Any) -> None:
        self._path = str(path)
        self._session = Session(path, session_id, **options)
        self._session_id = self._session.session_id
        _LIVE[self._session_id] = self
        self._constructing = True
        super().__init__(self._path, self._session_id)
        self._constructing = False

    @property
    def path(self) -> str:
        return self._path

    @property
    def session_id(self) -> str:
        return self._session_id

    def read(self) -> dict[str, Any]:
        """The stored record; ``SessionNotFoundError`` if there is none (but a new
        session under construction simply starts empty)."""
        try:
            return self._session.read()
        except SessionNotFoundError:
            if self._constructing:
                return {}
            raise

    def save(self, data: dict[str, Any] | None = None) -> None:
        """Capture the git state now and write this session's record (replacing any)."""
        if data:
            self.update(data)
        self._session.save(self.data)
