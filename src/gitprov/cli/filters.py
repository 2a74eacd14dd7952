"""The options that choose runs, shared by ``gitprov list`` and ``gitprov report``:
``--where``, ``--since``/``--until``, ``--status``, ``--branch``, ``--commit``,
``--dirty/--clean``, ``--user``, each read into :meth:`SessionLog.query`'s terms at parse
time (a malformed one is a usage error, exit 2), and ``--columns``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from gitprov.audit import query
from gitprov.errors import InvalidQueryError
from gitprov.index.api import Condition

F = TypeVar("F", bound=Callable[..., Any])

#: The statuses a run ends with (:data:`gitprov.model.sections.RUN_STATUSES`, not imported
#: for three words).
STATUSES = ("success", "failed", "interrupted")
#: The keyword arguments of :meth:`SessionLog.query` these options fill.
FILTERS = ("where", "since", "until", "status", "branch", "commit", "dirty", "user")


def _text(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """``value`` (a text or several) when it is UTF-8 text: an argument of other bytes
    (a lone surrogate here) is in no record, which are UTF-8, and SQLite refuses it."""
    for text in [value] if isinstance(value, str) else value or ():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogateescape")
            raise click.BadParameter(f"{raw!r} is not UTF-8 text, as records are") from None
    return value


def _where(ctx: click.Context, param: click.Parameter, value: Sequence[str]) -> list[Condition]:
    try:
        return [query.parse_where(text) for text in _text(ctx, param, value)]
    except InvalidQueryError as exc:
        raise click.BadParameter(str(exc)) from None


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return query.parse_when(value, end=param.name == "until")
    except InvalidQueryError as exc:
        raise click.BadParameter(str(exc)) from None


def _columns(ctx: click.Context, param: click.Parameter, value: Sequence[str]) -> list[str]:
    return list(query.column_keys(_text(ctx, param, value)))


def filter_options(command: F) -> F:
    """Add the filters to ``command``, which receives them as one ``filters`` dict of
    :meth:`SessionLog.query` keyword arguments (``log.query(**filters, limit=...)``)."""

    @functools.wraps(command)
    def collected(*args: Any, **kwargs: Any) -> Any:
        filters = {name: kwargs.pop(name) for name in FILTERS}
        return command(*args, filters=filters, **kwargs)

    options = [
        click.option(
            "--where",
            multiple=True,
            callback=_where,
            metavar="KEY<OP>VALUE",
            help="Only runs whose dotted KEY compares so: = != < <= > >= or ~ (substring), "
            "e.g. params.lr=0.01, 'metrics.auc>=0.9'. Repeat it: all must hold.",
        ),
        click.option(
            "--since",
            callback=_when,
            metavar="WHEN",
            help="Only runs started then or later: 2026-11-29, 2026-11-29T17:04 (local "
            "time), 3.days, 2.hours.ago, yesterday.",
        ),
        click.option(
            "--until",
            callback=_when,
            metavar="WHEN",
            help="Only runs started then or earlier (a date takes in that whole day).",
        ),
        click.option(
            "--status",
            multiple=True,
            type=click.Choice(STATUSES),
            help="Only runs that ended so (repeat it for several).",
        ),
        click.option("--branch", metavar="NAME", callback=_text, help="Only runs on this branch."),
        click.option("--commit", metavar="REV", help="Only runs on this commit."),
        click.option("--dirty/--clean", default=None, help="Only dirty (or only clean) runs."),
        click.option(
            "--user",
            metavar="NAME",
            callback=_text,
            help="Only runs by this user (git's user.name, else the OS user's).",
        ),
    ]
    for option in reversed(options):  # shown in this order
        collected = option(collected)
    return collected  # type: ignore[return-value]


columns_option = click.option(
    "--columns",
    multiple=True,
    callback=_columns,
    metavar="KEYS",
    help="Add columns by dotted key, comma-separated or repeated: params.lr,metrics.auc.",
)
