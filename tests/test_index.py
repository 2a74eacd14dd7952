"""The query index (issue 15): the same answers as ``SessionLog``, kept up to date from what
changed, and never in the way when its file is damaged, locked, newer or cannot be kept."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

import gitprov
import gitprov.index.query
from gitprov.audit.compare import flatten_record
from gitprov.audit.log import SessionLog
from gitprov.git import Git
from gitprov.index import open_index
from gitprov.index.api import UNREADABLE, Condition, Query
from gitprov.index.db import FORMAT, INDEX_FILE, remove
from gitprov.index.extract import COLUMNED, extract, in_table, leaf
from gitprov.index.fastyaml import Unrecognised, parse_record, read
from gitprov.index.query import QueryIndex
from gitprov.model.document import dump
from gitprov.store.records import RecordStore, record_path

from conftest import git, make_repo

TRACKING = "refs/provenance/remotes/origin/sessions"


def ids(entries: Any) -> list[str]:
    return [e.session_id for e in entries]


def save(repo: Path, session_id: str, data: str | bytes) -> None:
    """A record stored as it is (the store writes what it is given)."""
    raw = data if isinstance(data, bytes) else textwrap.dedent(data).encode()
    RecordStore(Git.discover(repo)).save(session_id, raw)


def run(repo: Path, **keys: Any) -> str:
    with gitprov.record(path=repo, **keys) as session:
        pass
    return str(session.session_id)


def index_of(repo: Path, **options: Any) -> QueryIndex:
    return (
        open_index(SessionLog(repo))
        if not options
        else QueryIndex(Git.discover(repo), SessionLog(repo).ref, **options)
    )


# -- the fast reader ------------------------------------------------------------------------

_TRICKY = [
    "yes", "No", "on", "OFF", "true", "False", "null", "~", "", " ", "0", "-0", "012", "0x1f",
    "1_000", "1:30", "0.1", "1e5", "1.0e-05", ".inf", "-.inf", ".nan", "2024-01-01",
    "2024-01-01T10:00:00Z", "2024-01-01 10:00:00", "a: b", "a:b", "#x", "x #y", "x#y", "- x",
    "-x", "-", "?", "? x", ":x", "[a]", "{a}", "a, b", "*a", "&a", "!a", "%a", "@a", "`a",
    "'q'", '"q"', "it's", 'say "hi"', "back\\slash", "tab\there", "new\nline", "cr\rx",
    " lead", "trail ", "ü", "日本", "😀", "\x07bell", "\u2028", "<<", "=", "x" * 150,
    "long " * 40, "-rf", "--lr", "0.010", "+1", "1.", "NaN", "Yes please",
]  # fmt: skip


def _value(rng: random.Random, depth: int) -> Any:
    pick = rng.random()
    if depth > 3 or pick < 0.45:
        return rng.choice(
            [
                *_TRICKY,
                rng.randint(-(10**20), 10**20),
                rng.random() * 10 ** rng.randint(-8, 8),
                True,
                False,
                None,
                math.inf,
                dt.date(2024, 1, 2),
                [],
                {},
            ]
        )
    if pick < 0.75:
        return {_key(rng): _value(rng, depth + 1) for _ in range(rng.randint(1, 4))}
    return [_value(rng, depth + 1) for _ in range(rng.randint(1, 4))]


def _key(rng: random.Random) -> Any:
    return rng.choice(["lr", "a b", "x.y", *_TRICKY[:30], 1, 2.5, True, None])


def test_the_fast_reader_reads_what_yaml_reads_or_says_it_cannot() -> None:
    rng = random.Random(15)
    read_fast = 0
    for n in range(1500):
        record = {"session_id": f"s{n}", "run": _value(rng, 0), "params": _value(rng, 1)}
        record.update({_key(rng): _value(rng, 0) for _ in range(rng.randint(0, 3))})
        text = dump(record).decode()
        expected = yaml.load(text, Loader=yaml.CSafeLoader)
        try:
            got = read(text)
        except Unrecognised:
            continue
        read_fast += 1
        assert repr(got) == repr(expected), text
    assert read_fast > 250  # the shortcut is taken often, even among these odd values


def test_the_fast_reader_leaves_odd_documents_to_yaml() -> None:
    for text in [
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: 'open\n  quote'\n",
        "a: plain\n  continued\n",
        "a: 1\n# comment\n",
        "--- \na: 1\n",
        "a: [1, 2]\n",
        "a: |\n  block\n",
        "- 1\n",
        "a: 1\n\nb: 2\n",
        "a:\tb\n",
        "a: 2024-01-01\n",
        "a: 1",
    ]:
        with pytest.raises(Unrecognised):
            read(text)


def test_the_rows_kept_are_the_flattened_keys_worth_querying() -> None:
    rng = random.Random(16)
    for n in range(300):
        record: dict[Any, Any] = {"session_id": f"s{n}", "params": _value(rng, 1)}
        record["run"] = {"status": "success", "inputs": _value(rng, 2), "x": _value(rng, 2)}
        if rng.random() < 0.5:  # what the fields say, or not
            record["run"].update(started_at=_value(rng, 0), duration_s=_value(rng, 0))
            record["run"]["status"] = rng.choice(["failed", _value(rng, 0)])
        record["git"] = rng.choice(
            [
                {"branch": "main", "changes": _value(rng, 2), "dirty": True, "commit": "ab1"},
                {"branch": _value(rng, 0), "dirty": _value(rng, 0), "commit": _value(rng, 0)},
                [1],
                None,
                [{"path": "commit", "x": 1}, {"path": "changes", "x": 2}],  # keyed by path
                {"commit.x": 1, "branch.y": 2, rng.choice(["dirty", 1]): True},
            ]
        )
        if rng.random() < 0.3:
            record["run"][rng.choice(["inputs.x", "params.y", "x.inputs"])] = _value(rng, 1)
        record.update({_key(rng): _value(rng, 0) for _ in range(rng.randint(0, 3))})
        if rng.random() < 0.2:
            record[rng.choice(["run.inputs.x", "git.changes", "git.branch", "a.run"])] = 1
        expected = [leaf(k, v) for k, v in flatten_record(record).items() if in_table(k)]
        found = extract(record)
        said = {
            k: leaf(k, getattr(found, f)) for k, (bit, f) in COLUMNED.items() if found.cols & bit
        }
        assert [said.get(one[0], one) for one in expected] == expected  # each as its field says
        assert found.leaves == [one for one in expected if one[0] not in said]


#: Shapes inside the sections the index skims (run's bulk, git's, provenance's): each must
#: be read, refused or skipped exactly as ``load`` then ``extract`` would have it.
_SKIMMED_SHAPES = [
    "run:\n  inputs: a: b\n",  # mapping values where none may be
    "run:\n  inputs: x\n   y\n",  # a plain text on two lines
    "run:\n  error: 'open\n",
    "run:\n  error: 2024-13-45\n",  # a date that is none
    "run:\n  tags: =\n",  # a tag no safe loader builds
    "run:\n  tags: *a\n",  # an alias of nothing
    "run:\n  cwd: a #b\n",
    "run:\n  cwd: a:\n",
    "run:\n  nodes:\n  - a\n  - b: c\n    d\n",
    "run:\n  config:\n    files:\n    - path: a\n      digest: b\n  status: failed\n",
    "run:\n  outputs:\n  - dataset: m\n    meta:\n      deep:\n        deeper:\n          x: 1\n",
    "run:\n  status: failed\n  inputs: []\n  status: success\n",  # the last wins
    "run:\n  finished_at: x\n  finished_at: y\nrun:\n  duration_s: 3\n",
    "git:\n  policy:\n    x: 1\n      y: 2\n",
    "git:\n  remotes:\n    origin: u\n   bad: 1\n",
    "git:\n  ahead: 0b_\n  branch: main\n",  # an integer int() refuses
    "git:\n  describe: 1.5e+3\n  commit: abc\n",
    "git:\n  remotes:\n    a: https://x/y.git\n",  # all of it skipped: git is {}
    "git:\n  'commit': abc\n  commit_sha: x\n",
    'git:\n  upstream: "a\\tb"\n',  # an escape
    "provenance:\n  format: 2\n  host: !!python/object x\n",
    "provenance:\n  format: 2\n",
    "provenance:\n  saved_at: '2024-01-01T00:00:00Z'\n  gitprov: 1.0\n",
    "run:\n- inputs: x\n",  # not a mapping: read whole
    "run:\n  inputs:\n  - a\n  status: x\n  - b\n",
    "run:\n  tags:\n    - a\n",  # a sequence indented: read, not skipped
    "a: 'x\nrun:\n  inputs: y'\n",  # a quoted text on three lines
]


def _as_indexed(data: bytes, skim: bool) -> Any:
    """What the index keeps of a record (its fields and rows), or why it is refused."""
    from gitprov.index.extract import skimmed

    try:
        record = parse_record(data, "s1", "w", skimmed() if skim else None)
    except gitprov.errors.CorruptRecordError:
        return "refused"
    return repr(extract(record))


def check_indexed_as_loaded(text: str) -> None:
    """``text`` as a stored record is indexed alike skimmed and read whole, and refused
    exactly when ``load`` refuses it."""
    from gitprov.model.document import load

    data = text.encode()
    whole = _as_indexed(data, skim=False)
    assert _as_indexed(data, skim=True) == whole, text
    try:
        load(data, "s1", "w")
    except gitprov.errors.CorruptRecordError:
        assert whole == "refused", text
    else:
        assert whole != "refused", text


def test_skimming_keeps_what_the_index_reads_and_refuses_what_load_refuses() -> None:
    """The index's reader takes out of a record what neither its rows nor its fields read,
    checking without building it: each text is indexed as the whole reader and ``load``
    index it, and the shortcut is taken often."""
    from gitprov.index.extract import skimmed
    from gitprov.index.fastyaml import skim

    rng = random.Random(17)
    texts = [f"session_id: s1\n{shape}" for shape in _SKIMMED_SHAPES]
    for n in range(1200):
        record: dict[Any, Any] = {"session_id": "s1"}
        for section, names in (
            ("run", ["inputs", "config", "nodes", "error", "tags", "status", "params", "cwd"]),
            ("git", ["remotes", "policy", "commit", "branch", "ahead", "dirty", "snapshot"]),
            ("provenance", ["format", "host", "saved_at"]),
        ):
            if rng.random() < 0.9:
                keys = rng.sample(names, rng.randint(1, len(names)))
                record[section] = {key: _value(rng, 1 + rng.randint(0, 3)) for key in keys}
        texts.append(dump(record).decode())
    skimmed_some = 0
    for text in texts:
        check_indexed_as_loaded(text)
        try:
            skimmed_some += skim(text, skimmed()) != read(text)
        except Unrecognised:
            continue
    assert skimmed_some > 60


def test_parse_record_refuses_what_load_refuses() -> None:
    with pytest.raises(gitprov.errors.CorruptRecordError, match="claims to be session"):
        parse_record(b"session_id: y\ngit: {}\n", "x", "ref:xx/x.yaml")
    with pytest.raises(gitprov.errors.CorruptRecordError, match="git section"):
        parse_record(b"git:\n- 1\n", "x", "ref:xx/x.yaml")
    assert parse_record(b"session_id: x\nn: 1\n", "x", "w") == {"session_id": "x", "n": 1}


# -- answers ----------------------------------------------------------------------------------


def test_the_index_lists_what_the_log_lists_newest_first(repo: Path) -> None:
    first = run(repo, params={"lr": 0.01, "epochs": 3}, metrics={"auc": 0.91})
    second = run(repo, params={"lr": 0.1, "epochs": 3}, metrics={"auc": 0.8})
    index = index_of(repo)
    assert ids(index.query(Query())) == [second, first]
    assert ids(index.query(Query(newest_first=False, limit=1))) == [first]
    assert ids(index.entries()) == SessionLog(repo).ids()
    entry = index.query(Query(ids=(first,), columns=("params.lr", "metrics.auc", "nope")))[0]
    record = SessionLog(repo).get(first)
    assert entry.values == {"params.lr": 0.01, "metrics.auc": 0.91}
    assert entry.commit == record["git"]["commit"] and entry.branch == "main"
    assert entry.dirty is False and entry.status == "success" and entry.problem is None
    assert entry.started_at == record["run"]["started_at"] and entry.started is not None
    assert entry.source == "refs/provenance/sessions" and entry.user


@pytest.mark.parametrize("few", [0, 2000], ids=["each-run", "gathered"])
def test_conditions_compare_numbers_as_numbers_dates_as_dates(
    repo: Path, few: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitprov.index.query, "_FEW", few)  # both ways of testing a condition
    save(repo, "a", "session_id: a\nparams:\n  lr: 0.01\n  opt: adam\nwhen: '2024-03-01'\n")
    save(
        repo,
        "b",
        "session_id: b\nparams:\n  lr: 0.1\n  opt: sgd\n  zero: 0\nwhen: '2024-11-20T10:00Z'\n",
    )
    save(repo, "c", "session_id: c\nrun:\n  params:\n    lr: 1.0e-2\n  started_at: '2020-01-01'\n")
    index = index_of(repo)

    def where(*conditions: str) -> list[str]:
        parsed = []
        for text in conditions:
            for op in ("<=", ">=", "!=", "=", "<", ">", "~"):
                if op in text:
                    key, _, value = text.partition(op)
                    parsed.append(Condition(key, op, value))  # type: ignore[arg-type]
                    break
        return sorted(ids(index.query(Query(where=tuple(parsed), limit=100))))

    assert where("params.lr=0.01") == ["a", "c"]  # 1.0e-2 is 0.01; run.params.lr found too
    assert where("params.zero=0") == ["b"]
    assert where("params.zero=0.0") == ["b"]
    assert where("params.zero<abc") == ["b"]  # compared as text: '0' < 'abc'
    assert where("params.opt>2024-01-01") == ["a", "b"]  # as text: 'adam', 'sgd' > '2024...'
    assert where("params.lr~0.1") == ["b"]  # a substring of the number as written
    assert where("when~11-20") == ["b"]
    assert where("params.lr=0.010") == ["a", "c"]
    assert where("params.lr>0.05") == ["b"]
    assert where("params.lr!=0.01") == ["b"]
    assert where("params.opt~ad") == ["a"]
    assert where("params.opt!=adam") == ["b"]  # a run without the key never matches
    assert where("when>2024-06-01") == ["b"]
    assert where("when<2024-03-01T00:00:01Z") == ["a"]
    assert where("params.lr<1", "params.opt=sgd") == ["b"]
    assert where("no.such.key=1") == []
    assert where("started_at<2021-01-01") == ["c"]  # run.started_at, from the whole record
    every = Query(where=(Condition("params.lr", "<", "1"),))  # no limit: matches gathered
    assert sorted(ids(index.query(every))) == ["a", "b", "c"]
    assert where("run.started_at<2021-01-01") == ["c"]


def test_a_save_and_a_forget_are_caught_up(repo: Path) -> None:
    first = run(repo, params={"lr": 0.5})
    index = index_of(repo)
    assert ids(index.query(Query())) == [first]
    second = run(repo, params={"lr": 0.5})
    assert ids(index_of(repo).query(Query())) == [second, first]
    SessionLog(repo).forget([first], "a test")
    assert ids(index_of(repo).query(Query(where=(Condition("params.lr", "=", "0.5"),)))) == [second]
    assert ids(index.query(Query())) == [second]  # the same open index catches up too
    third = run(repo, params={"lr": 0.5})
    SessionLog(repo).forget([second], "again")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")  # the commit the index was at is gone
    assert ids(index.query(Query())) == [third]


def test_checking_freshness_starts_no_process(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(repo)
    index = index_of(repo)
    index.refresh()
    started: list[Any] = []
    original = subprocess.Popen.__init__

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        started.append(args)
        original(self, *args, **kwargs)

    log = SessionLog(repo)
    monkeypatch.setattr(subprocess.Popen, "__init__", spy)
    assert len(index.query(Query(limit=20))) == 1
    assert len(open_index(log).query(Query(limit=20))) == 1
    assert started == []


#: Values of the keys whose leaf a record's field may say instead of a row (COLUMNED).
_SAID_VALUES: dict[str, list[Any]] = {
    "status": ["success", "failed", "", 1, None, "2024-01-01", True, "x y"],
    "started_at": ["2024-03-01T10:00:00Z", "2024-03-01", "garbage", 5, None, dt.date(2024, 1, 2)],
    "duration_s": [72.5, 72, 0.0, -0.0, math.nan, math.inf, 1e300, "fast", None, True, 0.1],
    "commit": ["ab12cd", "2024-01-01", 12345, None, "", "0.5"],
    "branch": ["main", "feature/x", "", None, 3, "2024-01-01", "true"],
    "dirty": [True, False, "yes", None, 1, 0.0],
}


def test_a_leaf_a_field_says_is_found_and_shown_as_its_row_would_be(repo: Path) -> None:
    """A record's status, start, duration, commit, branch and dirty flag are no rows where
    its fields say them: conditions and columns on those keys answer as the whole record
    does (``_Test.record``, the reading of a key the index keeps no rows of), whatever type
    each value has, under ``run.``/``git.`` or as a key spelt with dots."""
    from gitprov.index.query import _Test

    rng = random.Random(9)
    records = {}
    for n in range(40):
        record: dict[str, Any] = {"session_id": f"s{n:02d}", "run": {}, "git": {}}
        for name, values in _SAID_VALUES.items():
            if rng.random() < 0.85:
                section = "git" if name in ("commit", "branch", "dirty") else "run"
                record[section][name] = rng.choice(values)
        if rng.random() < 0.15:
            record[rng.choice(["run.status", "status", "git.branch", "duration_s"])] = "dotted"
        if rng.random() < 0.1:
            record["exception"] = {"type": "ValueError"}
        save(repo, record["session_id"], dump(record))
        records[record["session_id"]] = flatten_record(yaml.safe_load(dump(record)))
    keys = [*COLUMNED, "status", "started_at", "duration_s", "run.git.branch"]
    values = ["success", "failed", "72.5", "72", "0", "-0.0", "1e300", "2024-03-01", "true"]
    values += [
        "2024-03-01T10:00:00Z",
        "2024-01-01T00:00:00Z",
        "abc",
        "ab",
        "inf",
        "nan",
        ".5",
        "",
        "main",
        "x y",
    ]
    index = index_of(repo)
    checked = 0
    for key in keys:
        columns = index.query(Query(columns=(key,)))
        for entry in columns:
            flat = records[entry.session_id]
            found = next((k for k in (key, f"run.{key}") if k in flat), None)
            if found is None:
                assert key not in entry.values, (entry.session_id, key)
            else:
                assert repr(leaf(found, entry.values[key])) == repr(leaf(found, flat[found]))
        for op in ("=", "!=", "<", "<=", ">", ">=", "~"):
            for value in values:
                condition = Condition(key, op, value)  # type: ignore[arg-type]
                expected = sorted(s for s, flat in records.items() if _Test(condition).record(flat))
                for limit in (None, 3):
                    got = ids(index.query(Query(where=(condition,), limit=limit)))
                    assert set(got) <= set(expected), condition
                    assert len(got) == min(len(expected), limit or len(expected)), condition
                checked += len(expected)
    assert checked > 1000  # conditions that match, not only empty answers
    said = index.db.execute("SELECT COUNT(*) FROM recs WHERE cols <> 0").fetchone()[0]
    assert said > 30  # most records' fields say some leaves


def test_odd_records_are_indexed_as_far_as_they_go(repo: Path) -> None:
    save(repo, "odd", "session_id: odd\ngit:\n  commit: 12345\n  branch: main\nrun:\n- 1\n")
    save(repo, "broken", b"session_id: broken\nparams: [unclosed\n")
    save(repo, "fine", "session_id: fine\nrun:\n  status: failed\n  argv: [echo, a b]\n")
    entries = {e.session_id: e for e in index_of(repo).entries()}
    assert sorted(entries) == SessionLog(repo).ids()
    odd = entries["odd"]
    assert odd.commit is None and odd.branch == "main"
    assert "git.commit is the number 12345" in str(odd.problem) and "run is a list" in str(
        odd.problem
    )
    broken = entries["broken"]
    assert "not valid YAML" in str(broken.problem) and broken.started is None
    assert entries["fine"].problem is None and entries["fine"].what == "echo 'a b'"
    assert entries["fine"].status == "failed"
    assert ids(index_of(repo).query(Query(status=("failed",)))) == ["fine"]
    with index_of(repo) as index:
        index.refresh()
        assert [e.session_id for e in index.unreadable()] == ["broken"]
        assert index.unreadable()[0].status == UNREADABLE
        assert [row[0] for row in index.code()] == ["broken", "fine", "odd"]
        assert index.code()[2][1:] == (None, None, odd.problem)


def _fetch(repo: Path, other: Path, ref: str = TRACKING) -> None:
    git(repo, "fetch", "-q", str(other), f"+refs/provenance/sessions:{ref}")


def test_fetched_copies_are_indexed_the_local_record_wins(tmp_path: Path) -> None:
    mine = make_repo(tmp_path / "mine")
    theirs = make_repo(tmp_path / "theirs")
    save(mine, "shared", "session_id: shared\nwho: me\n")
    save(theirs, "shared", "session_id: shared\nwho: them\n")
    save(theirs, "only-theirs", "session_id: only-theirs\nwho: them\n")
    save(theirs, "bad", b"session_id: bad\nx: [\n")
    _fetch(mine, theirs)
    index = index_of(mine)
    entries = {e.session_id: e for e in index.query(Query(columns=("who",)))}
    assert sorted(entries) == SessionLog(mine).ids() == ["bad", "only-theirs", "shared"]
    assert entries["shared"].values == {"who": "me"}
    assert entries["only-theirs"].source == TRACKING and entries["only-theirs"].values
    assert entries["bad"].problem is not None
    assert [lo.where for lo in index.skipped] == [f"{TRACKING}:{record_path('bad')}"]
    # their tombstone hides the session here too; a second copy that parses wins over bad
    SessionLog(theirs).forget(["only-theirs"], "gone")
    save(theirs, "bad", b"session_id: bad\nx: fixed\n")
    _fetch(mine, theirs, "refs/provenance/remotes/zz/sessions")
    _fetch(mine, theirs)
    git(theirs, "update-ref", "refs/provenance/sessions", "HEAD")  # not a records commit
    entries = {e.session_id: e for e in index_of(mine).query(Query(columns=("x",)))}
    assert sorted(entries) == SessionLog(mine).ids() == ["bad", "shared"]
    assert entries["bad"].values == {"x": "fixed"}


def test_what_a_hostile_copy_holds_is_skipped_named(tmp_path: Path) -> None:
    mine = make_repo(tmp_path / "mine")
    theirs = make_repo(tmp_path / "theirs")
    save(theirs, "fine", "session_id: fine\n")
    store = Git.discover(theirs)
    tree = git(theirs, "ls-tree", "refs/provenance/sessions").strip()
    junk = (
        subprocess.run(
            ["git", "-C", str(theirs), "hash-object", "-w", "--stdin"],
            input=b"session_id: junk\n",
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    listing = tree + f"\n100644 blob {junk}\tnot-a-bucket.yaml\n"
    new_tree = (
        subprocess.run(
            ["git", "-C", str(theirs), "mktree"],
            input=listing.encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    commit = git(theirs, "commit-tree", new_tree, "-m", "hostile").strip()
    git(theirs, "update-ref", "refs/provenance/sessions", commit)
    assert store  # the store reads the same repository
    _fetch(mine, theirs)
    index = index_of(mine)
    assert ids(index.query(Query())) == ["fine"] == SessionLog(mine).ids()
    assert [lo.where for lo in index.skipped] == [f"{TRACKING}:not-a-bucket.yaml"]


# -- the file ---------------------------------------------------------------------------------


def _file(repo: Path) -> Path:
    return repo.joinpath(".git", *INDEX_FILE)


def test_a_damaged_file_is_rebuilt_with_one_warning(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    session = run(repo)
    with index_of(repo) as index:
        index.refresh()
    path = _file(repo)
    assert path.stat().st_size > 20_000  # the last connection wrote the WAL back
    for damage in (b"garbage" * 100, path.read_bytes()[: path.stat().st_size // 2]):
        path.write_bytes(damage)
        caplog.clear()
        with caplog.at_level(logging.WARNING), index_of(repo) as index:
            assert ids(index.query(Query())) == [session]
            assert not index.in_memory
        assert len(caplog.records) == 1 and "damaged" in caplog.text


def test_a_newer_or_locked_file_is_bypassed_with_one_warning(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    session = run(repo)
    index_of(repo).refresh()
    newer = sqlite3.connect(_file(repo))
    newer.execute(f"PRAGMA user_version = {FORMAT + 1}")
    newer.commit()
    with caplog.at_level(logging.WARNING):
        index = index_of(repo)
        assert index.in_memory and ids(index.query(Query())) == [session]
    assert len(caplog.records) == 1 and "newer gitprov" in caplog.text
    newer.execute(f"PRAGMA user_version = {FORMAT}")
    newer.commit()
    run(repo)  # the index must write to catch up
    newer.execute("BEGIN EXCLUSIVE")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        index = index_of(repo, timeout=0.2)
        assert len(index.query(Query())) == 2 and index.in_memory
    assert len(caplog.records) == 1 and "locked" in caplog.text
    newer.rollback()
    newer.close()


def test_in_memory_where_nothing_can_be_kept(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    session = run(repo)
    (repo / ".git" / "gitprov").mkdir(exist_ok=True)
    (repo / ".git" / "gitprov" / "index.sqlite").mkdir()  # not a file: cannot be opened
    index = index_of(repo)
    assert index.in_memory and ids(index.query(Query())) == [session]
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    git(bare, "fetch", "-q", str(repo), "refs/provenance/sessions:refs/provenance/sessions")
    index = open_index(SessionLog(bare))
    assert index.in_memory and ids(index.query(Query())) == [session]
    assert not (bare / "gitprov").exists()


def test_the_file_follows_core_shared_repository(repo: Path) -> None:
    git(repo, "config", "core.sharedRepository", "group")
    run(repo)
    index_of(repo).refresh()
    assert _file(repo).stat().st_mode & 0o060 == 0o060
    assert _file(repo).parent.stat().st_mode & 0o2070 == 0o2070


# Each saver names its own ids: two processes can draw the same millisecond id (Kedro's
# format), which is not what this test is about.
_SAVER = """
import sys, gitprov
for n in range(int(sys.argv[2])):
    with gitprov.record(sys.argv[1], f"{sys.argv[3]}-{n}", params={"n": n}):
        pass
