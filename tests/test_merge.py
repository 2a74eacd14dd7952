"""The merge's rules on plain mappings (gitprov.sync.merge): no git, no repository."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml

from gitprov.git.objects import Entry
from gitprov.model.document import dump
from gitprov.store.notes import note_line
from gitprov.store.records import fanout
from gitprov.sync.merge import (
    Side,
    as_copy,
    conflict_id,
    merge_index,
    merge_notes,
    merge_records,
    note_union,
    plan,
    three_way,
)


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0%s" % (len(data), data)).hexdigest()


def record(session_id: str, **fields: Any) -> bytes:
    return dump({"session_id": session_id, **fields})


# Record contents by name, and their blob ids: one store both sides share.
CONTENT = {
    "x1": record("x", run={"status": "completed"}),
    "x2": record("x", run={"status": "failed"}),
    "x3": record("x", run={"status": "interrupted"}),
    "y1": record("y", run={"status": "completed"}),
}
BLOB = {name: blob_id(data) for name, data in CONTENT.items()}
CONTENTS = {BLOB[name]: data for name, data in CONTENT.items()}


def side(**ids: str) -> dict[str, str]:
    """A side's records: session id -> blob id of the named content."""
    return {session_id: BLOB[name] for session_id, name in ids.items()}


def copy_of(session_id: str, name: str) -> tuple[str, str]:
    """The conflict copy of ``name``'s content kept for ``session_id``: (id, blob)."""
    copy = conflict_id(session_id, "origin", BLOB[name])
    return copy, blob_id(as_copy(CONTENT[name], session_id, copy))


@pytest.mark.parametrize(
    ("base", "ours", "theirs", "expected"),
    [
        (None, None, None, "ours"),  # nowhere
        ("a", "a", "a", "ours"),  # unchanged
        (None, None, "b", "theirs"),  # added there
        (None, "a", None, "ours"),  # added here
        (None, "a", "a", "ours"),  # added alike on both sides
        (None, "a", "b", "both"),  # added differently on both sides
        ("a", "a", "b", "theirs"),  # changed there
        ("a", "b", "a", "ours"),  # changed here
        ("a", "b", "b", "ours"),  # changed alike
        ("a", "b", "c", "both"),  # changed differently
        ("a", "a", None, "ours"),  # deleted there: nothing is deleted here
        ("a", None, "a", "ours"),  # absent here, unchanged there
        ("a", None, "b", "theirs"),  # absent here, changed there
    ],
)
def test_the_three_way_rule(
    base: str | None, ours: str | None, theirs: str | None, expected: Side
) -> None:
    assert three_way(base, ours, theirs) == expected


@pytest.mark.parametrize(
    ("local", "remote", "bases", "expected"),
    [
        ("L", None, [], "none"),  # the remote has no records
        ("L", "L", [], "none"),  # same tip
        ("L", "R", ["R"], "none"),  # the remote is behind
        (None, "R", [], "fast-forward"),  # nothing here yet
        ("L", "R", ["L"], "fast-forward"),  # we are behind
        ("L", "R", ["B"], "merge"),  # both moved on
        ("L", "R", [], "merge"),  # unrelated histories
    ],
)
def test_the_plan_of_a_ref(
    local: str | None, remote: str | None, bases: list[str], expected: str
) -> None:
    assert plan(local, remote, bases) == expected


