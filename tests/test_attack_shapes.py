"""Attacks on records read by their shape (issue 15): odd but readable templates, hostile
texts where their values and skimmed entries are, and many records through one ``Shapes``.
Whatever the text, reading it with shapes learnt before must index it as reading it line by
line does (the same mapping, fields, rows and problem, or the same refusal)."""

from __future__ import annotations

import random
import re

import pytest

from gitprov.index.extract import extract, skimmed
from gitprov.index.fastyaml import Shapes, parse_record, parse_shaped, skim
from test_shapes import _HOSTILE, check, indexed, kedro_like, shaped_by

S = "session_id: s1\n"

#: Characters YAML reads as line breaks or refuses, and edges of a plain value.
_EDGES = [
    "x\r", "\rx", "x\x85y", "x\u2028y", "x\u2029", "\ufeffx", "x ", "x  ", "x:", "x :", "x #",
    "x #y", "x\xa0", "\xa0", "x\x00", "x\x7f", "x\ud7ff", "x\ue000", "😀", "- ", "-", "--",
    "- - x", "'x' ", " 'x'", "'x'#", "'x' #c", '"x" ', '"x\\"', "'x'': y'", "'a': b", '"a": b',
    "a:b", "a: b", "[]", "{}", "[ ]", "{ }", "''", '""', "'", '"', "|-", ">+", "? ", ": x",
]  # fmt: skip


def _with_values(template: str, texts: list[str], place: str) -> list[str]:
    """``template`` with each of ``texts`` where ``place`` is."""
    assert template.count(place) == 1
    return [template.replace(place, text) for text in texts]


@pytest.mark.parametrize(
    ("template", "place"),
    [
        (S + "'a: b': 1\n'#c': VALUE\n'- x': 3\n", "VALUE"),  # quoted keys
        (S + "1: VALUE\nfalse: b\n~: c\n2.5: d\n", "VALUE"),  # keys that are no text
        (S + "é: ü\n日本: VALUE\n😀: x\n", "VALUE"),
        (S + "'" + "k" * 1022 + "': VALUE\n" + "k" * 1024 + ": 2\n", "VALUE"),  # longest keys
        (S + "l:\n- - - VALUE\n    - y\n  - z\n- w\n", "VALUE"),  # nested sequences
        (S + "l:\n- a: VALUE\n  b: 2\n- - c: 3\n    d: 4\n", "VALUE"),  # items that are mappings
        (S + "run:\n  params:\n  - VALUE\n  status: ok\n", "VALUE"),
        (S + "git:\n  commit: VALUE\n  branch: main\n", "VALUE"),
        (S + "git:\n  remotes:\n    o: u\n  commit: VALUE\n", "VALUE"),
        (S + "run:\n  status: ok\n  inputs:\n  - dataset: a\n  user:\n    name: VALUE\n", "VALUE"),
        (S + "provenance:\n  format: 2\n  saved_at: VALUE\n", "VALUE"),
        (S + "run.params: VALUE\ngit.commit: a\nrun:\n  params: 2\n", "VALUE"),  # dotted keys
        (S + "a: []\nb: {}\nl:\n- []\n- {}\n- VALUE\nm:\n  e: []\n", "VALUE"),
    ],
)
def test_hostile_values_in_odd_templates_read_as_lines(template: str, place: str) -> None:
    values = [*_EDGES, *_HOSTILE]
    shaped, _ = check(template.replace(place, "v"), _with_values(template, values, place))
    assert shaped > 10  # the shape reads those it can


def test_values_at_the_deepest_a_shape_holds() -> None:
    """Templates nested to just below and at the depth no shape is made of, with a value,
    an empty collection or a block where the deepest value was."""
    for depth in range(94, 101):
        head = "".join(f"{'  ' * n}k{n}:\n" for n in range(depth))
        template = S + head + "  " * depth + "leaf: VALUE\n"
        texts = [*_with_values(template, ["x", "[]", "{}", "[1]", "- x", "a: b"], "VALUE")]
        texts.append(template.replace("VALUE", "") + "  " * (depth + 1) + "deeper: x\n")
        shaped, _ = check(template.replace("VALUE", "v"), texts)
        assert bool(shaped) == (depth < 96), depth


