"""Attacks on the index's record reader (issue 15): whatever the bytes, skimming a record
(``parse_record(..., skimmed())``) indexes what reading it whole indexes, and both refuse
exactly what :func:`gitprov.model.document.load` refuses."""

from __future__ import annotations

import random
from typing import Any

import pytest

from gitprov.model.document import dump
from test_index import check_indexed_as_loaded

#: Texts after ``session_id: s1\n``. The first ones were answered wrongly (see each).
_SHAPES = [
    # a git key flattened under a kept one (git.commit.x is a row): it was skimmed away
    "git:\n  commit.x: 1\n  branch: main\n",
    "git:\n  branch.y:\n    outcome: clean\n",
    "git:\n  dirty.z: 1\n",
    # a key beyond YAML's 1024 characters of a simple key: load refuses, both readers took it
    f"git:\n  {'k' * 1025}: 1\n  branch: main\n",
    f"{'k' * 1025}: 1\n",
    f"'{'k' * 1023}': 1\n",
    f"run:\n  inputs:\n  - {'k' * 1025}: 1\n",
    # an int of more digits than int() converts: load refuses; the whole reader crashed with
    # a ValueError and skimming indexed the record as readable
    "git:\n  ahead: " + "1" * 5000 + "\n  branch: main\n",
    "x: " + "1" * 5000 + "\n",
    "run:\n  tags:\n  - " + "9" * 5000 + "\n",
    # a document's end at column 0 followed by a key: load refuses, the reader took a key
    "a: 1\n...  b: 2\n",
    "run:\n  status: ok\n... cwd: x\n",
    # what held
    f"git:\n  {'k' * 1024}: 1\n",
    f"'{'k' * 1022}': 1\n",
    "git:\n  ahead: " + "1" * 4000 + "\n",
    "git:\n  ahead: 0x" + "f" * 5000 + "\n",
    "git:\n  ahead: " + "1" * 600 + ".5\n",
    "a: 1\n...: 2\n",
    "a: 1\n...x: 2\n",
    "a: 1\n---x: 2\n",
    "a: 1\n---\nb: 2\n",
    "a: 1\n...\n",
    "git:\n  commit_sha: x\n  commitx: 1\n  commit: abc\n",
    "run:\n  inputs.x: 1\n",
    "provenance:\n  saved_at.x: 1\n  saved_at: '2024-01-01T00:00:00Z'\n",
    "run:\n  cwd: 0b\n  tags: 0x\n  error: 1_0\n",
    "run:\n  cwd: 0b2\n  error: 09\n  tags: 1e+5\n  signal: 1.e+5\n",
    "run:\n  cwd: 1:30\n",
    "run:\n  cwd: 12:30:45\n",
    "run:\n  cwd: 2024-1-1\n",
    "run:\n  cwd: 2024-01-01 1:00:00\n",
    "run:\n  cwd: 2024-02-30\n",
    "run:\n  cwd: <<\n",
    "run:\n  <<: {}\n",
    "run:\n  cwd: a'b\n  error: a\"b\n  tags: a\\b\n",
    "run:\n  cwd: a[b]{c},d\n",
    "run:\n  cwd: a%b@c`d\n",
    "run:\n  cwd: 'a\\'\n",
    'run:\n  cwd: "a\\"\n',
    "run:\n  cwd: a:b\n",
    "run:\n  cwd: a:\n",
    "run:\n  cwd: a :b\n",
    "run:\n  cwd: a  b\n",
    "run:\n  cwd: a \n",
    "run:\n  cwd: x\n  # c\n",
    "run:\n  cwd: x\n   # c\n",
    "run:\n  cwd: x # c\n",
    "run:\n  cwd:\n",
    "run:\n  cwd:\n  status: x\n",
    "run:\n  cwd: -\n",
    "run:\n  tags:\n  -\n",
    "run:\n  tags:\n  - \n",
    "run:\n  tags:\n  - - a\n",
    "run:\n  tags:\n  - a\n   - b\n",
    "run:\n  tags:\n   - a\n",
    "run:\n  config:\n     x: 1\n",
    "run:\n  config:\n    x: 1\n     y: 2\n",
    "run:\n  cwd: é\u00a0x\n",
    "run:\n  cwd: x\u0085y\n",
    "run:\n  cwd: x\u2028y\n",
    "run:\n  cwd: x\ty\n",
    "run:\n  cwd: x\r\n",
    "\ufeffrun:\n  cwd: x\n",
    "run:\n  cwd: x",
    "run:\n  cwd: x\nrun:\n",
    "run:\n  cwd: x\nrun: 5\n",
    "run: 5\nrun:\n  cwd: x\n",
    "run:\n  cwd: x\n\n",
    "run:\n  cwd: x\n  \n",
    "run:\n\n  cwd: x\n",
    "run:\n  cwd: 'x\n  y'\n",
    'run:\n  cwd: "x\n  y"\n',
    "run:\n  cwd: [a,\n    b]\n",
    "run:\n  cwd: &a x\n  error: *a\n",
    "run:\n  cwd: !!str x\n",
    "run:\n  cwd: !!int x\n",
    "'run':\n  cwd: x\n",
    '"git":\n  remotes: x\n',
    "run :\n  cwd: x\n",
    "run:\n  'cwd': x\n",
    "run:\n  cwd: x\ngit:\n  remotes: y\nprovenance:\n  format: 2\n",
    "git:\n  remotes:\n    origin: u\n  policy: {}\n",
    "git:\n  remotes: []\n  commit: abc\n  remotes: 1\n",
    "git:\n  yes: 1\n  null: 2\n  'on': 3\n",
    "git:\n- remotes\n",
    "git: []\n",
    "git: ''\n",
    "git:\n  remotes:\n    a:\n      b:\n        c:\n          d:\n            e: 1\n",
    "run:\n  status: failed\n  error:\n    type: X\n    message: 'it''s'\n",
    "exception:\n  type: X\nrun:\n  error: x\n",
    "a: '\nrun:\n  cwd: x'\n",
    "a: |\n  x\nrun:\n  cwd: y\n",
    "a: >\n  x\nrun:\n  cwd: y\n",
    "a: x\n  y\nrun:\n  cwd: z\n",
    "? run\n: x\n",
    "%YAML 1.1\n---\nrun:\n  cwd: x\n",
    "git:\n  commit: abc\n  " + "x: 1\n  " * 3000 + "branch: main\n",
    # nested about as deep as load allows (100 collections)
    *(
        "".join(f"{'  ' * i}k{i}:\n" for i in range(d)) + f"{'  ' * d}v: {{}}\n"
        for d in (98, 99, 100)
    ),
    *(f"a:\n{'- ' * d}{{}}\n" for d in (97, 98, 99)),
    *(f"run:\n  tags:\n  {'- ' * d}x\n" for d in (97, 98, 99)),
]


