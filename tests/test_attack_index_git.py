"""Attack pass on the query index and the fast record reader (helper A2): what a record
read through ``SessionLog`` (fastyaml.parse_record) must equal ``model.document.load`` of
the same bytes, the index must survive gc/repack/forget, and never hold a raw secret."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

import gitprov
from gitprov.audit.log import SessionLog
from gitprov.errors import CorruptRecordError
from gitprov.git import Git
from gitprov.index import fastyaml
from gitprov.index.fastyaml import parse_record
from gitprov.model.document import load
from gitprov.store.records import RecordStore

from conftest import cli, git


def save(repo: Path, session_id: str, data: bytes) -> None:
    RecordStore(Git.discover(repo)).save(session_id, data)


def outcome(read: Any, data: bytes, sid: str) -> Any:
    try:
        return read(data, sid, f"ref:{sid}.yaml")
    except CorruptRecordError:
        return "refused"


def nested(depth: int, leaf: str) -> bytes:
    """``depth`` nested mappings, the innermost holding ``leaf``."""
    lines = [f"{'  ' * at}k:" for at in range(depth - 1)]
    lines.append(f"{'  ' * (depth - 1)}k: {leaf}")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("leaf", ["{}", "[]"])
def test_an_empty_collection_one_level_past_the_depth_limit_is_refused_as_load_does(
    repo: Path, leaf: str
) -> None:
    data = nested(100, leaf)  # 100 mappings + the empty one: 101 levels
    assert outcome(load, data, "s1") == "refused"
    save(repo, "s1", data)
    assert outcome(parse_record, data, "s1") == "refused"
    with pytest.raises(CorruptRecordError):
        SessionLog(repo).get("s1")


def test_at_the_depth_limit_both_readers_agree(repo: Path) -> None:
    for depth, leaf in ((99, "{}"), (100, "1"), (101, "1")):
        data = nested(depth, leaf)
        assert outcome(parse_record, data, "s1") == outcome(load, data, "s1"), depth


def test_more_nodes_than_the_limit_on_few_lines_are_left_to_load() -> None:
    """A line of n ``- `` opens n sequences: the fast reader must not build what load
    refuses (MAX_YAML_NODES), but hand it over."""
    data = "a:\n" + ("- " * 50 + "1\n") * 20_000  # 1,020,002 nodes, 2 MB
    # load refuses it (checked once by hand: 12 s here, too slow for the suite)
    with pytest.raises(fastyaml.Unrecognised):
        fastyaml.read(data)


HOSTILE_SHAPES = [
    "a: 1\na: 2\n",  # duplicate keys: the last wins in both
    "1: a\ntrue: b\n",  # keys equal in Python
    "'a: b': 1\n'c '': d': 2\n",  # ': ' inside a quoted key
    "<<: 1\n",  # a merge key
    "<<:\n  a: 1\n",
    "yes: 1\nno: 2\nnull: 3\n~: 4\nOn: 5\n1.5: 6\n0x1F: 7\n0o7: 8\n",
    "a: " + "x" * 200_000 + "\n",  # a very long line
    "...: 1\n",
    "a: b\n...\n",
    "a: b\n---\nc: d\n",
    "a:\n- 1\n- - 2\n  - 3\n- k: v\n  j: w\n",
    "a: 1:20\nb: .inf\nc: =\nd: 2001-01-01\ne: 1_000\nf: +1\ng: 00\n",
    "session_id: s1\ngit: x\n",
    "session_id: s1\ngit: []\n",
    "session_id: s1\ngit: ''\n",
    "session_id: s2\n",
    "a: b #c\n",
    "a: 'b' \n",
    "a#b: c\n",
    "a:\n  b: 1\n c: 2\n",
    "a: |\n  x\n",
    "a: !!str 1\n",
    "a: &x 1\nb: *x\n",
]


def test_shapes_a_hostile_copy_may_hold_read_as_load_reads_them(repo: Path) -> None:
    for n, text in enumerate(HOSTILE_SHAPES):
        data = text.encode()
        assert outcome(parse_record, data, "s1") == outcome(load, data, "s1"), text[:60]
        sid = f"s{n}x"
        save(repo, sid, data.replace(b"session_id: s1", f"session_id: {sid}".encode()))
    log = SessionLog(repo)
    for n, text in enumerate(HOSTILE_SHAPES):
        sid = f"s{n}x"
        data = text.replace("session_id: s1", f"session_id: {sid}").encode()
        try:
            got: Any = log.get(sid)
        except CorruptRecordError:
            got = "refused"
        assert got == outcome(load, data, sid), text[:60]


TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def test_no_raw_secret_reaches_list_report_or_the_index_file(repo: Path, tmp_path: Path) -> None:
    secrets = {"api_token": TOKEN, "db": {"password": "hunter2"}, "url": "https://u:hunter2@x.org"}
    with gitprov.record(path=repo, params=secrets, metrics={"token_m": TOKEN}):
        pass
    ran = cli("-C", str(repo), "run", "--", "true", "--password=hunter2", "--token", TOKEN)
    assert ran.returncode == 0, ran.stderr
    columns = "params.api_token,params.db.password,params.url,metrics.token_m,what"
    shown = [
        cli("-C", str(repo), "list", "--columns", columns),
        cli("-C", str(repo), "list", "--format", "json", "--columns", columns),
        cli("-C", str(repo), "list", "--format", "csv", "--columns", columns),
        cli("-C", str(repo), "report", "-o", str(tmp_path / "r.html")),
    ]
    assert all(out.returncode == 0 for out in shown)
    texts = [out.stdout + out.stderr for out in shown]
    texts.append((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert "***" in texts[1]  # the redacted values are there, as stars
    for text in texts:
        assert "hunter2" not in text and TOKEN not in text and "ghp_" not in text
    files = list((repo / ".git" / "gitprov").glob("index*.sqlite*"))
    assert files
    with sqlite3.connect(files[0]) as db:
        dump = "\n".join(db.iterdump())
    for raw in [dump.encode(), *(f.read_bytes() for f in files)]:
        assert b"hunter2" not in raw and TOKEN.encode() not in raw


def listed(repo: Path, *args: str, racing: bool = False) -> list[dict[str, Any]]:
    """``list --format json``'s answer; while racing ``gc --prune=now`` (which git says
    is unsafe beside writers), a save may be spooled, and list says so."""
    out = cli("-C", str(repo), "list", "--format", "json", *args, process=True)
    warned = [line for line in out.stderr.splitlines() if not (racing and "spooled" in line)]
    assert out.returncode == 0 and not warned, out.stderr
    found: list[dict[str, Any]] = json.loads(out.stdout)
    return found


def test_saves_and_lists_under_gc_and_repack_then_forget_and_prune(repo: Path) -> None:
    """gc/repack/maintenance in a loop while records are saved and listed: each list holds
    every record an earlier one did, once each, with its own values; after ``forget`` and a
    prune (the indexed commit gone), exactly the others."""
    saved: list[str] = []
    with gitprov.record(path=repo, params={"i": -1}, metrics={"m": -2}) as first:
        pass
    saved.append(str(first.session_id))
    stop = threading.Event()

    def churn() -> None:
        tasks = (["repack", "-ad", "-q"], ["gc", "--prune=now", "--quiet"], ["pack-refs", "--all"])
        while not stop.is_set():
            for task in (*tasks, ["maintenance", "run", "--task=gc", "--quiet"]):
                subprocess.run(["git", "-C", str(repo), *task], capture_output=True, check=False)

    def save_many() -> None:
        for i in range(30):
            with gitprov.record(path=repo, params={"i": i}, metrics={"m": 2 * i}) as run:
                pass
            saved.append(str(run.session_id))

    threads = [threading.Thread(target=churn), threading.Thread(target=save_many)]
    for thread in threads:
        thread.start()
    before: set[str] = set()
    lists = 0
    try:
        while threads[1].is_alive():
            lists += 1
            rows = listed(repo, "--columns", "params.i,metrics.m", racing=True)
            sids = [row["session_id"] for row in rows]
            assert len(sids) == len(set(sids)) and before <= set(sids)
            assert all(row["metrics.m"] == 2 * row["params.i"] for row in rows)
            before = set(sids)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert lists >= 2  # the listing raced the saves
    assert cli("-C", str(repo), "recover").returncode == 0  # what a pruning gc spooled
    assert sorted(row["session_id"] for row in listed(repo)) == sorted(saved)
    gone = saved[::3]
    assert cli("-C", str(repo), "forget", *gone, "--reason", "test").returncode == 0
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "--prune=now", "--quiet")
    rows = listed(repo, "--columns", "params.i")
    assert sorted(row["session_id"] for row in rows) == sorted(set(saved) - set(gone))


def test_report_with_dash_c_writes_its_default_file_in_that_folder(
    repo: Path, tmp_path: Path
) -> None:
    with gitprov.record(path=repo):
        pass
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = cli("-C", str(repo), "report", cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    assert (repo / "gitprov-report.html").exists()
    assert not (elsewhere / "gitprov-report.html").exists()


def test_a_first_build_killed_midway_then_listed_again_is_whole_and_quiet(
    tmp_path: Path,
) -> None:
    """kill -9 of ``list`` while it builds the index of 600 records, at a few points:
    the next list gives the same answer as a build never interrupted, and no warning."""
    import os
    import signal
    import sys
    import time

    bench = Path(__file__).parents[1] / "bench" / "bench_query.py"
    built = subprocess.run(
        [sys.executable, str(bench), "--build-only", "--records", "600", "--dir", str(tmp_path)],
        capture_output=True,
        check=True,
    )
    assert built.returncode == 0
    repo = tmp_path / "flat-600" / "repo"
    files = repo / ".git" / "gitprov"
    whole = listed(repo)
    took = 0.0
    for point in (0.0, 0.4, 0.8):
        for old in files.glob("index*"):
            old.unlink()
        if point == 0.0:  # the time a whole build takes, from a fresh one
            start = time.monotonic()
            assert listed(repo) == whole
            took = time.monotonic() - start
            continue
        cmd = [sys.executable, "-m", "gitprov", "-C", str(repo), "list"]
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(took * point)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert listed(repo) == whole, point
