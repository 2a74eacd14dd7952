"""Records read by their shape (issue 15): once two records of one shape were read line by
line, the index reads the next ones with the same lines by that shape, at once. Whatever a
value's text, a record read so is indexed exactly as reading it line by line indexes it (its
fields and rows), or it is read line by line."""

from __future__ import annotations

import random
import re
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

import gitprov.index.query
from gitprov.errors import CorruptRecordError
from gitprov.index.extract import extract, skimmed
from gitprov.index.fastyaml import Shapes, Unrecognised, parse_record, parse_shaped, skim
from gitprov.model.document import dump
from test_index import _TRICKY, _rows_of, _value, index_of, rebuilt_in_processes, save

#: Texts put where a value was: each is read by the shape, or refused and read as lines.
_HOSTILE = [
    *(text for text in _TRICKY if "\n" not in text),
    "[]", "{}", "[1]", "{a: 1}", "a: b: c", "- a", "- a: b", "'a: b'", "'it''s'", "'open",
    '"a\\tb"', '"q"', "|", ">", "!!str 1", "!!binary aGk=", "&x 1", "*x", "a # c", "#", "x:",
    "k: v", "'k': v", "0o17", "1:2:3", "2024-02-30", "1e400", "-0.0", "0.0", "1.0", "1",
    "true", "null", "~", "", " ", "  x", "x  ", "\t", "a\tb", "\x85", "\ufeff", "...", "---",
    "--- x", "? x", "=", "<<", "9" * 400, "é" * 300,
]  # fmt: skip

#: A line's text before its value: its indent and ``- ``, and its key with ``: ``.
_VALUE_LINE = re.compile(r"^( *(?:- )*(?:[^\n:]*: )?)(\S[^\n]*)$", re.M)


def indexed(data: bytes, shapes: Shapes | None) -> tuple[str, bool]:
    """What the index reads and keeps of ``data`` (the mapping, its fields and rows, or
    that it is refused), and whether a shape read it."""
    try:
        if shapes is None:
            record, shaped = parse_record(data, "s1", "w", skimmed()), None
        else:
            record, shaped = parse_shaped(data, "s1", "w", skimmed(), shapes)
    except CorruptRecordError:
        return "refused", False
    return repr((record, extract(record, shaped))), shaped is not None


def shaped_by(template: str) -> Shapes:
    """Shapes that have read ``template`` twice: its shape is known."""
    shapes = Shapes()
    for _ in range(2):
        indexed(template.encode(), shapes)
    return shapes


def variants(template: str, rng: random.Random, count: int) -> list[str]:
    """``template`` with hostile texts where its values are, one to three at a time."""
    places = [found.span(2) for found in _VALUE_LINE.finditer(template)]
    out = []
    for _ in range(count):
        text = template
        for start, end in sorted(rng.sample(places, min(len(places), rng.randint(1, 3))))[::-1]:
            text = text[:start] + rng.choice(_HOSTILE) + text[end:]
        out.append(text)
    return out


def check(template: str, texts: list[str]) -> tuple[int, int]:
    """Each of ``texts``, read once ``template``'s shape is known, is indexed as reading it
    line by line indexes it; how many a shape read, and how many the fast reader reads."""
    shapes = shaped_by(template)
    shaped = fast = 0
    for text in texts:
        expected, _ = indexed(text.encode(), None)
        got, by_shape = indexed(text.encode(), shapes)
        assert got == expected, text
        shaped += by_shape
        with suppress(Unrecognised):
            fast += bool(skim(text, skimmed()))
    return shaped, fast


def kedro_like(rng: random.Random) -> str:
    params = {"lr": rng.choice([0.1, 0.01, 1e-05]), "epochs": rng.randint(1, 50)}
    record = {
        "session_id": "s1",
        "package_name": "p",
        "cli": {"args": [], "params": {"env": None}, "command_path": "kedro run"},
        "username": "ada",
        "run": {
            "status": rng.choice(["success", "failed"]),
            "pipeline_names": ["__default__", "train"][: rng.randint(1, 2)],
            "inputs": [{"dataset": "a", "digest": "sha256:" + "a" * 64}],
            "user": {"name": "Ada", "email": "ada@example.com"},
            "params": {**params, "model": {"depth": 3, "names": ["x", "y"]}},
            "started_at": "2025-01-02T03:04:05.678Z",
            "duration_s": round(rng.random() * 100, 3),
        },
        "git": {"commit": "c" * 40, "branch": "main", "dirty": rng.random() < 0.5},
        "metrics": {"auc": 0.9, "runs": [{"name": "a", "v": 1}, {"name": "b", "v": 2}]},
        "provenance": {"format": 2, "saved_at": "2025-01-02T03:04:06Z"},
    }
    return dump(record).decode()