#: Entries that skimming may take out of git (all but commit, branch, dirty, snapshot), run
#: (its bulk) and provenance (all but saved_at), and look-alikes of the kept ones.
_NEAR_KEPT = [
    "  commit_sha: x\n", "  commit.x: 1\n", "  commitx: 1\n", "  branch.y: 2\n", "  dirty_: 3\n",
    "  snapshot.z: 4\n", "  status: x\n", "  saved_at: z\n", "  error: x\n", "  error.x: 1\n",
    "  errors: 2\n", "  Commit: 3\n", "  _x: 4\n", "  x-y.z: 5\n", "  tags: []\n", "  tags: {}\n",
    "  remotes:\n    o: u\n", "  remotes:\n   o: u\n", "  remotes:\n  - a\n   - b\n",
    "  error: x\n    y\n", "  error:\n  - x\n  -  y\n", "  error: x\n  - y\n", "  'q': 1\n",
    "  1: x\n", "  error: 'a''b'\n", "  error: \"a\"\n", "  error: a:b\n", "  error: -a\n",
    "  cwd: a #b\n", "  nodes:\n    a:\n      b:\n        c:\n          d:\n            e: 1\n",
    "  nodes:\n    a:\n      b:\n        c:\n          d: 1\n", "  " + "k" * 1025 + ": 1\n",
    "  " + "k" * 1024 + ": 1\n", "  error: " + "1" * 600 + "\n", "  error: " + "x" * 300 + "\n",
]  # fmt: skip


@pytest.mark.parametrize(
    "template",
    [
        S + "run:\n  status: ok\n  params:\n    lr: 1\nx: 1\n",
        S + "git:\n  commit: a\n  branch: b\n  dirty: false\n",
        S + "provenance:\n  saved_at: '2025-01-01T00:00:00Z'\n",
        S + "run:\n  params:\n  - a\n  status: ok\n",  # an indentless sequence before an entry
        S + "git:\n  commit:\n  - a\n  branch: b\nrun:\n  status: x\n",
        "git:\n  commit: a\n" + S,  # a skimmed section that is the first line: not skimmed
    ],
)
def test_entries_that_look_kept_are_skimmed_only_where_skimming_takes_them(template: str) -> None:
    lines = template.splitlines(keepends=True)
    texts = []
    for at in range(1, len(lines) + 1):
        for entry in _NEAR_KEPT:
            texts.append("".join([*lines[:at], entry, *lines[at:]]))
    shaped, fast = check(template, texts)
    if not template.startswith("git"):
        assert shaped > 20
    assert shaped < fast  # (a kept look-alike makes another shape)


