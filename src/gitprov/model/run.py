"""``run:``, built here for all three entry points: the Kedro plugin, ``gitprov.record()``
and ``gitprov run``.

Every ``run:`` has the same common keys, in the same order, whatever wrote it:
``status``, what ran (``argv`` and ``cwd``, or the pipeline's names, filters and runner),
who ran it (``user``), with what (Kedro's ``params`` and ``config``; ``inputs``), the
user's own keys, ``started_at``, ``finished_at``, ``duration_s``, how it ended
(``exit_code``, or ``nodes`` and ``failed_node``), ``signal`` when a signal stopped it,
``error`` (``None`` on a success, or when no exception said why: a command's ``exit_code``
does), for Kedro ``datasets_saved``, and what came out (``outputs``).

A run inside another recorded run names it as the record's ``parent``
(:data:`PARENT_ENV`, :class:`Enclosing`).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from gitprov.errors import InvalidSessionIdError
from gitprov.model.sections import (
    FAILED,
    INTERRUPTED,
    SUCCESS,
    TIMESTAMP,
    RunError,
    RunSection,
    RunStatus,
    now_utc,
)

#: Kedro's run options recorded when set: the node filters, and the input versions asked
#: for.
KEDRO_FILTERS = (
    "node_names",
    "from_nodes",
    "to_nodes",
    "from_inputs",
    "to_outputs",
    "namespaces",
    "load_versions",
    "only_missing_outputs",
)

#: What ran, by entry point, who ran it, and with what; the user's own keys follow these.
_RAN = (
    "argv",
    "cwd",
    "pipeline_names",
    "tags",
    *KEDRO_FILTERS,
    "runner",
    "user",
    "params",
    "config",
    "inputs",
)
_TIMING = ("started_at", "finished_at", "duration_s")
#: How it ended, after the timing.
_ENDED = ("exit_code", "nodes", "failed_node", "signal", "error", "datasets_saved", "outputs")

#: Names the session of the recorded run a process runs inside, for the runs it starts
#: (a ``gitprov run`` command's script calling ``record()``, a Kedro run inside either):
#: each entry point reads it as its record's ``parent`` and sets it to its own id while it
#: runs.
PARENT_ENV = "GITPROV_PARENT_SESSION"

#: The runs of this process that enclose what starts while they last, innermost last: id
#: -> the thread they enclose (``None``: every thread, as a Kedro run encloses its
#: runner's threads); and what :data:`PARENT_ENV` said before the first of them.
_open: dict[str, int | None] = {}
_outside: list[str | None] = [None]
_open_lock = threading.Lock()


def parent_of(session_id: str) -> str | None:
    """The session this run (``session_id``) runs inside, if it runs inside one: the
    innermost run of this process that encloses this thread, else the one this process
    was started inside. Runs in other threads are not parents, only siblings."""
    from gitprov.model.document import validate_session_id  # which builds on this module

    here = threading.get_ident()
    with _open_lock:
        mine = [run for run, thread in _open.items() if thread in (None, here)]
        parent = mine[-1] if mine else _outside[0] if _open else os.environ.get(PARENT_ENV)
    if not parent or parent == session_id:
        return None
    try:
        return validate_session_id(parent)
    except InvalidSessionIdError:
        return None


class Enclosing:
    """While a run lasts, the runs started inside it name it as their parent: those of its
    thread (of every thread when ``every_thread``) and, through :data:`PARENT_ENV`, the
    processes started meanwhile. ``leave()`` puts back the run that enclosed it, so that
    runs nest."""

    def __init__(self, session_id: str, *, every_thread: bool = False) -> None:
        self.session_id = session_id
        self._every_thread = every_thread

    def enter(self) -> None:
        with _open_lock:
            if not _open:
                _outside[0] = os.environ.get(PARENT_ENV)
            _open.pop(self.session_id, None)
            _open[self.session_id] = None if self._every_thread else threading.get_ident()
            os.environ[PARENT_ENV] = self.session_id

    def leave(self) -> None:
        with _open_lock:
            if self.session_id not in _open:
                return  # left already
            del _open[self.session_id]
            inner = next(reversed(_open), None)
            value = inner if inner is not None else _outside[0]
            if value is None:
                os.environ.pop(PARENT_ENV, None)
            else:
                os.environ[PARENT_ENV] = value


@dataclass(frozen=True)
class Started:
    """When a run started: the time a record shows, and the clock its duration is taken on."""

    at: str = field(default_factory=now_utc)
    clock: float = field(default_factory=time.perf_counter)

    def duration(self) -> float:
        return round(time.perf_counter() - self.clock, 3)


def error_name(exc: BaseException) -> str:
    """The exception's type as Kedro records it: bare for builtins, else module-qualified."""
    kind = type(exc)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def error_of(
    exc: BaseException, *, message: str | None = None, with_traceback: bool = False
) -> RunError:
    """``{type, message}``, and the traceback as lines (readable in YAML) when asked."""
    error: RunError = {"type": error_name(exc), "message": str(exc) if message is None else message}
    if with_traceback:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        error["traceback"] = text.splitlines()
    return error