def test_a_record_read_by_its_shape_is_indexed_as_read_line_by_line() -> None:
    rng = random.Random(7)
    shaped = fast = 0
    for _ in range(12):
        template = kedro_like(rng)
        one, other = check(template, variants(template, rng, 150))
        shaped, fast = shaped + one, fast + other
    assert fast > 150
    assert shaped > 0.7 * fast  # what the reader reads, the shape mostly reads


def test_records_of_any_shape_read_by_it_are_indexed_as_read_line_by_line() -> None:
    """Random records, each its own shape, with random values put in its values' places."""
    rng = random.Random(11)
    shaped = fast = templates = 0
    while templates < 200:
        record: dict[Any, Any] = {"session_id": "s1"}
        record.update({f"k{rng.randint(0, 2)}": _value(rng, 1), "run": _value(rng, 1)})
        record["git"] = {"commit": _value(rng, 2), "remotes": {"o": "u"}, "branch": _value(rng, 2)}
        template = dump(record).decode()
        try:
            skim(template, skimmed())
        except Unrecognised:  # no shape is made of what is read otherwise
            continue
        templates += 1
        one, other = check(template, variants(template, rng, 12))
        shaped, fast = shaped + one, fast + other
    assert fast > 300
    assert shaped > 0.5 * fast


#: Entries the index leaves out of a record (at column 2 of run, git or provenance), some
#: that ``load`` reads and some it refuses or reads otherwise.
_LEFT_OUT = [
    "  error: x\n", "  error: null\n", "  finished_at: '2025-01-01'\n", "  tags: []\n",
    "  nodes:\n    total: 3\n    completed:\n    - a\n", "  outputs:\n  - dataset: b\n",
    "  argv: x\n", "  cwd: a #b\n", "  error: [1, 2]\n", "  error: 'open\n", "  tags: &a x\n",
    "  inputs:\n  - a\n  - b: c\n    d\n", "  error: |\n    x\n", "  remotes:\n    o: u\n",
    "  upstream: x\n  ahead: 2\n", "  describe: v1\n", "  host:\n    name: h\n",
    "  status: x\n", "  commit: y\n", "  saved_at: z\n", "  commit.x: 1\n",
]  # fmt: skip


def test_entries_left_out_anywhere_in_a_shape_are_checked_as_skimming_checks_them() -> None:
    """Entries the index leaves out, added or removed anywhere in the sections it skims:
    a record so changed is read by the shape when skimming would leave them out, and is
    indexed as read line by line whatever they are."""
    rng = random.Random(5)
    template = kedro_like(rng)
    lines = template.splitlines(keepends=True)
    inside = {"run:\n", "git:\n", "provenance:\n"}
    places = []  # the lines of the skimmed sections that start an entry
    section = None
    for at, line in enumerate(lines):
        section = line if line in inside else section if line.startswith(" ") else None
        if section is not None and line.startswith("  ") and line[2] not in " -":
            places.append(at)
    texts = []
    for _ in range(400):
        changed = list(lines)
        for at in sorted(rng.sample(places, rng.randint(1, 3)), reverse=True):
            if rng.random() < 0.3:  # an entry taken out, with its deeper lines
                end = at + 1
                while end < len(changed) and changed[end].startswith(("   ", "  - ")):
                    end += 1
                del changed[at:end]
            else:
                changed.insert(at, rng.choice(_LEFT_OUT))
        texts.append("".join(changed))
    shaped, fast = check(template, texts)
    assert fast > 100  # (a kept entry taken out or added: another shape, read as lines)
    assert shaped > 0.25 * fast


