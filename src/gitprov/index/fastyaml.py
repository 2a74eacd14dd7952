"""A fast reader for the YAML gitprov itself writes, for building the index.

libyaml takes about a quarter of a millisecond to build a record, a hundred thousand records
half a minute. Records are dumped in one plain shape (block mappings, indentless block
sequences, plain or single-quoted scalars on one line, ``[]``/``{}``), which this reads
line by line. Anything else it does not recognise (a flow collection, an alias, a tag, a
folded or escaped scalar, a date or odd number that YAML 1.1 resolves in its own ways, a
comment, a tab...) raises :class:`Unrecognised`, and the caller falls back to the real
loader: this is a shortcut, never a second opinion. What it does read equals
``yaml.load(text, CSafeLoader)`` (the tests compare both on many records), and stays
within :mod:`gitprov.model.limits` by construction (no aliases; depth and size bounded).
The index reads many records of a few shapes: once two shared their lines but for their
values, the next ones are matched by one pattern and built at once (:class:`Shapes`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, NamedTuple

from gitprov.model.limits import MAX_YAML_DEPTH, MAX_YAML_NODES


class Unrecognised(ValueError):
    """Text this reader does not handle (the real loader must read it)."""


# Plain scalars resolve as PyYAML's resolver resolves them (first character, then regex).
# Its table, copied (tests/test_index.py checks the copy against PyYAML's own), so that
# reading a record this way does not import PyYAML: ``which`` and ``compare`` read one or
# two records, and PyYAML's import is most of their time.
_BOOL = r"""^(?:yes|Yes|YES|no|No|NO
                    |true|True|TRUE|false|False|FALSE
                    |on|On|ON|off|Off|OFF)$"""
_FLOAT_11 = r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
                    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$"""
_INT_11 = r"""^(?:[-+]?0b[0-1_]+
                    |[-+]?0[0-7_]+
                    |[-+]?(?:0|[1-9][0-9_]*)
                    |[-+]?0x[0-9a-fA-F_]+
                    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$"""
_NULL = r"""^(?: ~
                    |null|Null|NULL
                    | )$"""