"""
_READER = """
import sys, time
from gitprov.audit.log import SessionLog
from gitprov.index import open_index
from gitprov.index.api import Query
seen = set()
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    log = SessionLog(sys.argv[1])
    got = [e.session_id for e in open_index(log).query(Query())]
    assert len(got) == len(set(got)), got
    assert seen <= set(got), "a session went missing"
    assert all(e is not None for e in got)
    seen = set(got)
print(len(seen))
"""


def test_concurrent_savers_and_readers_agree(repo: Path) -> None:
    savers = [
        subprocess.Popen([sys.executable, "-c", _SAVER, str(repo), "4", f"saver{k}"])
        for k in range(2)
    ]
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", _READER, str(repo), "6"], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    assert all(p.wait(120) == 0 for p in savers)
    assert all(p.wait(120) == 0 for p in readers)
    assert sorted(ids(index_of(repo).query(Query()))) == SessionLog(repo).ids()
    assert len(SessionLog(repo).ids()) == 8


def test_values_another_process_stored_or_forget_dropped_are_never_named_wrongly(
    repo: Path,
) -> None:
    """Each distinct value is stored once, by id; a process remembers the ids it knows.
    When another connection changed the values meanwhile, or this one dropped some
    (forget), what it remembers must be asked again: a stale id names no value."""

    def where(index: QueryIndex, value: str) -> list[str]:
        return ids(index.query(Query(where=(Condition("params.opt", "=", value),))))

    log = gitprov.SessionLog(repo)
    first, other = index_of(repo), index_of(repo)
    a, b = run(repo, params={"opt": "adam"}), run(repo, params={"opt": "rms"})
    assert where(first, "rms") == [b]  # `first` stores adam and rms
    c = run(repo, params={"opt": "rms"})
    assert where(other, "rms") == [c, b]  # `other` learns rms's id
    log.forget([b, c], reason="test")
    assert where(first, "rms") == []  # `first` drops rms
    d = run(repo, params={"opt": "rms"})
    assert where(other, "rms") == [d]  # stored anew, not under the id `other` knew
    e = run(repo, params={"opt": "sgd"})
    assert where(first, "sgd") == [e]  # `first` stores sgd
    log.forget([e], reason="test")
    assert where(first, "sgd") == []  # and drops it
    f = run(repo, params={"opt": "sgd"})
    assert where(first, "sgd") == [f]  # stored anew, not under the id it knew
    assert where(first, "adam") == where(other, "adam") == [a]
    rows = sqlite3.connect(repo / ".git" / "gitprov" / "index.sqlite").execute(
        "SELECT COUNT(*) FROM vals v JOIN keys k ON k.id = v.kid WHERE k.key = 'params.opt'"
    )
    assert rows.fetchone()[0] == 3  # adam, rms, sgd: once each
    first.close()
    other.close()


def test_an_sqlite_without_json_functions_keeps_the_same_rows(repo: Path) -> None:
    """Records' value ids are handed to SQLite as one JSON array a record; an SQLite built
    without its JSON functions (before 3.38 they were optional) gets them row by row."""
    for n in range(3):
        run(repo, params={"lr": n / 10, "opt": ["adam", "sgd"][n % 2]}, metrics={"auc": 0.9})

    def rows(json: bool) -> list[tuple[Any, ...]]:
        remove(_file(repo))
        with index_of(repo) as index:
            index._vals.json = json
            index.refresh()
            assert ids(index.query(Query(where=(Condition("params.opt", "=", "sgd"),))))
            return index.db.execute(
                "SELECT r.sid, k.key, v.kind, v.text FROM kv JOIN recs r ON r.id = kv.rec "
                "JOIN keys k ON k.id = kv.kid JOIN vals v ON v.id = kv.val ORDER BY 1, 2"
            ).fetchall()

    with_json = rows(json=True)
    assert len(with_json) > 12
    assert rows(json=False) == with_json


def _stderr_on_a_terminal(script: str, *args: str) -> bytes:
    """What ``python -c script args`` writes to stderr when stderr is a terminal."""
    import os
    import pty
    import select

    master, end = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "GITPROV_PROGRESS_DELAY": "0"}
    env.pop("GITPROV_PROGRESS", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], env=env, stdin=subprocess.DEVNULL, stderr=end
    )
    os.close(end)
    got = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        try:
            chunk = os.read(master, 65536) if ready else b""
        except OSError:  # the terminal closed with the process
            chunk = b""
        if not chunk:
            break
        got += chunk
    os.close(master)
    assert proc.wait(60) == 0, got
    return got


def test_a_first_build_shows_progress_on_a_terminal(repo: Path) -> None:
    for n in range(40):
        save(repo, f"s{n:02d}", f"session_id: s{n:02d}\nparams:\n  n: {n}\n")
    script = (
        "import sys\nfrom gitprov.audit.log import SessionLog\nfrom gitprov.index import "
        "open_index\nprint(len(open_index(SessionLog(sys.argv[1])).entries()), file=sys.stderr)"
    )
    shown = _stderr_on_a_terminal(script, str(repo))
    assert b"\rIndexing records: " in shown and b"(40/40), done." in shown
    assert shown.endswith(b"40\r\n")
    assert _stderr_on_a_terminal(script, str(repo)) == b"40\r\n"  # caught up: nothing shown


def _read_only(path: Path, on: bool) -> bool:
    """Make ``path`` read-only even for root (``chattr +i``), or writable again; whether
    it could be done."""
    import os

    if os.geteuid() != 0:
        path.chmod(0o555 if on else 0o755)
        return True
    done = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True)
    return done.returncode == 0


def test_a_read_only_git_dir_is_indexed_in_memory_silently(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = run(repo)
    with index_of(repo) as index:
        index.refresh()
    folder = _file(repo).parent
    files = [folder, _file(repo)]
    if not all(_read_only(path, True) for path in files):
        pytest.skip("chattr is not available here")
    try:
        second = run(repo)  # the index must catch up, and cannot write
        with caplog.at_level(logging.WARNING), index_of(repo) as index:
            assert ids(index.query(Query())) == [second, first]
            assert index.in_memory
        assert caplog.records == []
    finally:
        for path in files:
            _read_only(path, False)


def test_records_of_every_entry_point_read_fast_as_yaml_reads_them(repo: Path) -> None:
    from conftest import cli

    (repo / "data.csv").write_text("a,b\n1,2\n")
    run(repo, params={"lr": 0.01, "layers": [64, 32], "opt": {"name": "adam"}}, metrics={"auc": 1})
    with gitprov.record(path=repo, inputs=[repo / "data.csv"], params={"when": "2024-01-01"}):
        (repo / "out.txt").write_text("dirty\n")
    assert cli("run", "--", sys.executable, "-c", "print('a b: c')", cwd=repo).returncode == 0
    names = git(repo, "ls-tree", "-r", "--name-only", "refs/provenance/sessions").split()
    texts = [
        git(repo, "show", f"refs/provenance/sessions:{name}")
        for name in names
        if name.endswith(".yaml")
    ]
    assert len(texts) == 3
    for text in texts:
        assert repr(read(text)) == repr(yaml.load(text, Loader=yaml.CSafeLoader)), text
        assert _as_indexed(text.encode(), skim=True) == _as_indexed(text.encode(), skim=False)


def _rows_of(repo: Path) -> list[Any]:
    """Every indexed row of ``repo``'s index file, and the values each record holds."""
    with sqlite3.connect(repo / ".git" / Path(*INDEX_FILE)) as db:
        recs = db.execute(
            "SELECT sid, blob, ok, started, started_at, duration, status, commit_, branch, "
            "dirty, what, user, problem, cols, ref FROM recs ORDER BY sid, blob"
        ).fetchall()
        held = db.execute(
            "SELECT r.sid, r.blob, k.key, v.kind, v.text FROM kv JOIN recs r ON r.id = kv.rec "
            "JOIN keys k ON k.id = kv.kid JOIN vals v ON v.id = kv.val ORDER BY 1, 2, 3"
        ).fetchall()
    return [recs, held]