def status_of(exc: BaseException) -> RunStatus:
    """How an exception leaving a run ends it: ``sys.exit(0)`` is a success, any other exit
    or ``Exception`` a failure, anything else (``KeyboardInterrupt``) cuts it short."""
    if isinstance(exc, SystemExit):
        return SUCCESS if exc.code in (0, None) else FAILED
    if isinstance(exc, Exception):
        return FAILED
    return INTERRUPTED


def _ordered(fields: Mapping[str, Any]) -> RunSection:
    head = [k for k in ("status", *_RAN) if k in fields]
    tail = [k for k in (*_TIMING, *_ENDED) if k in fields]
    own = [k for k in fields if k not in head and k not in tail]
    return cast(RunSection, {k: fields[k] for k in (*head, *own, *tail)})


def section(
    status: RunStatus,
    started: Started,
    *,
    ran: Mapping[str, Any],
    ended: Mapping[str, Any] | None = None,
    signal: str | None = None,
    error: RunError | None = None,
    finished: bool = True,
) -> RunSection:
    """The ``run:`` section of a run that started at ``started`` and ends now (or, unless
    ``finished``, is under way: a Kedro run's, which its store holds from the start).

    ``ran`` says what ran, with the user's own keys (put after what ran), ``ended`` the
    entry point's own outcome (``exit_code``; ``nodes``...).
    """
    fields: dict[str, Any] = {**ran, **(ended or {})}
    fields.update(
        status=status,
        started_at=started.at,
        finished_at=now_utc() if finished else None,
        duration_s=started.duration() if finished else None,
        error=None if status == SUCCESS else error,
    )
    if signal is not None:
        fields["signal"] = signal
    return _ordered(fields)


def finish(
    run: RunSection,
    status: RunStatus,
    started: Started,
    *,
    signal: str | None = None,
    error: RunError | None = None,
) -> None:
    """End, in place, the section :func:`section` began with ``finished=False``; an
    ``error`` already there (a failed node's) stays."""
    ended = section(
        status,
        started,
        ran=run,
        signal=signal,
        error=run.get("error") or error,
    )
    in_place = cast(dict[str, Any], run)  # rewritten whole, so that the keys stay in order
    in_place.clear()
    in_place.update(ended)


def close(run: Any, saved_at: str, exception: Any = None) -> Any:
    """``run`` ended at ``saved_at`` if it was still under way when saved.

    A Kedro run stopped by Ctrl-C skips both of Kedro's end hooks, and Kedro saves the store
    on its way out: the run ended at that save, and the exception Kedro put in the record
    (its ``exception``: type, value, traceback) is why. Anything else is returned as it is.
    """
    if not isinstance(run, dict) or "finished_at" not in run or run["finished_at"] is not None:
        return run
    try:
        start = dt.datetime.strptime(str(run.get("started_at")), TIMESTAMP)
        duration = (dt.datetime.strptime(saved_at, TIMESTAMP) - start).total_seconds()
    except ValueError:
        return run
    closed = {**run, "finished_at": saved_at, "duration_s": round(max(duration, 0.0), 3)}
    if closed.get("error") is None and isinstance(exception, dict) and exception.get("type"):
        closed["error"] = {"type": str(exception["type"]), "message": str(exception.get("value"))}
    return closed