_TIMESTAMP = r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
                    |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
                     (?:[Tt]|[ \t]+)[0-9][0-9]?
                     :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
                     (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$"""
_NUMBER = [("float", _FLOAT_11), ("int", _INT_11)]
_RESOLVER_TABLE: dict[str, list[tuple[str, str]]] = {
    **{c: [("bool", _BOOL)] for c in "yYtTfFoO"},
    **{c: [("bool", _BOOL), ("null", _NULL)] for c in "nN"},
    **{c: _NUMBER for c in "-+"},
    **{c: [*_NUMBER, ("timestamp", _TIMESTAMP)] for c in "0123456789"},
    ".": [("float", _FLOAT_11)],
    "<": [("merge", r"^(?:<<)$")],
    "~": [("null", _NULL)],
    "": [("null", _NULL)],
    "=": [("value", r"^(?:=)$")],
    **{c: [("yaml", r"^(?:!|&|\*)$")] for c in "!&*"},
}
_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: [(tag, re.compile(rx, re.X if "\n" in rx else 0)) for tag, rx in found]
    for first, found in _RESOLVER_TABLE.items()
}
#: PyYAML's reader refuses these characters (``yaml.reader.Reader.NON_PRINTABLE``).
_NON_PRINTABLE = "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+(?:[eE][-+][0-9]+)?")
_TRUE = frozenset({"yes", "true", "on"})
#: What a plain scalar may not start with (YAML indicators) or hold.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@` ")
#: Characters that make a text other than the simple one-line-per-node shape.
_ODD = re.compile("[\t\r\x85\u2028\u2029\ufeff]|" + _NON_PRINTABLE)
_SQUOTED = re.compile(r"'((?:[^']|'')*)'")
_DQUOTED = re.compile(r'"([^"\\]*)"')


#: The ASCII characters of the simple shape: line breaks and the printable ones.
_USUAL_ASCII = b"\n" + bytes(range(0x20, 0x7F))
#: One line: indent, the ``- `` of sequence items it opens, then ``key:``/``key: rest``
#: (a plain key without a colon, or a single-quoted one) or a scalar. Possessive: the
#: same matches, never backtracking, in half the time.
_LINE = re.compile(
    r"^( *+)((?:- )*+)(?:('(?:[^'\n]|'')*+'|[^\s'\"\-?:,\[\]{}#&*!|>%@`][^:\n]*+):( [^\n]*+)?"
    r"|([^\n]*+))$",
    re.M,
)
#: The longest key YAML reads, quotes included (a longer one is no "simple key").
_KEY_CHARS = 1024
#: Scalars already read (most values recur: statuses, branches, parameters).
_SEEN: dict[str, Any] = {}


def _plain(text: str) -> Any:
    """A one-line plain scalar, resolved as YAML 1.1 resolves it."""
    if (
        not text
        or (text[0] in _INDICATORS and not (text[0] == "-" and len(text) > 1 and text[1] != " "))
        or text[-1] in " :"
        or ": " in text
        or " #" in text
    ):
        raise Unrecognised(text)
    tag = next((tag for tag, rx in _RESOLVERS.get(text[0], ()) if rx.match(text)), "str")
    if tag == "str":
        return text
    if tag == "null":
        return None
    if tag == "bool":
        return text.lower() in _TRUE
    if tag == "int" and _INT.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than Python converts: the loader fails too
            raise Unrecognised(text) from None
    if tag == "float" and _FLOAT.fullmatch(text):
        return float(text)
    raise Unrecognised(text)  # timestamps, octal, sexagesimal, .inf, merge keys...


def _scalar(text: str) -> Any:
    """A one-line scalar: plain, single-quoted, double-quoted without escapes, or an empty
    flow collection (a new one each time)."""
    if text == "[]":
        return []
    if text == "{}":
        return {}
    try:
        return _SEEN[text]
    except KeyError:
        pass
    first = text[:1]
    if first == "'":
        found = _SQUOTED.fullmatch(text)
        if found is None:
            raise Unrecognised(text)
        value: Any = found[1].replace("''", "'")
    elif first == '"':
        found = _DQUOTED.fullmatch(text)
        if found is None:
            raise Unrecognised(text)
        value = found[1]
    else:
        value = _plain(text)
    if len(_SEEN) > 200_000:
        _SEEN.clear()
    _SEEN[text] = value
    return value


#: The empty flow collections a value may be (a collection: one level deeper).
_EMPTY = ("[]", "{}")
_MISSING = object()

#: A line as :data:`_LINE` splits it: indent, ``- `` marks, key, `` rest``, scalar (``""``
#: where absent). Read as they are: turning a hundred lines a record into other tuples
#: would cost a third of the reading.
_Token = tuple[str, str, str, str, str]


def _value(text: str) -> Any:
    """:func:`_scalar`, from the scalars already read when it can (no call)."""
    found = _SEEN.get(text, _MISSING)
    return _scalar(text) if found is _MISSING else found


def _block(tokens: list[_Token], at: int, column: int, depth: int) -> tuple[Any, int]:
    """The block node starting at line ``at``, at ``column``; and the line after it."""
    if depth > MAX_YAML_DEPTH:
        raise Unrecognised("deep")
    if tokens[at][1]:
        return _sequence(tokens, at, column, depth)
    return _mapping(tokens, at, column, depth)


def _mapping(tokens: list[_Token], at: int, column: int, depth: int) -> tuple[dict[Any, Any], int]:
    found: dict[Any, Any] = {}
    end = len(tokens)
    seen, missing = _SEEN, _MISSING
    while at < end:
        indent, dashes, key, rest, _ = tokens[at]
        here = len(indent)
        if here < column:
            break
        if here > column or dashes or not key or len(key) > _KEY_CHARS:
            raise Unrecognised("not a mapping entry")
        at += 1
        name = seen.get(key, missing)
        if name is missing:
            name = _scalar(key)
        if rest:
            value = seen.get(rest[1:], missing)
            found[name] = _scalar(rest[1:]) if value is missing else value
            if depth >= MAX_YAML_DEPTH and rest[1:] in _EMPTY:
                raise Unrecognised("deep")  # an empty collection is one level more
            if at < end and len(tokens[at][0]) > column:
                raise Unrecognised("a scalar on several lines")
        elif at == end:
            found[name] = None
        else:
            below = len(tokens[at][0])
            if below > column:
                found[name], at = _block(tokens, at, below, depth + 1)
            elif below == column and tokens[at][1]:  # an indentless sequence
                found[name], at = _sequence(tokens, at, column, depth + 1)
            else:
                found[name] = None
    return found, at


def _sequence(tokens: list[_Token], at: int, column: int, depth: int) -> tuple[Any, int]:
    found: list[Any] = []
    end = len(tokens)
    while at < end:
        indent, dashes, key, rest, scalar = tokens[at]
        here = len(indent)
        if here > column:
            raise Unrecognised("a deeper line")
        if here < column or not dashes:
            break  # the end, or the mapping holding this indentless sequence goes on
        if len(dashes) > 2 or key:  # the item is itself a block: read from after "- "
            tokens[at] = (" " * (column + 2), dashes[2:], key, rest, scalar)
            item, at = _block(tokens, at, column + 2, depth + 1)
            found.append(item)
        else:
            at += 1
            found.append(_value(scalar))
            if depth >= MAX_YAML_DEPTH and scalar in _EMPTY:
                raise Unrecognised("deep")
            if at < end and len(tokens[at][0]) > column:
                raise Unrecognised("a scalar on several lines")
    return found, at


def _whole(text: str) -> None:
    """:class:`Unrecognised` unless ``text`` is lines of characters this reads, with no
    more nodes than the limit could hold (a line holds a key, a value and an item, plus a
    sequence for each ``- ``)."""
    if text.isascii():  # most records: what is left once the usual characters go
        odd = bool(text.encode().translate(None, _USUAL_ASCII))
    else:
        odd = _ODD.search(text) is not None
    if odd or not text.endswith("\n"):
        raise Unrecognised("odd characters")
    if "\n... " in text or text.startswith("... "):  # a document's end, not a key's start
        raise Unrecognised("a document marker")
    if text.count("\n") * 3 + text.count("- ") > MAX_YAML_NODES:
        raise Unrecognised("too many nodes")


def read(text: str) -> dict[Any, Any]:
    """The mapping ``text`` holds, as ``yaml.load`` reads it; :class:`Unrecognised` when
    it is not in the shape this reads (then ask the real loader)."""
    _whole(text)
    return _read_lines(text)


def _read_lines(text: str) -> dict[Any, Any]:
    """:func:`read` of a text :func:`_whole` passed."""
    tokens: list[_Token] = _LINE.findall(text, 0, len(text) - 1)
    if len(tokens) != text.count("\n") or tokens[0][0] or tokens[0][1]:
        raise Unrecognised("not a plain block mapping")
    found, at = _mapping(tokens, 0, 0, 1)
    if at != len(tokens):
        raise Unrecognised("text after the mapping")
    return found


# -- skimming: what the index does not read is checked, not built ------------------------

#: A key, and a value that YAML reads (as *something*: a text, number, boolean or null) on
#: one line: plain ones that cannot be a date, a merge, an alias or a tag; quoted ones
#: without escapes; empty flow collections.
_SAFE_KEY = rf"[A-Za-z_][A-Za-z0-9_.-]{{0,{_KEY_CHARS - 1}}}+"
_PLAIN_KEY = re.compile(_SAFE_KEY)
_SAFE_VALUE = (
    r"(?:[A-Za-z_/][^\n: #]*+(?:(?::(?=[^ \n])| (?=[^ #\n]))[^\n: #]*+)*+"  # no ": ", " #", ":\n"
    r"|-?[0-9][0-9A-Za-z.+]{0,511}+"  # a number (one int() reads), a text (a commit id): no date
    r"|'[^'\n]*+(?:''[^'\n]*+)*+'|\"[^\"\\\n]*+\"|\[\]|\{\})"
)
#: Deepest a skipped value nests (a deeper one is read, not skipped).
_SKIP_DEPTH = 4


def _entry(n: int, depth: int) -> str:
    """A mapping entry at column ``n`` whose value nests at most ``depth`` blocks, in the
    shape ``yaml.safe_dump`` writes (a mapping two columns in, a sequence not indented)."""
    line = f"{' ' * n}{_SAFE_KEY}:"
    if not depth:
        return f"{line} {_SAFE_VALUE}\n"
    block = f"(?:{_mapping_at(n + 2, depth - 1)}|{_sequence_at(n, depth - 1)})"
    return f"{line}(?: {_SAFE_VALUE}\n|\n{block})"


def _mapping_at(n: int, depth: int) -> str:
    return f"(?:{_entry(n, depth)})++"


def _sequence_at(n: int, depth: int) -> str:
    """Items at column ``n``: values, or mappings whose first entry follows the ``- ``."""
    item = f"{' ' * n}- "
    if not depth:
        return f"(?:{item}{_SAFE_VALUE}\n)++"
    inner = depth - 1
    block = f"(?:{_mapping_at(n + 4, inner)}|{_sequence_at(n + 2, inner)})"
    first = f"{_SAFE_KEY}:(?: {_SAFE_VALUE}\n|\n{block})"
    return f"(?:{item}(?:{_SAFE_VALUE}\n|{first}(?:{_entry(n + 2, inner)})*+))++"


@cache
def _sound_entries() -> re.Pattern[str]:
    """Entries of a section (column 2) that ``yaml.load`` reads, whatever they hold (made
    when first needed: it is large)."""
    return re.compile(f"(?:{_entry(2, _SKIP_DEPTH)})++")


#: Short entries already checked, and whether they passed.
_SOUND: dict[str, bool] = {}
#: The lines of a top-level section (after its ``name:`` line) that are two columns in.
_BODY = re.compile(r"(?:  [^\n]*+\n)++")


def entries(*, named: Iterable[str] = (), but: Iterable[str] | None = None) -> re.Pattern[str]:
    """The entries of a section to skip, each with its deeper lines and the items of the
    sequence it opens, those next to each other at once (group 1, after the line break
    before them): those ``named``, or all ``but`` those (by their plain names)."""
    if but is not None:
        keys = "|".join(map(re.escape, sorted(but)))
        name = rf"(?!(?:{keys})[:.]){_SAFE_KEY}"  # ``commit.x`` flattens under git.commit
    else:
        name = "(?:" + "|".join(map(re.escape, sorted(named))) + ")"
    entry = rf"  {name}:[^\n]*+\n(?:(?:   |  - )[^\n]*+\n)*+"
    found = re.compile(rf"\n((?:{entry})++)")
    _ENTRY_OF[found] = entry
    return found


#: The pattern of one entry each of :func:`entries`' patterns finds runs of.
_ENTRY_OF: dict[re.Pattern[str], str] = {}


def skim(text: str, skipped: Mapping[str, re.Pattern[str]]) -> dict[Any, Any]:
    """:func:`read`, without the entries that ``skipped[section]`` finds in a section: a
    record's bulk that its reader has no use for is checked (it must be whole entries
    that ``yaml.load`` reads), never built. Entries that do not pass are read as usual.

    Taking out whole entries of one mapping changes nothing else: every line the reader
    keeps is whole on its own (else :func:`read` refuses), so what it reads is ``yaml.load``
    's value less those entries (a section left empty reads as ``{}``)."""
    _whole(text)  # the entries taken out too: their characters, their nodes
    return _read_lines(_without(text, skipped).text)