@pytest.mark.parametrize("shape", _SHAPES)
def test_a_shape_is_indexed_as_load_reads_it(shape: str) -> None:
    check_indexed_as_loaded(f"session_id: s1\n{shape}")


def _kedro(n: int) -> str:
    """A record in the shape the Kedro hooks save."""
    rng = random.Random(n)
    return dump(
        {
            "session_id": "s1",
            "project_path": "/home/ada/spaceflights",
            "run": {
                "status": rng.choice(["success", "failed"]),
                "pipeline_names": ["__default__"],
                "tags": [],
                "user": {"name": "Ada", "email": "ada@example.com"},
                "params": {"lr": rng.choice([0.1, 0.01]), "epochs": n, "opts": {"seed": 3}},
                "config": {"env": "local", "files": [{"path": "conf/p.yml", "digest": "ab12"}]},
                "inputs": [{"dataset": "companies", "version": None, "size": 1810000}],
                "started_at": "2026-03-27T00:00:00.004Z",
                "finished_at": "2026-03-27T00:03:36.267Z",
                "duration_s": 216.263,
                "nodes": {"total": 6, "completed": ["a_node", "b_node"], "failed": []},
                "failed_node": None,
                "error": None,
            },
            "git": {
                "commit_sha": "aaaaaaa",
                "dirty": bool(n % 2),
                "commit": "a" * 40,
                "branch": "main",
                "ahead": 1,
                "changes": [{"path": "src/model.py", "status": "modified"}],
                "remotes": {"origin": "https://github.com/example/spaceflights.git"},
                "describe": "v0.2.0-5-gaaaaaaa",
                "snapshot": None,
                "policy": {"dirty": "allow", "require_pushed": False},
            },
            "provenance": {
                "format": 2,
                "saved_at": "2026-03-27T00:03:36.467Z",
                "gitprov": "0.1.0",
                "host": {"hostname": "gpu-box-3", "python": "3.11.9"},
            },
        }
    ).decode()