RECORD_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # (what, inputs, expected: changes, conflicts, left_out)
    ("added there", {"theirs": side(x="x1")}, {"changes": side(x="x1")}),
    ("added here", {"ours": side(x="x1")}, {}),
    ("added alike", {"ours": side(x="x1"), "theirs": side(x="x1")}, {}),
    (
        "added differently",
        {"ours": side(x="x1"), "theirs": side(x="x2")},
        {"changes": dict([copy_of("x", "x2")]), "conflicts": [("x", copy_of("x", "x2")[0])]},
    ),
    (
        "re-saved there",
        {"base": side(x="x1"), "ours": side(x="x1"), "theirs": side(x="x2")},
        {"changes": side(x="x2")},
    ),
    ("re-saved here", {"base": side(x="x1"), "ours": side(x="x2"), "theirs": side(x="x1")}, {}),
    (
        "re-saved differently",
        {"base": side(x="x1"), "ours": side(x="x2"), "theirs": side(x="x3")},
        {"changes": dict([copy_of("x", "x3")]), "conflicts": [("x", copy_of("x", "x3")[0])]},
    ),
    ("deleted there", {"base": side(x="x1"), "ours": side(x="x1")}, {}),
    ("absent here, unchanged there", {"base": side(x="x1"), "theirs": side(x="x1")}, {}),
    (
        "absent here, changed there",
        {"base": side(x="x1"), "theirs": side(x="x2")},
        {"changes": side(x="x2")},
    ),
    (
        "one of two taken",
        {"ours": side(y="y1"), "theirs": side(x="x1", y="y1")},
        {"changes": side(x="x1")},
    ),
    ("forgotten, added there", {"theirs": side(x="x1"), "forgotten": {"x"}}, {}),
    (
        "forgotten, in conflict",
        {"ours": side(x="x1"), "theirs": side(x="x2"), "forgotten": {"x"}},
        {},
    ),
    (
        "refused",
        {"theirs": side(x="x1", y="y1"), "refused": {"x": "too big"}},
        {"changes": side(y="y1"), "left_out": [("x", "too big")]},
    ),
    (
        "refused and forgotten",
        {"theirs": side(x="x1"), "refused": {"x": "too big"}, "forgotten": {"x"}},
        {"left_out": [("x", "too big")]},
    ),
    (
        "the copy is here already",
        {"ours": {**side(x="x1"), **dict([copy_of("x", "x2")])}, "theirs": side(x="x2")},
        {},
    ),
    (
        "the copy's id holds another record",
        {"ours": {**side(x="x1"), copy_of("x", "x2")[0]: BLOB["y1"]}, "theirs": side(x="x2")},
        {
            "changes": {conflict_id("x", "origin", BLOB["x2"], 16): "*"},
            "conflicts": [("x", conflict_id("x", "origin", BLOB["x2"], 16))],
        },
    ),
]


@pytest.mark.parametrize(
    ("inputs", "expected"), [case[1:] for case in RECORD_CASES], ids=[c[0] for c in RECORD_CASES]
)
def test_records_merge(inputs: dict[str, Any], expected: dict[str, Any]) -> None:
    merged = merge_records(
        inputs.get("base", {}),
        inputs.get("ours", {}),
        inputs.get("theirs", {}),
        remote="origin",
        contents=CONTENTS,
        blob_id=blob_id,
        refused=inputs.get("refused", {}),
        forgotten=inputs.get("forgotten", set()),
    )
    changes = expected.get("changes", {})
    assert merged.changes.keys() == changes.keys()
    for key, blob in changes.items():
        assert blob == "*" or merged.changes[key] == blob
    assert merged.conflicts == expected.get("conflicts", [])
    assert merged.left_out == expected.get("left_out", [])
    for blob in merged.changes.values():  # every value names a blob that exists
        assert blob in CONTENTS or blob_id(merged.blobs[blob]) == blob


def test_a_conflict_copy_names_itself_and_what_it_conflicts_with() -> None:
    merged = merge_records(
        {}, side(x="x1"), side(x="x2"), remote="origin", contents=CONTENTS, blob_id=blob_id
    )
    [(copy, blob)] = merged.changes.items()
    kept = yaml.safe_load(merged.blobs[blob])
    assert kept["session_id"] == copy and kept["conflict_of"] == "x"
    assert kept["run"] == {"status": "failed"}  # the remote's version, whole
    assert copy.startswith("x+origin-")


def test_a_copy_keeps_the_records_bytes_after_its_first_line() -> None:
    data = CONTENT["x2"]
    copy = as_copy(data, "x", "x+origin-12345678")
    assert copy.endswith(data[len(b"session_id: x\n") :])
    assert copy.startswith(b"session_id: x+origin-12345678\nconflict_of: x\n")


@pytest.mark.parametrize(
    "data",
    [
        b"run:\n  status: failed\nsession_id: x\n",  # id not first
        b"session_id: x\nconflict_of: w\nrun: {}\n",  # a copy already
    ],
)
def test_a_copy_of_a_record_laid_out_otherwise_goes_through_yaml(data: bytes) -> None:
    copy = yaml.safe_load(as_copy(data, "x", "x+origin-12345678"))
    assert list(copy)[:2] == ["session_id", "conflict_of"]
    assert copy["session_id"] == "x+origin-12345678" and copy["conflict_of"] == "x"
    assert "run" in copy