class _Kept(NamedTuple):
    """A text less the entries :func:`skim` leaves out: the ``text`` kept, the
    ``sections`` looked in (name, where its entries start and end), the spans taken out,
    and whether a section was left empty."""

    text: str
    sections: list[tuple[str, int, int]]
    removed: list[tuple[int, int]]
    emptied: bool


def _without(text: str, skipped: Mapping[str, re.Pattern[str]]) -> _Kept:
    """What :func:`skim` reads of ``text`` (one :func:`_whole` passed)."""
    out: list[str] = []
    end = 0
    sound = _sound_entries().fullmatch
    looked: list[tuple[str, int, int]] = []
    removed: list[tuple[int, int]] = []
    emptied = False
    for name, pattern, first in _sections(text, skipped):
        body = _BODY.match(text, first)
        if body is None or text[first + 2] in " -":  # not a mapping at column 2
            continue
        last = body.end()
        looked.append((name, first, last))
        taken = 0
        for found in pattern.finditer(text, first - 1, last):
            start, stop = found.span(1)
            if _sound_run(text, start, stop, sound):
                out.append(text[end:start])
                end = stop
                taken += stop - start
                removed.append((start, stop))
        if taken == last - first:  # nothing left: the section is an empty mapping
            out[-1] = f"{out[-1][: -len(name) - 2]}{name}: {{}}\n"
            emptied = True
    if not out:
        return _Kept(text, looked, removed, emptied)
    out.append(text[end:])
    return _Kept("".join(out), looked, removed, emptied)


