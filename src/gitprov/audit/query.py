"""What a user types to choose runs, made into the index's terms (:mod:`gitprov.index.api`):
``--where KEY<OP>VALUE`` into a :class:`~gitprov.index.api.Condition`, ``--since``/
``--until`` into epoch seconds; and how an entry's fields read in a table.

Kept free of heavy imports: ``gitprov list`` parses its options through this module on
every run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from gitprov.errors import InvalidQueryError
from gitprov.index.api import OPS, Condition, Query

#: A time as :meth:`SessionLog.query` takes it: epoch seconds, a datetime (naive: local),
#: or a text as ``--since`` reads it.
When = float | datetime | str

#: The accepted forms, shown with every malformed expression.
WHERE_FORMS = (
    "KEY<OP>VALUE as one argument, OP one of = != < <= > >= ~ (~: VALUE is a substring), "
    "KEY a dotted key as `gitprov compare` shows it: "
    "--where params.lr=0.01, --where 'metrics.auc>=0.9', --where git.branch~feat"
)

#: ``--since``/``--until`` forms, shown when one does not parse.
WHEN_FORMS = (
    "an ISO date or time (2026-11-29, 2026-11-29T17:04, local time unless it says Z or "
    "+01:00), a time ago (30.minutes, 2.hours, 3.days, 1.week, 3.days.ago), "
    "today, yesterday or now"
)

_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
#: Patterns, compiled on first use (not at every ``gitprov list``'s start).
_DATE = r"\d{4}-?\d{2}-?\d{2}"
_AGO = r"(\d+(?:\.\d+)?)[.\s]+([a-z]+?)s?(?:[.\s]+ago)?"


def build(
    where: str | Condition | Iterable[str | Condition] = (),
    *,
    since: When | None = None,
    until: When | None = None,
    status: str | Iterable[str] = (),
    branch: str | None = None,
    commits: tuple[str, ...] | None = None,
    dirty: bool | None = None,
    user: str | None = None,
    limit: int | None = None,
    order: Literal["newest", "oldest"] = "newest",
    columns: str | Iterable[str] = (),
) -> Query:
    """The :class:`Query` of :meth:`SessionLog.query`'s arguments, texts read as the
    command line reads them (``columns`` may be comma-separated)."""
    if order not in ("newest", "oldest"):
        raise InvalidQueryError(f"order is 'newest' or 'oldest', not {order!r}")
    if limit is not None and limit < 0:
        raise InvalidQueryError(f"limit cannot be negative ({limit})")
    wheres = [where] if isinstance(where, (str, Condition)) else list(where)
    return Query(
        where=tuple(w if isinstance(w, Condition) else parse_where(w) for w in wheres),
        since=None if since is None else _epoch(since, end=False),
        until=None if until is None else _epoch(until, end=True),
        status=(status,) if isinstance(status, str) else tuple(status),
        branch=branch,
        commits=commits,
        dirty=dirty,
        user=user,
        limit=limit,
        newest_first=order == "newest",
        columns=column_keys([columns] if isinstance(columns, str) else columns),
    )


def column_keys(texts: Iterable[str]) -> tuple[str, ...]:
    """The dotted keys of ``--columns`` options (each comma-separated), once each."""
    keys = (key.strip() for text in texts for key in text.split(","))
    return tuple(dict.fromkeys(key for key in keys if key))


def _epoch(when: When, *, end: bool) -> float:
    if isinstance(when, str):
        return parse_when(when, end=end)
    if isinstance(when, datetime):
        return when.timestamp()
    return float(when)


def parse_where(text: str) -> Condition:
    """``KEY<OP>VALUE`` split at its first operator (the longest one there), so a value
    may hold operators itself (``run.argv~a=b``), but not start with one (``a==1`` is a
    mistake, not a test for ``=1``). Spaces around the operator are dropped.
    ``InvalidQueryError`` names the accepted forms."""
    for i, char in enumerate(text):
        if char in "=!<>~":
            op = next((o for o in OPS if text.startswith(o, i)), None)
            if op is None:  # a lone "!"
                break
            key, value = text[:i].strip(), text[i + len(op) :].strip()
            if not key or any(ord(c) < 32 for c in key):
                break
            if not value and op not in ("=", "!="):
                break
            if op != "~" and value[:1] in ("=", "!", "<", ">"):  # a==1, a=>1, a>>1
                break
            return Condition(key, op, value)
    raise InvalidQueryError(f"{text!r} is malformed: expected {WHERE_FORMS}")


def parse_when(text: str, *, end: bool = False, now: float | None = None) -> float:
    """Epoch seconds of ``text``: an ISO date or time (naive: local time), a time ago
    (git's ``3.days.ago``, ``3.days``, ``2 hours``), ``today``, ``yesterday`` or ``now``.
    A bare date is its first instant, or with ``end`` its last (``--until 2026-11-29``
    takes in that whole day, as a reader means it)."""
    now = time.time() if now is None else now
    word = text.strip().lower()
    if word == "now":
        return now
    if word in ("today", "yesterday"):
        day = datetime.fromtimestamp(now).date() - timedelta(days=word == "yesterday")
        return _day_bound(datetime(day.year, day.month, day.day), end)
    ago = re.fullmatch(_AGO, word)
    if ago is not None and ago.group(2) in _SECONDS:
        return now - float(ago.group(1)) * _SECONDS[ago.group(2)]
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidQueryError(f"cannot read {text!r} as a time: expected {WHEN_FORMS}") from None
    try:
        if re.fullmatch(_DATE, text.strip()):
            return _day_bound(instant, end)
        return instant.timestamp()  # a naive time is local, as datetime takes it
    except (OverflowError, ValueError, OSError):  # 9999-12-31's end, year 1 east of UTC
        raise InvalidQueryError(f"{text!r} is beyond the times this system reads") from None


def _day_bound(day: datetime, end: bool) -> float:
    """The first instant of ``day`` (local), or with ``end`` the last one (inclusive)."""
    start = day.timestamp()
    return (day + timedelta(days=1)).timestamp() - 1e-3 if end else start


def shorten(text: str, width: int = 40) -> str:
    """``text`` on one line of at most ``width`` characters, cut with ``...``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3].rstrip() + "..."


def duration(seconds: float | None) -> str:
    """``1.2s``, ``3m04s``, ``1h02m``; ``-`` when unknown (or a record's odd value:
    negative, NaN, infinite)."""
    if seconds is None or not 0 <= seconds < 10**9:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def started(epoch: float | None) -> str:
    """A start in local time to the minute (``2026-11-29 17:04``); ``-`` when unknown."""
    if epoch is None:
        return "-"
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))
    except (OverflowError, OSError, ValueError):  # a hostile record's year 10**9
        return "-"