def line(session_id: str, branch: str = "main") -> str:
    return note_line({"session_id": session_id, "branch": branch, "dirty": False})


def note(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


NOTES = {
    "a": note(line("s1")),
    "b": note(line("s1"), line("s2")),
    "c": note(line("s3"), line("s1")),
    "bad": note(line("s4"), "rm -rf /", "not: [a session"),
    "junk": note("hello", "world"),
    "latin1": "- {session_id: café}\n".encode("latin-1"),
}
NOTE_BLOB = {name: blob_id(data) for name, data in NOTES.items()}
NOTE_CONTENTS = {NOTE_BLOB[name]: data for name, data in NOTES.items()}


def notes(**commits: str) -> dict[str, str]:
    return {commit: NOTE_BLOB[name] for commit, name in commits.items()}


NOTE_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # (what, inputs, expected: changes as note text or blob name, left_out)
    ("added there", {"theirs": notes(c1="a")}, {"changes": {"c1": "a"}}),
    ("added here", {"ours": notes(c1="a")}, {}),
    ("unchanged", {"base": notes(c1="a"), "ours": notes(c1="a"), "theirs": notes(c1="a")}, {}),
    ("changed here", {"base": notes(c1="a"), "ours": notes(c1="b"), "theirs": notes(c1="a")}, {}),
    (
        "changed there",
        {"base": notes(c1="a"), "ours": notes(c1="a"), "theirs": notes(c1="b")},
        {"changes": {"c1": "b"}},
    ),
    (
        "changed on both: lines unioned, sorted, de-duplicated",
        {"base": notes(c1="a"), "ours": notes(c1="b"), "theirs": notes(c1="c")},
        {"changes": {"c1": note(*sorted([line("s1"), line("s2"), line("s3")]))}},
    ),
    (
        "added on both",
        {"ours": notes(c1="a"), "theirs": notes(c1="c")},
        {"changes": {"c1": note(*sorted([line("s1"), line("s3")]))}},
    ),
    (
        "lines that are not session entries left out",
        {"theirs": notes(c1="bad")},
        {
            "changes": {"c1": note(line("s4"))},
            "left_out": [("c1", "2 line(s) not session entries, such as 'rm -rf /'")],
        },
    ),
    (
        "only such lines: nothing taken",
        {"theirs": notes(c1="junk", c2="a")},
        {
            "changes": {"c2": "a"},
            "left_out": [("c1", "2 line(s) not session entries, such as 'hello'")],
        },
    ),
    (
        "such lines beside ours: the session entries unioned",
        {"ours": notes(c1="a"), "theirs": notes(c1="bad")},
        {
            "changes": {"c1": note(line("s1"), line("s4"))},
            "left_out": [("c1", "2 line(s) not session entries, such as 'rm -rf /'")],
        },
    ),
    ("not UTF-8", {"theirs": notes(c1="latin1")}, {"left_out": [("c1", "not UTF-8")]}),
    (
        "refused",
        {"theirs": notes(c1="a", c2="b"), "refused": {"c1": "its object is missing"}},
        {"changes": {"c2": "b"}, "left_out": [("c1", "its object is missing")]},
    ),
    (
        "refused but unchanged since the base: named then, not again",
        {"base": notes(c1="bad"), "theirs": notes(c1="bad")},
        {},
    ),
]


@pytest.mark.parametrize(
    ("inputs", "expected"), [case[1:] for case in NOTE_CASES], ids=[c[0] for c in NOTE_CASES]
)
def test_notes_merge(inputs: dict[str, Any], expected: dict[str, Any]) -> None:
    merged = merge_notes(
        inputs.get("base", {}),
        inputs.get("ours", {}),
        inputs.get("theirs", {}),
        contents=NOTE_CONTENTS,
        blob_id=blob_id,
        refused=inputs.get("refused", {}),
    )
    got = {
        commit: merged.blobs[blob]
        if blob in merged.blobs
        else next(name for name, b in NOTE_BLOB.items() if b == blob)
        for commit, blob in merged.changes.items()
    }
    assert got == expected.get("changes", {})
    assert merged.left_out == expected.get("left_out", [])
    assert all(blob_id(data) == blob for blob, data in merged.blobs.items())