def _sound_run(
    text: str, start: int, stop: int, sound: Callable[..., re.Match[str] | None]
) -> bool:
    """Whether the entries ``text[start:stop]`` are ones ``yaml.load`` reads (``sound``:
    :func:`_sound_entries`' fullmatch)."""
    if stop - start > 256:
        return sound(text, start, stop) is not None
    run = text[start:stop]  # short entries recur (a format, a host, a policy): checked once
    known = _SOUND.get(run)
    if known is None:
        if len(_SOUND) > 50_000:
            _SOUND.clear()
        known = _SOUND[run] = sound(run) is not None
    return known


# -- shapes: records that differ only in their values -----------------------------------

#: A node of a shape's mapping: ``None`` takes the next value; ``"[]"``/``"{}"`` is a new
#: empty collection; a tuple ``(keys, nodes)`` a mapping (``nodes`` ``None``: of values
#: only); a list of nodes a sequence.
_Node = Any
#: A value at the end of a line: what a shape's pattern leaves open.
_OPEN = r"([^\n]*+)"
#: What :func:`Shapes.read` takes out of a text's lines to count the records of one shape:
#: their values and items (more taken out than a shape leaves open, which only counts
#: more records alike: a shape is made of the second, then checked whole).
_VALUES = re.compile(r"- [^\n]*+|: [^\n]*+")