@pytest.mark.parametrize(
    ("template", "text"),
    [
        # a skimmed section twice: a key twice, no shape
        (S + "git:\n  commit: a\ngit:\n  commit: b\n", S + "git:\n  commit: a\ngit:\n"
         "  commit: c\n"),
        (S + "git:\n  commit: a\nx: 1\ngit:\n  remotes: u\n", S + "git:\n  commit: a\nx: 1\ngit:\n"
         "  remotes: v\n"),
        # a section that skimming would empty, and one that is no mapping
        (S + "git:\n  remotes: u\n  commit: a\n", S + "git:\n  remotes: u\n  commit.x: a\n"),
        (S + "git:\n  commit: a\n", S + "git: {}\n"),
        (S + "git:\n- a\n", S + "git:\n- b\n"),
        (S + "run:\n  - a\n", S + "run:\n  - b\n"),
        (S + "run:\n    status: a\n", S + "run:\n    status: b\n"),
        # sections that skimming empties: {} once taken out, null when there were none
        (S + "provenance:\n  format: 2\n", S + "provenance:\n"),
        (S + "git:\n  remotes: u\nrun:\n  error: x\n", S + "git:\nrun:\n"),
        (S + "run:\n  error: x\ny: 1\n", S + "run:\n  error: x\n  tags: []\ny: 1\n"),
        # documents' markers
        (S + "a: 1\n", S + "...\na: 1\n"),
        (S + "a: 1\n", "---\n" + S + "a: 1\n"),
        (S + "a: 1\nb: 2\n", S + "a: 1\n--- \nb: 2\n"),
        (S + "a: 1\n", S + "a: --- x\n"),
        (S + "a: 1\n", S + "a: ... x\n"),
        (S + "l:\n- 1\n", S + "l:\n- ...\n"),
        # the session a record claims
        (S + "a: 1\n", "session_id: s2\na: 1\n"),
        (S + "a: 1\n", "session_id: 's1'\na: 1\n"),
        (S + "a: 1\n", "session_id: null\na: 1\n"),
        (S + "a: 1\n", "session_id: ''\na: 1\n"),
        ("a: 1\n" + S, "a: 1\nsession_id: s3\n"),
        # complex keys, and keys that are the same in Python (1, 1.0, true)
        (S + "? a\n: 1\n", S + "? a\n: 2\n"),
        (S + "1: a\n1.0: b\n", S + "1: a\n1.0: c\n"),
        (S + "true: a\n1: b\n", S + "true: a\n1: c\n"),
        (S + "'1': a\n1: b\n", S + "'1': c\n1: d\n"),
        # a key too long to be one
        (S + "'" + "k" * 1023 + "': 1\n", S + "'" + "k" * 1023 + "': 2\n"),
        # git and run that are no mappings
        (S + "git: a\n", S + "git: b\n"),
        (S + "run: a\n", S + "run: []\n"),
    ],
)  # fmt: skip
def test_traps_read_as_lines(template: str, text: str) -> None:
    check(template, [text, template])


def test_a_fetched_copys_record_read_by_a_shape_is_loaded_whole() -> None:
    """A record that claims ``s1`` stored as a remote's copy (``s1+origin-…``): the shape
    reads it, ``load`` then takes it as it is (not skimmed), and its rows are its own, not
    the shape's plan."""
    template = kedro_like(random.Random(4))
    shapes = Shapes()
    for _ in range(3):
        shaped = parse_shaped(template.encode(), "s1", "w", skimmed(), shapes)[1]
    assert shaped is not None  # the shape reads it
    for text in [template, re.sub("(?m)^(  commit: ).*$", r"\1other", template)]:
        data = text.encode()
        expected = extract(parse_record(data, "s1+origin-0123abcd", "w", skimmed()))
        record, shaped = parse_shaped(data, "s1+origin-0123abcd", "w", skimmed(), shapes)
        assert "inputs" in record["run"]  # loaded whole
        assert shaped is None
        assert extract(record, shaped) == expected


def test_the_reader_says_whether_a_shape_read_the_record() -> None:
    template = kedro_like(random.Random(6))
    shapes = Shapes()
    for _ in range(3):
        record, shaped = shapes.read(template, skimmed())
    assert shaped is not None
    assert record == skim(template, skimmed())
    other = template.replace("username: ada\n", "username: ada\nz: 1\n")
    assert shapes.read(other, skimmed()) == (skim(other, skimmed()), None)


