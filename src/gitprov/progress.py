"""Progress of long operations, on stderr when it is a terminal, and silent otherwise
(pipes, files, CI logs): one line redrawn in place every 0.1 s, from 0.5 s on (a quick
operation shows nothing, as git's delayed progress; ``GITPROV_PROGRESS_DELAY`` changes the
0.5 s, for tests). A timer redraws the line, so a step that counts nothing (a fetch, a push:
one git process) still shows that it is under way."""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import TextIO

#: Seconds between two draws of the line.
INTERVAL = 0.1


def wanted(stream: TextIO | None = None) -> bool:
    """Whether progress is shown: ``stream`` (stderr) is a terminal, and neither
    ``GITPROV_PROGRESS=0`` nor ``TERM=dumb`` says otherwise."""
    stream = sys.stderr if stream is None else stream
    if os.environ.get("GITPROV_PROGRESS") == "0" or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _delay() -> float:
    try:
        return max(0.0, float(os.environ.get("GITPROV_PROGRESS_DELAY", "0.5")))
    except ValueError:
        return 0.5


class Progress:
    """``with Progress("Indexing records", total) as bar: bar.advance(n)``. Shows
    ``label: 42% (4200/10000)`` (or ``label: 4200`` without a total, ``label`` before the
    first count), then ``, done.`` as git does; ``bar.step("pushing")`` names the step
    under way (shown after the count).
    Writes nothing when :func:`wanted` says no."""

    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = None):
        self.label = label
        self.total = total
        self.done = 0
        self.doing = ""
        self._stream = sys.stderr if stream is None else stream
        self._on = wanted(self._stream)
        self._delay = _delay()
        self._shown = 0.0
        self._width = 0
        self._start = time.monotonic()
        self._lock = threading.Lock()  # the timer's thread draws too
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self._on:
            self._maybe_draw()
            self._timer = threading.Thread(target=self._tick, name="gitprov-progress", daemon=True)
            self._timer.start()
        return self

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._maybe_draw()

    def step(self, doing: str) -> None:
        """Name what is under way now (``fetching``, ``merging``)."""
        self.doing = doing
        self._maybe_draw()

    def _tick(self) -> None:
        while not self._stop.wait(INTERVAL):
            self._maybe_draw()

    def _maybe_draw(self) -> None:
        now = time.monotonic()
        if self._on and now - self._start >= self._delay and now - self._shown >= INTERVAL:
            with self._lock:
                self._shown = now
                self._draw("")

    def _draw(self, end: str) -> None:
        if self.total:
            text = f"{self.label}: {100 * self.done // self.total:3d}% ({self.done}/{self.total})"
        elif self.done:
            text = f"{self.label}: {self.done}"
        else:
            text = self.label
        if self.doing and not end:
            text += f"{':' if text == self.label else ','} {self.doing}"
        pad = " " * max(0, self._width - len(text))  # clear what a longer line left
        self._width = len(text)
        self._stream.write(f"\r{text}{pad}{end}")
        self._stream.flush()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._stop.set()
            self._timer.join()
        if self._on and self._shown:
            with self._lock:
                self._draw(", done.\n" if exc is None else "\n")