def test_note_union_keeps_bytes_that_are_not_utf8_and_drops_blank_lines() -> None:
    ours = b"- {session_id: b}\n\n- {session_id: \xff}\n"
    assert note_union(ours, "- {session_id: a}", "- {session_id: b}", "  ") == (
        b"- {session_id: a}\n- {session_id: b}\n- {session_id: \xff}\n"
    )


# -- the digest index --------------------------------------------------------------------

EMPTY = blob_id(b"")
HEX = "ab" + "0" * 62


def leaf(session_id: str, digest: str = HEX) -> str:
    return f"{digest[:2]}/{digest}/{fanout(session_id)}/{session_id}"


def file(path: str, sha: str = EMPTY, mode: str = "100644") -> Entry:
    return Entry(mode, path.rpartition("/")[2], sha)


WRONG_BUCKET = "00" if fanout("s1") != "00" else "01"


@pytest.mark.parametrize(
    ("ours", "theirs", "taken", "left_out"),
    [
        pytest.param(set(), {leaf("s1"): file(leaf("s1"))}, [leaf("s1")], [], id="new entry"),
        pytest.param({leaf("s1")}, {leaf("s1"): file(leaf("s1"))}, [], [], id="same entry"),
        pytest.param(
            set(),
            {leaf("s1"): file(leaf("s1")), leaf("s2", "cd" + "1" * 62): file("s2")},
            [leaf("s1"), leaf("s2", "cd" + "1" * 62)],
            [],
            id="two digests",
        ),
        pytest.param(
            set(),
            {leaf("s1"): file(leaf("s1"), blob_id(b"x"))},
            [],
            [(leaf("s1"), "not the empty file")],
            id="not empty",
        ),
        pytest.param(
            {leaf("s1")},
            {leaf("s1"): file(leaf("s1"), blob_id(b"x"))},
            [],
            [(leaf("s1"), "not the empty file")],
            id="ours kept, theirs named",
        ),
        pytest.param(
            set(),
            {leaf("s1"): file(leaf("s1"), mode="160000")},
            [],
            [(leaf("s1"), "a submodule, not a file")],
            id="submodule",
        ),
        pytest.param(
            set(),
            {f"ab/{HEX}/{WRONG_BUCKET}/s1": file("s1")},
            [],
            [(f"ab/{HEX}/{WRONG_BUCKET}/s1", f"an entry that belongs in folder {fanout('s1')}/")],
            id="misplaced",
        ),
        pytest.param(
            set(),
            {f"ab/{HEX}/{fanout('..')}/..": file("..")},
            [],
            [(f"ab/{HEX}/{fanout('..')}/..", "not named after a valid session id")],
            id="bad id",
        ),
        pytest.param(
            set(),
            {"zz": file("zz", mode="40000")},
            [],
            [("zz", "not a two-hex-digit folder")],
            id="bad aa",
        ),
        pytest.param(
            set(),
            {"ab/cd" + "0" * 62: file("x", mode="40000")},
            [],
            [("ab/cd" + "0" * 62, "not a sha256 digest (64 hex digits) starting with ab")],
            id="digest in the wrong aa",
        ),
        pytest.param(
            set(),
            {f"ab/{HEX}": file(HEX)},
            [],
            [(f"ab/{HEX}", "a file, not a folder")],
            id="file for a folder",
        ),
        pytest.param(
            set(),
            {leaf("s1") + "/deeper": file("deeper")},
            [],
            [(leaf("s1") + "/deeper", "deeper than <aa>/<digest>/<yy>/<session id>")],
            id="too deep",
        ),
        pytest.param(set(), {f"ab/{HEX}": file(HEX, mode="40000")}, [], [], id="folder only"),
    ],
)
def test_index_merge(
    ours: set[str], theirs: dict[str, Entry], taken: list[str], left_out: list[Any]
) -> None:
    merged = merge_index(ours, theirs, empty=EMPTY)
    assert sorted(merged.changes) == sorted(taken)
    assert all(sha == EMPTY for sha in merged.changes.values())
    assert merged.left_out == left_out