def test_records_through_one_reader_whatever_it_learnt_before() -> None:
    """Many shapes, more than are kept, their records interleaved with odd ones: each is
    indexed as read line by line, whichever shapes the reader holds at the time."""
    rng = random.Random(21)
    templates = [kedro_like(rng) for _ in range(Shapes.MOST + 4)]
    templates = [
        t.replace("username: ada\n", f"username: ada\nk{n}: 1\n") for n, t in enumerate(templates)
    ]
    shapes = Shapes()
    shaped = 0
    for _ in range(600):
        text = rng.choice(templates[: rng.randint(1, len(templates))])
        if rng.random() < 0.3:
            lines = text.splitlines(keepends=True)
            at = rng.randrange(1, len(lines))
            lines[at] = lines[at].split(": ")[0] + ": " + rng.choice(_HOSTILE + _EDGES) + "\n"
            text = "".join(lines)
        expected, _ = indexed(text.encode(), None)
        got, by_shape = indexed(text.encode(), shapes)
        assert got == expected, text
        shaped += by_shape
        assert len(shapes.known) <= Shapes.MOST
    assert shaped > 120


# -- random records, made line by line ---------------------------------------------------

_KEYS = [
    "a", "lr", "x.y", "commit", "commit.x", "commit_sha", "status", "saved_at", "branch",
    "dirty", "snapshot", "remotes", "error", "inputs", "tags", "params", "name", "dataset",
    "'q: r'", "'#h'", "'- x'", "1", "false", "é", "_u", "'a''b'", "k" * 1000, "~", "2.5",
    "'run'", "run.params", "git.commit", "started_at", "duration_s", "pipeline_names", "argv",
    "k-1", "x y", "a#b", "a'b",
]  # fmt: skip
_VALUES = [
    "1", "x", "'s'", '"d"', "true", "null", "0.5", "-3", "[]", "{}", "a b", "c" * 40, "''",
    "-x", "a:b", "x#y", "é", "\xa0x", "'2025-01-02T03:04:05Z'",
]  # fmt: skip
_SKIMMED = [
    "  error: x", "  remotes:\n    o: u", "  inputs:\n  - a\n  - b: c", "  tags: []", "  format: 2",
    "  commit_sha: z", "  commit.x: 1", "  status: s", "  saved_at: t", "  host:\n    name: h",
    "  nodes:\n    total: 3\n    x:\n    - a", "  _z: 1", "  upstream: x\n  ahead: 2",
]  # fmt: skip
#: Kept entries of each skimmed section (any other key of run is kept too).
_KEPT = {"git": ["commit", "branch", "dirty", "snapshot"], "provenance": ["saved_at"]}


def _entry(rng: random.Random, head: str, column: int, depth: int, lines: list[str]) -> None:
    """A mapping entry ``head`` (its indent or ``- ``, and key), with what it holds."""
    pick = rng.random()
    if depth > 4 or pick < 0.55:
        lines.append(f"{head}: {rng.choice(_VALUES)}")
        return
    lines.append(f"{head}:")
    if pick < 0.75:
        for key in rng.sample(_KEYS, rng.randint(1, 3)):
            _entry(rng, " " * (column + 2) + key, column + 2, depth + 1, lines)
    else:
        _items(rng, column if rng.random() < 0.8 else column + 2, depth + 1, lines, None)


def _items(
    rng: random.Random, column: int, depth: int, lines: list[str], first: str | None
) -> None:
    """Items of a sequence at ``column`` (the first after ``first`` when given)."""
    for n in range(rng.randint(1, 3)):
        head = first if n == 0 and first is not None else " " * column
        pick = rng.random()
        if depth > 4 or pick < 0.5:
            lines.append(f"{head}- {rng.choice(_VALUES)}")
        elif pick < 0.8:
            for k, key in enumerate(rng.sample(_KEYS, rng.randint(1, 3))):
                lead = f"{head}- " if k == 0 else " " * (column + 2)
                _entry(rng, lead + key, column + 2, depth + 1, lines)
        else:
            _items(rng, column + 2, depth + 1, lines, f"{head}- ")