class Shape:
    """The text records share when they differ only in the values their lines end with
    (a run's start, its duration, its commit...) and in the entries :func:`skim` leaves
    out: its lines as a pattern with each value, and each place such entries may be, left
    open; and how the values make the mapping. Read so, a record is the mapping
    :func:`skim` reads, built at once instead of line by line: the shape was read from a
    record's own lines; every value goes through :func:`_scalar`, which refuses whatever
    would have made those lines read otherwise (a ``- ``, a ``: ``, a quote...); and the
    entries left out are checked as :func:`skim` checks them, or, laid out as those its
    template left out there, pass as theirs did (:func:`_run_like`). ``plan`` is for its
    reader's use (what the index derives from it, once)."""

    __slots__ = ("build", "pattern", "plan", "runs", "values")

    def __init__(
        self,
        pattern: re.Pattern[str],
        template: _Node,
        values: list[int],
        runs: list[tuple[int, re.Pattern[str] | None]],
    ) -> None:
        self.pattern = pattern
        #: The mapping of this shape holding the values given, in their order.
        self.build = _builder(template)
        #: The pattern's groups that are values; those that are entries left out, each
        #: with the layout of the entries its template left out there (:func:`_run_like`).
        self.values = values
        self.runs = runs
        self.plan: object = None


