"""``gitprov.record``: the provenance of a plain Python run (a script, a notebook cell).

Deliberately Kedro-free: importing Kedro costs a quarter of a second and reconfigures
logging, which neither a script that only wants a record nor ``gitprov run`` (whose output
is the user's command's output) should pay.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
import sys
import threading
import time
import traceback
from collections import UserDict
from types import TracebackType
from typing import Any

from gitprov.errors import GitProvError
from gitprov.record.document import now_utc
from gitprov.session import OPTIONS, Session
from gitprov.signals import Catch, Stopped
from gitprov.store.records import exists_error

logger = logging.getLogger(__name__)

_id_lock = threading.Lock()
_last_id = ""


def new_session_id() -> str:
    """A new id in Kedro's format (``2026-11-24T10.30.45.123Z``: UTC, milliseconds).

    Ids then sort by start time alongside Kedro's own. Two calls in one process never
    return the same id (the second waits for the next millisecond).
    """
    global _last_id
    with _id_lock:
        while True:
            now = dt.datetime.now(dt.timezone.utc)
            new = now.strftime("%Y-%m-%dT%H.%M.%S.") + f"{now.microsecond // 1000:03d}Z"
            if new != _last_id:
                _last_id = new
                return new
            time.sleep(0.0005)


def _username() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry and no $USER, as in some containers
        return None


def _status(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return "success" if exc.code in (0, None) else "failed"
    if isinstance(exc, Exception):
        return "failed"
    return "interrupted"  # KeyboardInterrupt, or another BaseException cutting the run short


def error_name(exc: BaseException) -> str:
    """The exception's type as Kedro records it: bare for builtins, else module-qualified."""
    kind = type(exc)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _describe_error(exc: BaseException) -> dict[str, Any]:
    """``{type, message, traceback}``; the traceback as lines, readable in YAML."""
    lines = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).splitlines()
    return {"type": error_name(exc), "message": str(exc), "traceback": lines}


class Recording(UserDict[str, Any]):
    """A run being recorded; the ``with`` block may add keys, or fill :attr:`run`.

    Everything that can go wrong with the repository is checked when it is built, before
    the block runs. The record is written when the block ends, however it ends; an
    exception leaving the block is recorded and then propagates unchanged.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        session_id: str | None,
        data: dict[str, Any],
        run: dict[str, Any],
        **options: Any,
    ) -> None:
        self.session = Session(
            path, new_session_id() if session_id is None else session_id, **options
        )
        self.session_id = self.session.session_id
        if self.session.existing:  # before the block runs, not after
            raise exists_error(self.session_id, self.session.records.ref)
        self.run: dict[str, Any] = {**run, **dict(data.pop("run", None) or {})}
        super().__init__({"username": _username(), **data, "run": self.run})
        self._started_at = ""
        self._started = 0.0

    def __enter__(self) -> Recording:
        self._started_at = now_utc()
        self._started = time.perf_counter()
        self._catch = Catch()  # SIGTERM/SIGHUP become Stopped, so the record is written
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        duration = time.perf_counter() - self._started
        self._catch.release()  # before saving: a second signal kills as usual
        chosen = self.run.pop("status", "success")  # the block may say how it went
        if isinstance(exc, Stopped):
            status = "interrupted"
            self.run["signal"] = exc.signal_name
        else:
            status = chosen if exc is None else _status(exc)
        ended: dict[str, Any] = {
            "started_at": self._started_at,
            "finished_at": now_utc(),
            "duration_s": round(duration, 3),
        }
        if exc is not None and status != "success":
            ended["error"] = _describe_error(exc)
        self.run = {"status": status, **self.run, **ended}
        self.data["run"] = self.run
        try:
            self.session.save(self.data)
        except GitProvError as error:
            if exc is None:
                raise
            # The block's own exception matters more; do not replace it with ours.
            logger.error("gitprov: could not record session %s: %s", self.session_id, error)


def record(
    path: str | os.PathLike[str] = ".",
    session_id: str | None = None,
    **data: Any,
) -> Recording:
    """Record the ``with`` block as one session of the repository containing ``path``.

    ``with gitprov.record(params={"lr": 0.1}) as rec: ...`` stores ``params`` (and whatever
    the block puts in ``rec``), ``run: {status, argv, started_at, finished_at, duration_s}``
    and, when the block raises, ``run.error`` with the traceback. ``session_id`` defaults to
    a new Kedro-style id (``rec.session_id``). Keywords named as the store's options
    (``ref``, ``notes_ref``, ``dirty``, ``require_pushed``, ``untracked``, ``snapshot``, ...:
    :data:`gitprov.session.OPTIONS`) configure the recording instead of being stored.
    """
    options = {key: data.pop(key) for key in OPTIONS if key in data}
    return Recording(path, session_id, data, {"argv": list(sys.argv)}, **options)