def _record(rng: random.Random) -> str:
    """A record's text, written by hand: gitprov's sections with kept and skimmed entries,
    odd keys, nested sequences and mappings."""
    lines = [f"session_id: {rng.choice(['s1', 's1', 's1', 's2', chr(39) + 's1' + chr(39)])}"]
    for top in dict.fromkeys(rng.sample([*_KEYS[:12], "run", "git", "provenance"] * 2, 4)):
        if top not in ("run", "git", "provenance") or rng.random() < 0.15:
            _entry(rng, top, 0, 1, lines)
            continue
        lines.append(f"{top}:")
        kept = _KEPT.get(top, ["status", "params", "started_at"])
        keys = [key for key in rng.sample(_KEYS, rng.randint(0, 4)) if key not in kept]
        keys[rng.randint(0, len(keys)) : 0] = [rng.choice(kept)]
        for key in keys:
            if rng.random() < 0.35:
                lines.append(rng.choice(_SKIMMED))
            else:
                _entry(rng, "  " + key, 2, 2, lines)
    return "\n".join(lines) + "\n"


_ODD_LINES = [
    "...",
    "---",
    "... x",
    "  - x",
    "   y",
    "? x",
    ": y",
    "- z",
    "run:",
    "git:",
    "  ",
    "#c",
]


def _mutated(rng: random.Random, text: str) -> str:
    """``text`` with hostile values where its values are, skimmed entries put in, or its
    lines taken out, repeated, moved, indented otherwise..."""
    lines = text.split("\n")[:-1]
    hard = rng.random() < 0.5
    for _ in range(rng.randint(1, 3)):
        pick = rng.random() if hard else rng.random() * 0.55
        at = rng.randrange(len(lines))
        line = lines[at]
        if pick < 0.35:
            head, colon, _ = line.partition(": ")
            marks = len(line) - len(line.lstrip(" -"))
            value = rng.choice(_HOSTILE + _EDGES + _VALUES)
            lines[at] = head + ": " + value if colon else line[:marks] + value
        elif pick < 0.55:
            lines.insert(at, rng.choice(_SKIMMED + _NEAR_KEPT).rstrip("\n"))
        elif pick < 0.65:
            del lines[at]
        elif pick < 0.72:
            lines[at] = " " + line
        elif pick < 0.78:
            lines[at] = line[1:] if line.startswith(" ") else line
        elif pick < 0.84:
            lines.insert(at, line)
        elif pick < 0.9:
            lines.insert(at, rng.choice(_ODD_LINES))
        else:
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
    return "\n".join(lines) + "\n"


def test_random_records_and_their_mutations_through_one_reader() -> None:
    """Records written by hand and mutations of them (of mutations too), each read two or
    three times (its shape made, if it has one), then mutations of it: all through one
    reader, which makes shapes of odd texts, matches them, pushes them out, and keeps its
    caches from record to record."""
    rng = random.Random(2026)
    shapes = Shapes()
    shaped = made = 0
    for _ in range(200):
        family = [_record(rng)]
        for _ in range(2):
            family.append(_mutated(rng, rng.choice(family)))
        for member in family:
            texts = [member] * rng.randint(2, 3) + [_mutated(rng, member) for _ in range(6)]
            for n, text in enumerate(texts):
                expected, _ = indexed(text.encode(), None)
                got, by_shape = indexed(text.encode(), shapes)
                assert got == expected, (member, text)
                shaped += by_shape
                made += n == 2 and by_shape
    assert made > 60
    assert shaped > 120


def test_a_record_read_by_a_shape_holds_collections_of_its_own() -> None:
    """The empty collections a shape puts in a record are new each time: changing one
    record's changes no other's."""
    template = S + "a: []\nb: {}\nl:\n- []\n- x\nm:\n  n: {}\n"
    shapes = shaped_by(template)
    first, shaped = parse_shaped(template.encode(), "s1", "w", skimmed(), shapes)
    assert shaped is not None
    first["a"].append(1)
    first["b"][1] = 2
    first["l"][0].append(3)
    first["m"]["n"][4] = 5
    second, shaped = parse_shaped(template.encode(), "s1", "w", skimmed(), shapes)
    assert shaped is not None
    assert second == parse_record(template.encode(), "s1", "w", skimmed())
