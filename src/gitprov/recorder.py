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
from collections import UserDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from gitprov.errors import GitProvError
from gitprov.model import run as run_section
from gitprov.model.sections import INTERRUPTED, SUCCESS, DatasetItem, RunError, RunStatus
from gitprov.session import OPTIONS, Session
from gitprov.signals import Catch, Stopped
from gitprov.state.digest import Digests
from gitprov.state.environment import git_user
from gitprov.state.files import path_items
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
            now = dt.datetime.now(dt.UTC)
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


class Recording(UserDict[str, Any]):
    """A run being recorded; the ``with`` block may add keys, or fill :attr:`run`.

    Everything that can go wrong with the repository is checked when it is built, before
    the block runs. The record is written when the block ends, however it ends; an
    exception leaving the block is recorded and then propagates unchanged. ``ran`` says
    what runs (``argv`` and ``cwd``), :mod:`gitprov.model.run` builds ``run:`` from it.

    ``inputs`` are digested when the block starts, ``outputs`` when it ends (paths or
    globs, from ``cwd``: :mod:`gitprov.state.files`); :meth:`input` and :meth:`output` add
    more from inside the block. Runs started inside the block (processes included) record
    this one as their ``parent``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        session_id: str | None,
        data: dict[str, Any],
        ran: Mapping[str, Any],
        *,
        inputs: Iterable[str | os.PathLike[str]] = (),
        outputs: Iterable[str | os.PathLike[str]] = (),
        **options: Any,
    ) -> None:
        self.session = Session(
            path, new_session_id() if session_id is None else session_id, **options
        )
        self.session_id = self.session.session_id
        if self.session.existing:  # before the block runs, not after
            raise exists_error(self.session_id, self.session.records.ref)
        #: What ran and the user's own keys; ``status`` here says how the block went.
        self.run: dict[str, Any] = {
            **ran,
            "user": git_user(self.session.git),
            **dict(data.pop("run", None) or {}),
        }
        parent = run_section.parent_of(self.session_id)
        upper = {"parent": parent} if parent else {}
        super().__init__({"username": _username(), **upper, **data, "run": self.run})
        self._cwd = Path(str(ran.get("cwd") or os.getcwd()))
        self._inputs = list(inputs)
        self._outputs = list(outputs)
        self._read: list[DatasetItem] = []
        self._enclosing = run_section.Enclosing(self.session_id)
        self._ended: Ended | None = None
        self._started = run_section.Started()

    def input(self, path: str | os.PathLike[str]) -> None:
        """Record ``path`` (a file, a folder, a glob) as read by the run, digested now."""
        self._read += self._items([path])

    def output(self, path: str | os.PathLike[str]) -> None:
        """Record ``path`` (a file, a folder, a glob) as written by the run, digested when
        the run ends."""
        self._outputs.append(path)

    def _items(self, paths: Iterable[str | os.PathLike[str]]) -> list[DatasetItem]:
        with Digests(self.session.git.common_dir) as digests:
            return path_items(paths, self._cwd, self.session.git.root, digests)

    def end(self, ended: Ended) -> None:
        """Say how the run ended (``gitprov run``: how its command exited); an exception
        leaving the block still decides."""
        self._ended = ended

    def __enter__(self) -> Recording:
        self._read = self._items(self._inputs) if self._inputs else []
        self._started = run_section.Started()
        self._catch = Catch()  # SIGTERM/SIGHUP become Stopped, so the record is written
        self._enclosing.enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._catch.release()  # before saving: a second signal kills as usual
        self._enclosing.leave()
        ran = dict(self.run)
        ran["inputs"] = self._read
        ran["outputs"] = self._items(self._outputs) if self._outputs else []
        chosen: RunStatus = ran.pop("status", SUCCESS)  # the block may say how it went
        ended = self._ended or Ended(chosen)
        if exc is not None:
            stopped = exc.signal_name if isinstance(exc, Stopped) else None
            ended = Ended(
                INTERRUPTED if stopped else run_section.status_of(exc),
                signal=stopped,
                error=run_section.error_of(exc, with_traceback=True),
                outcome=ended.outcome,
            )
        section = run_section.section(
            ended.status,
            self._started,
            ran=ran,
            ended=ended.outcome,
            signal=ended.signal,
            error=ended.error,
        )
        self.data["run"] = self.run = cast(dict[str, Any], section)  # the whole section now
        try:
            self.session.save(self.data)
        except GitProvError as error:
            if exc is None:
                raise
            # The block's own exception matters more; do not replace it with ours.
            logger.error("gitprov: could not record session %s: %s", self.session_id, error)


@dataclass(frozen=True)
class Ended:
    """How a run ended, when not by an exception: its status, the signal that stopped it,
    why it failed, and what the entry point adds (``exit_code``)."""

    status: RunStatus
    signal: str | None = None
    error: RunError | None = None
    outcome: Mapping[str, Any] = field(default_factory=dict)


def record(
    path: str | os.PathLike[str] = ".",
    session_id: str | None = None,
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    outputs: Iterable[str | os.PathLike[str]] = (),
    **data: Any,
) -> Recording:
    """Record the ``with`` block as one session of the repository containing ``path``.

    ``with gitprov.record(params={"lr": 0.1}) as rec: ...`` stores ``params`` (and whatever
    the block puts in ``rec``), ``run: {status, argv, cwd, started_at, finished_at,
    duration_s, error}`` (:mod:`gitprov.model.run`), ``error`` with the traceback when the
    block raises. ``inputs`` and ``outputs`` (paths or globs; ``rec.input(path)`` and
    ``rec.output(path)`` add more) become ``run.inputs``/``run.outputs`` with their
    digests, outputs taken when the block ends. ``session_id`` defaults to
    a new Kedro-style id (``rec.session_id``). Keywords named as the store's options
    (``ref``, ``notes_ref``, ``dirty``, ``require_pushed``, ``untracked``, ``snapshot``, ...:
    :data:`gitprov.session.OPTIONS`) configure the recording instead of being stored.
    """
    options = {key: data.pop(key) for key in OPTIONS if key in data}
    return Recording(
        path,
        session_id,
        data,
        {"argv": list(sys.argv), "cwd": os.getcwd()},
        inputs=inputs,
        outputs=outputs,
        **options,
    )