_PIECES = [
    "0b",
    "0x",
    "1_0",
    ".inf",
    "1:30",
    "2024-01-01",
    "<<",
    "=",
    "~",
    "null",
    "yes",
    "[]",
    "{}",
    "[a]",
    "-",
    "-1",
    "|",
    ">",
    "'",
    '"',
    "%x",
    "@x",
    "?x",
    ",x",
    "x,",
    "a#b",
    "a:b",
    "a:_b",
    "x...",
    "0o7",
    "09",
    "1e+5",
    "1.e+5",
    "-.5",
    "+1",
    "-0",
    "1.",
    "_",
    "/a/b",
    "a'b",
    "a\\b",
    "Null",
    "NO",
    "inputs",
    "commit",
    "commit.x",
    "branch.y",
    "dirty.z",
    "git",
    "run",
    "provenance",
    "saved_at",
    "status",
    "started_at",
    "duration_s",
    "cwd",
    "tags",
    "...",
    "---",
    "{a: 1}",
    "a #b",
    "a: b",
    "- ",
    "!!str x",
    "&a x",
    "*a",
    "x y",
    "x  y",
    "x ",
    "'a''b'",
    '"a\\tb"',
    "é",
    "\x85",
    "\u2028",
    "\t",
    "\r",
    "\ufeff",
    " ",
    "  ",
    "#c",
    "... ",
    "1" * 4400,
    "k" * 1030,
]


def _mutated(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(lines))
        line, piece, how = lines[at], rng.choice(_PIECES), rng.random()
        if how < 0.3:  # a piece put into a line
            cut = rng.randint(0, len(line))
            lines[at] = line[:cut] + piece + line[cut:]
        elif how < 0.5 and ": " in line:  # a value replaced
            lines[at] = f"{line.partition(': ')[0]}: {piece}"
        elif how < 0.65:  # a line added
            indent = " " * rng.choice([0, 1, 2, 3, 4, 6])
            added = rng.choice([f"{piece}: {rng.choice(_PIECES)}", f"- {piece}", f"{piece}:"])
            lines.insert(at, indent + added)
        elif how < 0.75:  # a line repeated
            lines.insert(at, lines[rng.randrange(len(lines))])
        elif how < 0.85:
            del lines[at]
        else:  # indented otherwise
            lines[at] = " " * rng.choice([0, 1, 3]) + line.lstrip(" ")
    return "\n".join(lines)


def test_mutated_records_are_indexed_as_load_reads_them() -> None:
    rng = random.Random(15)
    small = (
        "session_id: s1\nrun:\n  status: ok\n  inputs: x\n  cwd: /a\ngit:\n  commit: abc\n"
        "  remotes:\n    origin: u\nprovenance:\n  format: 2\n  saved_at: '2024-01-01T00:00:00Z'\n"
    )
    texts = [small, *(_kedro(n) for n in range(4))]
    for _ in range(1500):
        check_indexed_as_loaded(_mutated(rng, rng.choice(texts)))


# -- answers: the index's SQL against the records read one by one ---------------------------

_ODD_VALUES = [
    ".nan", ".inf", "-.inf", "-0.0", "0.0", "0", "1", "1.0", "true", "'true'", "null", "'1'",
    "2024-01-02", "'2024-01-02T00:00:00Z'", "2024-01-02 10:00:00", "1" + "0" * 30,
    str(2**63), str(2**63 - 1), "9007199254740993", "abc", "'abc '", "[]", "{}", "[1, 2]",
    "1.0e+308", "''", "0x1f", "0o7", "1_000", "'-0'", "'nan'", "é",
]  # fmt: skip
_ASKED = [
    "1", "1.0", "0", "-0", "nan", "inf", "-inf", "true", "null", "2024-01-02", "abc", "",
    "9007199254740992", "9223372036854775807", "1e30", "1e+30", "é", "[]", "31", "1000",
]  # fmt: skip


