"""How much gitprov will read of a record or a note, and YAML parsed within those bounds.

Records and notes arrive from remotes that anyone may have pushed to, so each limit here
is what keeps one hostile blob from costing every reader memory, time or the stack: a
record is refused for its size, its nesting, or what its aliases expand to, before any of
it is built (a "billion laughs" document is a few hundred bytes and many gigabytes once
expanded). The limits are far above what gitprov itself writes: a record is a few
kilobytes, nested less than ten deep, with no aliases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from gitprov.errors import CorruptRecordError

#: The largest record or note blob read or merged (bytes).
MAX_BLOB_BYTES = 8 * 1024 * 1024
#: The deepest nesting of YAML collections in a record or a note line.
MAX_YAML_DEPTH = 100
#: YAML nodes (scalars and collections) a record may hold with every alias written out.
MAX_YAML_NODES = 1_000_000
#: The longest note line taken as a session entry (characters).
MAX_NOTE_LINE = 4096


def _loader() -> type[Any]:
    """libyaml's parser when PyYAML has it. PyYAML is imported here, when something is
    parsed: what reads the index alone (a warm ``gitprov list``) never pays for it."""
    import yaml

    found: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return found


class LimitError(ValueError):
    """A YAML text beyond the limits; the message completes "the record ..."."""


class _Open:
    """A collection being walked: its anchor, the totals when it began, its height."""

    __slots__ = ("anchor", "chars", "inner", "nodes")

    def __init__(self, anchor: str | None, nodes: int, chars: int) -> None:
        self.anchor = anchor
        self.nodes = nodes
        self.chars = chars
        self.inner = 0  # height of its highest child


class _Size(NamedTuple):
    """What an anchored node stands for wherever an alias repeats it."""

    nodes: int
    chars: int
    height: int


def _walk(text: str) -> None:
    """Raise :class:`LimitError` if ``text`` is beyond the limits, reading its events only.

    One pass, no recursion, nothing built: an alias counts as the nodes, characters and
    height of the node it repeats, so expansion is measured, never performed.
    """
    import yaml

    opening = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    closing = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    nodes = chars = 0
    stack: list[_Open] = []
    anchored: dict[str, _Size] = {}
    for event in yaml.parse(text, Loader=_loader()):
        if type(event) is yaml.ScalarEvent:  # most events: kept short
            nodes += 1
            chars += len(event.value)
            if event.anchor is not None:
                anchored[event.anchor] = _Size(1, len(event.value), 0)
            continue
        if isinstance(event, opening):
            if len(stack) == MAX_YAML_DEPTH:
                raise LimitError(f"is nested deeper than {MAX_YAML_DEPTH} levels")
            stack.append(_Open(event.anchor, nodes, chars))
            nodes += 1
            continue
        if isinstance(event, closing):
            done = stack.pop()
            size = _Size(nodes - done.nodes, chars - done.chars, done.inner + 1)
            if done.anchor is not None:
                anchored[done.anchor] = size
        elif isinstance(event, yaml.AliasEvent):
            found = anchored.get(str(event.anchor))
            if found is None:
                if any(frame.anchor == event.anchor for frame in stack):
                    raise LimitError(f"has an alias (*{event.anchor}) inside its own anchor")
                continue  # an undefined alias: the loader names it
            size = found
            nodes += size.nodes
            chars += size.chars
            if len(stack) + size.height > MAX_YAML_DEPTH:
                raise LimitError(
                    f"is nested deeper than {MAX_YAML_DEPTH} levels once its aliases are expanded"
                )
        else:
            continue
        if stack:
            stack[-1].inner = max(stack[-1].inner, size.height)
        if nodes > MAX_YAML_NODES:
            raise LimitError(f"has more than {MAX_YAML_NODES} YAML nodes (aliases expanded)")
        if chars > MAX_BLOB_BYTES:
            raise LimitError(
                f"expands to more than {MAX_BLOB_BYTES} characters of values through aliases"
            )


def load_yaml(text: str) -> Any:
    """``text`` parsed into plain Python values, once it is known to be within the limits.

    Raises ``ValueError`` whose message completes "the record ..." (``is not valid YAML
    (...)``, ``is nested deeper than ...``), whatever the loader throws on hostile input.
    """
    import yaml

    try:
        _walk(text)
        return yaml.load(text, Loader=_loader())  # noqa: S506 (a safe loader)
    except LimitError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "unreadable"
        raise ValueError(f"is not valid YAML ({problem}{at})") from exc
    except Exception as exc:  # the safe loader's own failures: a 13th month, `!!bool x`
        raise ValueError(f"is not valid YAML ({type(exc).__name__}: {exc})") from exc


def load_stored(
    data: bytes, limit: int, named: str, where: str, check: Callable[[Any], None], tail: str = ""
) -> Any:
    """A stored YAML file (``where``, as ``<ref>:<path>``) parsed within ``limit`` bytes
    and the YAML limits, then held to ``check`` (which raises ``ValueError`` saying what is
    wrong). Any problem raises :class:`CorruptRecordError`, "``named`` <problem>", with how
    to look at the file; ``tail`` adds to that line."""
    try:
        if len(data) > limit:
            raise ValueError(f"is {len(data)} bytes, over the {limit}-byte limit")
        value = load_yaml(data.decode("utf-8"))
        check(value)
    except ValueError as exc:
        problem = "is not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise CorruptRecordError(
            f"{named} {problem}; inspect it with `git show {where}`{tail}"
        ) from None
    return value
