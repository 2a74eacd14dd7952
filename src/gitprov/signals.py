"""SIGTERM and SIGHUP as an exception, so that a run stopped by one still writes its record.

Python dies of these signals on the spot: no ``finally``, no ``with`` exit, so neither
Kedro's session (which saves the store on exit) nor a ``gitprov.record()`` block would
write anything for a CI cancel, a closed terminal or a ``kill``. While a recorded run is
under way, :class:`Catch` turns them into :class:`Stopped`, raised in the main thread
like ``KeyboardInterrupt`` for SIGINT, and the process still ends with the status a
killed process reports (128+N).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

#: What a CI cancel or ``kill`` sends (SIGTERM), and a closed terminal (SIGHUP).
CAUGHT = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Stopped(SystemExit):
    """The run was stopped by signal ``signum``.

    A ``SystemExit``, not an ``Exception``: code under way that catches ``Exception``
    does not swallow it, and, uncaught, it ends the process with exit status 128+N, as
    the signal itself would have.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    def __str__(self) -> str:
        return f"stopped by {self.signal_name}"


class Catch:
    """Handlers raising :class:`Stopped` for :data:`CAUGHT`, until :meth:`release`.

    Installed only from the main thread (the only one allowed to) and only over the
    default handler: a user's own handler, or ``SIG_IGN`` from ``nohup``, stays. The first
    signal puts the defaults back before raising, so a second one kills as usual.
    ``on_signal`` is handed the :class:`Stopped` first, from the main thread.
    """

    def __init__(self, on_signal: Callable[[Stopped], None] | None = None) -> None:
        self._on_signal = on_signal
        self._pid = os.getpid()
        self._installed: list[int] = []
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in CAUGHT:
            if signal.getsignal(signum) is signal.SIG_DFL:
                signal.signal(signum, self._handle)
                self._installed.append(signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.release()
        if os.getpid() != self._pid:
            # A worker forked by the run (ParallelRunner) inherited the handler; it has
            # no record to write, so it dies of the signal as it would have without us.
            os.kill(os.getpid(), signum)
            return
        stop = Stopped(signum)
        if self._on_signal is not None:
            self._on_signal(stop)
        raise stop

    def release(self) -> None:
        """Put the default handlers back where ours are still installed (a handler the
        user set since then stays). From the thread that built this ``Catch``."""
        for signum in self._installed:
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, signal.SIG_DFL)
        self._installed.clear()