def _builder(template: _Node) -> Callable[[list[Any]], Any]:
    """A function making ``template``'s mapping of the values it is given: one display
    (``{k[0]: v[0], k[1]: [v[1], {}]}``), compiled once, that builds a record at once
    instead of node by node. Its text holds nothing of a record's but places: the keys are
    handed to it, never written into it."""
    keys: list[Any] = []
    count = 0

    def code(node: _Node) -> str:
        nonlocal count
        if node is None:
            count += 1
            return f"v[{count - 1}]"
        if type(node) is str:  # "[]" or "{}": a new empty collection each time
            return node
        if type(node) is tuple:
            names, nodes = node
            parts = []
            for name, child in zip(names, nodes or (None,) * len(names), strict=True):
                keys.append(name)
                parts.append(f"k[{len(keys) - 1}]: {code(child)}")
            return "{" + ", ".join(parts) + "}"
        return "[" + ", ".join(code(child) for child in node) + "]"

    source = code(template)
    made = eval(compile(f"lambda v, k: {source}", "<shape>", "eval"), {"__builtins__": {}})  # noqa: S307
    held = tuple(keys)
    return lambda values: made(values, held)


#: How a record was read by its shape: the shape, the values and their texts.
Shaped = tuple[Shape, list[Any], list[str]]


class Shapes:
    """The shapes of the records read lately, the one that matched last tried first: a few,
    as most records of a repository share one. A shape is made when a second record has it
    (once: not again if it is pushed out, until the sightings are forgotten). One reader's
    (a thread's): what it holds changes as it reads."""

    #: Shapes kept: each record is tried against them in turn.
    MOST = 8
    #: Sightings of records' lines kept (by a hash of them) before all are forgotten.
    SIGHTINGS = 4096

    def __init__(self) -> None:
        self.known: list[Shape] = []
        self.sightings: dict[int, int] = {}

    def read(
        self, text: str, skipped: Mapping[str, re.Pattern[str]]
    ) -> tuple[dict[Any, Any], Shaped | None]:
        """:func:`skim` of ``text``, and how its shape read it (``None``: as lines)."""
        _whole(text)
        for shape in self.known:
            found = shape.pattern.fullmatch(text)
            if found is None:
                continue
            built = _built(shape, text, found)
            if built is None:
                break
            if shape is not self.known[0]:
                self.known.remove(shape)
                self.known.insert(0, shape)
            return built
        kept = _without(text, skipped)
        record = _read_lines(kept.text)
        skeleton = hash(_VALUES.sub("", kept.text))
        seen = self.sightings.get(skeleton, 0) + 1
        made = _shape(text, kept, record, skipped) if seen == 2 else None
        if made is not None:
            self.known.insert(0, made)
            del self.known[self.MOST :]
        if len(self.sightings) >= self.SIGHTINGS:
            self.sightings.clear()
        self.sightings[skeleton] = seen
        return record, None


def _built(shape: Shape, text: str, found: re.Match[str]) -> tuple[dict[Any, Any], Shaped] | None:
    """The mapping of ``text``, which ``shape`` matched, and how; ``None`` when it must be
    read as lines (a collection or a text no value reads as where a value was, entries to
    leave out that :func:`skim` would keep)."""
    groups = found.groups()
    texts = [groups[at] for at in shape.values]
    if any(empty in texts for empty in _EMPTY):
        return None
    sound = _sound_entries().fullmatch
    for at, like in shape.runs:
        if not groups[at]:
            continue
        start, stop = found.span(at + 1)
        if like is not None and like.fullmatch(text, start, stop):
            continue  # laid out as its template's: passes as theirs did
        if not _sound_run(text, start, stop, sound):
            return None
    get, missing = _SEEN.get, _MISSING
    values = [get(value, missing) for value in texts]
    try:
        for at, value in enumerate(values):
            if value is missing:
                values[at] = _scalar(texts[at])
    except Unrecognised:
        return None
    return shape.build(values), (shape, values, texts)