@pytest.mark.parametrize(
    ("template", "text"),
    [
        # a key twice, and a key with no value: no shape, else b would take a's value
        ("session_id: s1\na: null\na: null\nb:\n", "session_id: s1\na: 1\na: 2\nb:\n"),
        ("session_id: s1\nrun:\n  x: 1\n  x: 1\n", "session_id: s1\nrun:\n  x: 1\n  x: 2\n"),
        # an item that is a value, then one that is a mapping
        ("session_id: s1\nl:\n- a\n- b\n", "session_id: s1\nl:\n- a\n- b: c\n"),
        ("session_id: s1\nl:\n- - a\n  - b\n", "session_id: s1\nl:\n- - a\n  - - b\n"),
        # keys that YAML reads as other things than text, and a key spelt with dots
        ("session_id: s1\n1: a\ntrue: b\nnull: c\n", "session_id: s1\n1: x\ntrue: y\nnull: z\n"),
        ("session_id: s1\nrun.params: 1\nrun:\n  params: 2\n", "session_id: s1\nrun.params: 3\n"
         "run:\n  params: 4\n"),
        ("session_id: s1\ngit:\n  commit.x: 1\n  commit: a\n", "session_id: s1\ngit:\n"
         "  commit.x: 2\n  commit: b\n"),
        # an empty collection where a value was, and the other way round
        ("session_id: s1\nrun:\n  params: []\n  lr: 1\n", "session_id: s1\nrun:\n  params: []\n"
         "  lr: []\n"),
        ("session_id: s1\nrun:\n  params: 1\n", "session_id: s1\nrun:\n  params: {}\n"),
        # a section whose entries were all left out reads as {}; with none, as null
        ("session_id: s1\ngit:\n  remotes:\n    o: u\nx: 1\n", "session_id: s1\ngit:\nx: 1\n"),
        ("session_id: s1\ngit:\n  remotes: [1]\n", "session_id: s1\ngit:\n  remotes: 1\n"),
        # the session the record claims, and git that is no mapping
        ("session_id: s1\ngit:\n  commit: a\n", "session_id: s2\ngit:\n  commit: a\n"),
        ("session_id: s1\nrun: 1\n", "session_id: s1\nrun: - 1\n"),
    ],
)  # fmt: skip
def test_lines_that_read_otherwise_are_not_read_by_a_shape(template: str, text: str) -> None:
    check(template, [text])


def test_a_shape_is_made_once_two_records_had_it_and_only_a_few_are_kept() -> None:
    template = kedro_like(random.Random(1))
    shapes = Shapes()
    assert [indexed(template.encode(), shapes)[1] for _ in range(3)] == [False, False, True]
    for n in range(Shapes.MOST + 3):  # other shapes push the first one out
        other = template.replace("username: ada\n", f"username: ada\nextra{n}: 1\n")
        for _ in range(2):
            indexed(other.encode(), shapes)
    assert len(shapes.known) == Shapes.MOST
    assert indexed(template.encode(), shapes)[1] is False


def test_an_index_built_in_parsing_processes_keeps_what_lines_would_give(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records sharing a shape, some with odd values, indexed by parsing processes (which
    read most by the shape) hold the same rows as indexed with no shape at all."""
    rng = random.Random(3)
    template = kedro_like(rng)
    for n, text in enumerate([template] * 4 + variants(template, rng, 60)):
        sid = f"s{n:02d}"
        save(repo, sid, re.sub("^session_id: [^\n]*", f"session_id: {sid}", text))
    lines_only = Shapes()
    lines_only.MOST = 0
    with monkeypatch.context() as patched:
        patched.setattr(gitprov.index.query, "_shapes", lambda: lines_only)
        with index_of(repo) as index:
            index.refresh()  # one process, every record read line by line
    assert not lines_only.known
    by_lines = _rows_of(repo)
    with rebuilt_in_processes(repo, monkeypatch):
        pass
    assert _rows_of(repo) == by_lines


def test_threads_parsing_at_once_read_each_record_by_its_own_shape() -> None:
    """Two threads indexing records of two shapes at once (a program asking the index from
    two threads, each catching up in its own): every record keeps its own rows."""
    import sys
    import threading

    from gitprov.index.query import _parse_one

    texts = {
        "a": "session_id: a\n" + "".join(f"a{n}: {n}\n" for n in range(30)),
        "b": "session_id: b\n" + "".join(f"b{n}:\n  x: v{n}\n" for n in range(20)),
    }
    expected = {
        sid: _parse_one(sid, "blob", "ref", "blob", text.encode()) for sid, text in texts.items()
    }
    wrong: list[str] = []

    def parse(sid: str) -> None:
        for _ in range(3000):
            if _parse_one(sid, "blob", "ref", "blob", texts[sid].encode()) != expected[sid]:
                wrong.append(sid)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can
    try:
        threads = [threading.Thread(target=parse, args=(sid,)) for sid in texts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not wrong