def _children_named(name: bytes) -> list[int]:
    """This process's children running ``name``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_bytes()
        except OSError:
            continue
        comm, rest = text[text.index(b"(") + 1 : text.rindex(b")")], text.rsplit(b")", 1)[1]
        if comm == name and int(rest.split()[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


def test_a_cat_file_that_ends_early_is_an_error_never_missing_records(repo: Path) -> None:
    """The records' reader stops with an error when its ``cat-file`` is killed: the objects
    it did not answer for are not "missing" (a build would keep them as unreadable records
    and never read them again)."""
    from gitprov.index.query import _read_blobs

    for n in range(3):
        run(repo, params={"n": n})
    listing = git(repo, "ls-tree", "-r", "refs/provenance/sessions")
    blobs = [line.split()[2] for line in listing.splitlines() if line.endswith(".yaml")]
    reader = _read_blobs(Git.discover(repo), blobs * 3000)
    assert next(reader)[0] == "blob"
    (cat_file,) = _children_named(b"git")
    os.kill(cat_file, signal.SIGKILL)
    kinds = []
    with pytest.raises(gitprov.errors.GitProvError, match="cat-file"):
        for kind, _ in reader:
            kinds.append(kind)
    assert len(kinds) < 3 * 3000 - 1 and set(kinds) <= {"blob"}


def rebuilt_in_processes(repo: Path, monkeypatch: pytest.MonkeyPatch) -> QueryIndex:
    """The index file removed, then built anew as a big first build is (in parsing
    processes, late indexes made after the rows), however few the records."""
    remove(repo / ".git" / Path(*INDEX_FILE))
    monkeypatch.setattr(gitprov.index.query, "_PARALLEL", 8)
    monkeypatch.setattr(gitprov.index.query, "_CHUNK", 3)
    monkeypatch.setattr(gitprov.index.query, "_BATCH", 7)
    index = index_of(repo)
    index.refresh()
    assert index._built  # the big way
    return index


def test_a_big_build_in_parsing_processes_indexes_what_one_process_does(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past a size the first build parses in a process per core, with its late indexes
    and the cyclic collector off meanwhile: the rows are the same, the indexes are back,
    and the collector is as it was before."""
    import gc

    for n in range(40):
        odd = "params: [1, 2]\n" if n == 7 else ""
        save(repo, f"s{n:02d}", f"session_id: s{n:02d}\nparams:\n  n: {n}\n  lr: 0.{n % 3}\n{odd}")
    save(repo, "broken", "session_id: broken\nparams: [unclosed\n")
    with index_of(repo) as index:
        index.refresh()  # one process: fewer records than a big build takes
    serial = _rows_of(repo)
    with rebuilt_in_processes(repo, monkeypatch) as index:
        assert ids(index.query(Query(where=(Condition("params.lr", "=", "0.2"),)))) == [
            f"s{n:02d}" for n in range(38, -1, -1) if n % 3 == 2
        ]
    assert _rows_of(repo) == serial
    assert gc.isenabled()
    run(repo)
    gc.disable()  # a caller's own choice is left as it was
    try:
        with index_of(repo) as index:
            index.refresh()
        assert not gc.isenabled()
    finally:
        gc.enable()
    with sqlite3.connect(repo / ".git" / Path(*INDEX_FILE)) as db:
        names = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert {name for name, _ in gitprov.index.db.LATE_INDEXES} <= names
