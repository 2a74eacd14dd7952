"""Progress of long operations, on stderr when it is a terminal, and silent otherwise
(pipes, files, CI logs): one line redrawn in place, at most every 0.1 s, from 0.5 s on (a
quick operation shows nothing, as git's delayed progress)."""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import TextIO


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


class Progress:
    """``with Progress("Indexing records", total) as bar: bar.advance(n)``. Shows
    ``label: 42% (4200/10000)`` (or ``label: 4200`` without a total), then ``, done.`` as
    git does; writes nothing when :func:`wanted` says no."""

    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = None):
        self.label = label
        self.total = total
        self.done = 0
        self._stream = sys.stderr if stream is None else stream
        self._on = wanted(self._stream)
        self._shown = 0.0
        self._start = time.monotonic()

    def __enter__(self) -> Progress:
        return self

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self._on and now - self._start >= 0.5 and now - self._shown >= 0.1:
            self._shown = now
            self._draw("")

    def _draw(self, end: str) -> None:
        if self.total:
            text = f"{self.label}: {100 * self.done // self.total:3d}% ({self.done}/{self.total})"
        else:
            text = f"{self.label}: {self.done}"
        self._stream.write(f"\r{text}{end}")
        self._stream.flush()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._on and self._shown:
            self._draw(", done.\n" if exc is None else "\n")