#: The largest record a shape is made of: gitprov writes a few kilobytes, and a shape of a
#: far larger one costs more to make than reading it line by line.
_SHAPED = 64 * 1024


def _shape(
    text: str, kept: _Kept, record: dict[Any, Any], skipped: Mapping[str, re.Pattern[str]]
) -> Shape | None:
    """The shape of ``text``, read as ``record`` less what ``kept`` took out; ``None``
    when its lines are not each one node of it (a key twice, a key with no value), when a
    section was left empty or kept an entry it leaves out when it can, when it is deep
    enough that a value could change whether it reads, or larger than :data:`_SHAPED`.
    Entries may be left out before each entry of a section :func:`skim` looks in, and at
    its end: each such run one possessive group (a record that fails late is not tried
    again every other way)."""
    if kept.emptied or len(text) > _SHAPED or any(p not in _ENTRY_OF for p in skipped.values()):
        return None
    pattern: list[str] = []
    values: list[int] = []
    runs: list[tuple[int, re.Pattern[str] | None]] = []
    keys = items = 0
    sections = iter(kept.sections)
    removed = iter(kept.removed)
    section = next(sections, None)
    gap = next(removed, None)
    inside: str | None = None  # the section whose entries the lines are
    taken: tuple[int, int] | None = None  # the entries taken out since the last one kept

    def run_may_be(name: str) -> None:
        nonlocal taken
        like = None if taken is None else _run_like(text[taken[0] : taken[1]])
        runs.append((len(values) + len(runs), like))
        pattern.append(f"((?:{_ENTRY_OF[skipped[name]]})*+)")  # possessive: one way to match
        taken = None

    for line in _LINE.finditer(text, 0, len(text) - 1):
        at = line.start()
        if inside is not None and section is not None and at >= section[2]:
            run_may_be(inside)
            inside, section = None, next(sections, None)
        if section is not None and at == section[1]:
            inside = section[0]
        while gap is not None and gap[1] <= at:
            gap = next(removed, None)
        if gap is not None and gap[0] <= at:
            taken = gap
            continue  # taken out: a run may be here
        indent, dashes, key, rest, scalar = line.groups("")
        if inside is not None and indent == "  " and not dashes and key:
            if skipped[inside].match(text, at - 1):  # kept, as load does not read it: the
                return None  # run before it would take it, and the shape never match
            run_may_be(inside)
        items += len(dashes) // 2
        if key:
            keys += 1
            head = re.escape(f"{indent}{dashes}{key}:")
            if not rest or rest[1:] in _EMPTY:
                pattern.append(f"{head}{re.escape(rest)}\n")
            else:
                values.append(len(values) + len(runs))
                pattern.append(f"{head} {_OPEN}\n")
        elif scalar in _EMPTY:
            pattern.append(f"{re.escape(indent + dashes + scalar)}\n")
        else:
            values.append(len(values) + len(runs))
            pattern.append(f"{re.escape(indent + dashes)}{_OPEN}\n")
    if inside is not None:
        run_may_be(inside)
    counts = [0, 0, 0, 0]  # entries, items, values, depth
    template = _template(record, counts, 1)
    entries_, items_, leaves, depth = counts
    if (entries_, items_, leaves) != (keys, items, len(values)) or depth >= MAX_YAML_DEPTH - 2:
        return None
    return Shape(re.compile("".join(pattern)), template, values, runs)