def test_where_answers_as_each_record_read_whole(repo: Any) -> None:
    """Every operator on odd values, under a key as written and under ``run.`` (both
    present in some records: the written one decides), with and without a status and a
    limit, answers what testing each record read whole answers."""
    from gitprov.audit.compare import flatten_record
    from gitprov.audit.log import SessionLog
    from gitprov.git import Git
    from gitprov.index import open_index
    from gitprov.index.api import OPS, Condition, Query
    from gitprov.index.query import _Test
    from gitprov.store.records import RecordStore

    rng = random.Random(8)
    store = RecordStore(Git.discover(repo))
    for n, value in enumerate(_ODD_VALUES * 2):
        other = rng.choice(_ODD_VALUES)
        lines = [f"session_id: s{n}", f"params:\n  x: {value}" if n % 3 else "params: {}"]
        lines.append(f"run:\n  status: {rng.choice(['success', 'failed'])}")
        lines.append(f"  started_at: '2024-01-01T00:00:{n:02d}Z'")
        if n % 2:
            lines.append(f"  params:\n    x: {other}")
        store.save(f"s{n}", ("\n".join(lines) + "\n").encode())
    log = SessionLog(repo)
    flat = {sid: flatten_record(record) for sid, record in log.items()}
    index = open_index(log)
    wrong, matched = [], 0
    for key in ("params.x", "run.params.x"):
        for op in OPS:
            for asked in _ASKED:
                condition = Condition(key, op, asked)
                test = _Test(condition)
                for status, limit in (((), None), (("failed",), None), ((), 3)):
                    want = sorted(
                        sid
                        for sid, leaves in flat.items()
                        if test.record(leaves)
                        and (not status or leaves.get("run.status") in status)
                    )
                    matched += len(want)
                    got = [e.session_id for e in index.query(Query((condition,), status=status))]
                    if limit is not None:
                        few = index.query(Query((condition,), status=status, limit=limit))
                        ok = {e.session_id for e in few} <= set(want) and len(few) == min(
                            limit, len(want)
                        )
                    else:
                        ok = sorted(got) == want
                    if not ok:
                        wrong.append((key, op, asked, status, limit, sorted(got), want))
    assert not wrong, wrong[:5]
    assert len(flat) == 2 * len(_ODD_VALUES) and matched > 1000, matched


def test_where_answers_follow_fetched_copies_forgets_and_two_indexes(tmp_path: Any) -> None:
    """The record standing for a session (local first, a copy that parses over one that
    does not, none once forgotten) is the one conditions test, as ``SessionLog`` reads
    it; two indexes of one file, each catching up after the other wrote, agree."""
    from gitprov.audit.compare import flatten_record
    from gitprov.audit.log import SessionLog
    from gitprov.git import Git
    from gitprov.index.api import Condition, Query
    from gitprov.index.query import QueryIndex, _Test
    from gitprov.store.records import RecordStore

    from conftest import git, make_repo

    mine, theirs = make_repo(tmp_path / "mine"), make_repo(tmp_path / "theirs")

    def save(where: Any, sid: str, x: str, status: str = "success") -> None:
        text = f"session_id: {sid}\nparams:\n  x: {x}\nrun:\n  status: {status}\n"
        RecordStore(Git.discover(where)).save(sid, text.encode())

    def fetch() -> None:
        git(mine, "fetch", "-q", str(theirs), "+refs/provenance/sessions:" + TRACKING)

    conditions = [Condition("params.x", op, v) for op in ("=", "!=", ">") for v in ("1", "2")]

    def check(index: QueryIndex) -> None:
        log = SessionLog(mine)
        flat = {sid: flatten_record(record) for sid, record in log.items(broken={})}
        for condition in conditions:
            for status in ((), ("failed",)):
                want = sorted(
                    sid
                    for sid, leaves in flat.items()
                    if _Test(condition).record(leaves)
                    and (not status or leaves.get("run.status") in status)
                )
                got = index.query(Query((condition,), status=status))
                assert sorted(e.session_id for e in got) == want, (condition, status)

    one = QueryIndex(Git.discover(mine), SessionLog(mine).ref)
    two = QueryIndex(Git.discover(mine), SessionLog(mine).ref)
    save(mine, "shared", "1")
    save(theirs, "shared", "2", "failed")
    save(theirs, "theirs", "2", "failed")
    save(theirs, "broken-here", "1")
    RecordStore(Git.discover(mine)).save("broken-here", b"session_id: broken-here\nx: [\n")
    fetch()
    check(one)
    save(mine, "new", "2")
    check(two)
    SessionLog(mine).forget(["shared"], "gone")  # their copy is hidden too
    check(one)
    SessionLog(theirs).forget(["theirs"], "gone")
    save(theirs, "later", "1", "failed")
    fetch()
    check(two)
    check(one)
    save(mine, "shared2", "1")
    check(one)
    check(two)
    one.close()
    two.close()


TRACKING = "refs/provenance/remotes/origin/sessions"