def _run_like(run: str) -> re.Pattern[str] | None:
    """A pattern of entries laid out as ``run`` (entries skimming took out), with any value
    :data:`_SAFE_VALUE` reads where its values are: what it matches whole, the check of
    entries skimming leaves out (:func:`_sound_entries`) passes, as it passed ``run``; so
    a run of a record that it matches needs no check of its own. ``None`` when a line is
    not a plain key's (:data:`_SAFE_KEY`) or an item."""
    pattern = []
    for indent, dashes, key, rest, _ in _LINE.findall(run, 0, len(run) - 1):
        head = re.escape(indent + dashes)
        if key and _PLAIN_KEY.fullmatch(key):
            pattern.append(f"{head}{re.escape(key)}:{f' {_SAFE_VALUE}' if rest else ''}\n")
        elif dashes and not key:
            pattern.append(f"{head}{_SAFE_VALUE}\n")
        else:
            return None
    return re.compile("".join(pattern))


def _template(value: Any, counts: list[int], depth: int) -> _Node:
    """The node of ``value`` (as :func:`_read_lines` read it), counting into ``counts`` its
    entries, items, values and depth: what :func:`_shape` checks each line is one of."""
    counts[3] = max(counts[3], depth)
    if type(value) is dict and value:
        counts[0] += len(value)
        nodes = tuple(_template(v, counts, depth + 1) for v in value.values())
        return (tuple(value), None if nodes.count(None) == len(nodes) else nodes)
    if type(value) is list and value:
        counts[1] += len(value)
        return [_template(v, counts, depth + 1) for v in value]
    if type(value) is list or type(value) is dict:
        return "[]" if type(value) is list else "{}"
    counts[2] += 1
    return None


def _sections(
    text: str, skipped: Mapping[str, re.Pattern[str]]
) -> list[tuple[str, re.Pattern[str], int]]:
    """Each top-level line ``name:`` of a section in ``skipped`` (not the first line: a
    record's is its id), with where its lines start, in the text's order: found as text,
    which is many times faster than a pattern tried at every character."""
    found = []
    for name, pattern in skipped.items():
        header = f"\n{name}:\n"
        at = text.find(header)
        while at >= 0:
            found.append((at, name, pattern))
            at = text.find(header, at + 1)
    return [(name, pattern, at + len(name) + 3) for at, name, pattern in sorted(found)]


def parse_record(
    data: bytes,
    session_id: str,
    where: str,
    skipped: Mapping[str, re.Pattern[str]] | None = None,
) -> dict[str, Any]:
    """A stored record, as :func:`gitprov.model.document.load` reads it (the same value, the
    same ``CorruptRecordError``), through :func:`read` when it can; with ``skipped``, less
    the entries :func:`skim` leaves out (whether it loads is the same)."""

    def reader(text: str) -> tuple[dict[Any, Any], None]:
        return (read(text) if skipped is None else skim(text, skipped)), None

    return _parsed(data, session_id, where, reader)[0]


def parse_shaped(
    data: bytes,
    session_id: str,
    where: str,
    skipped: Mapping[str, re.Pattern[str]],
    shapes: Shapes,
) -> tuple[dict[str, Any], Shaped | None]:
    """:func:`parse_record` with ``skipped``, through ``shapes``; and how its shape read it
    (``None``: as lines, or by the real loader)."""
    return _parsed(data, session_id, where, lambda text: shapes.read(text, skipped))


def _parsed(
    data: bytes,
    session_id: str,
    where: str,
    reader: Callable[[str], tuple[dict[Any, Any], Shaped | None]],
) -> tuple[dict[str, Any], Shaped | None]:
    from gitprov.model.document import load
    from gitprov.model.limits import MAX_BLOB_BYTES

    if len(data) <= MAX_BLOB_BYTES:
        try:
            text = data.decode("utf-8")
            record, shaped = reader(text)
        except (Unrecognised, UnicodeDecodeError):
            pass
        else:  # what load checks beyond the YAML; anything doubtful goes to load
            claimed = record.get("session_id")
            if isinstance(record.get("git") or {}, dict) and (
                claimed is None or str(claimed) == session_id
            ):
                return record, shaped
    return load(data, session_id, where), None
