"""Attacks on the query index under load (FORMAT 9: leaves a field says are bits of
``recs.cols``; a big first build parses in processes): a build interrupted or killed in
its parsing processes, readers beside savers and git's maintenance, older, truncated or
locked files, and a hostile fetched copy."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import gitprov
from gitprov.audit.log import SessionLog
from gitprov.git import Git
from gitprov.store.records import RecordStore

from conftest import cli, git, make_repo

#: ``gitprov`` with a big first build made of any size (as tests/test_index.py's
#: rebuilt_in_processes does in-process).
SMALL_BIG = textwrap.dedent(
    """
    import sys
    import gitprov.index.query as q
    q._PARALLEL, q._CHUNK, q._BATCH = 8, 16, 64
    from gitprov.cli import main
    main(sys.argv[1:], prog_name="gitprov")
    """
)
COLUMNS = "run.status,run.duration_s,git.dirty,git.commit,params.lr"
TRACKING = "refs/provenance/remotes/origin/sessions"


def ok(repo: Path, *args: str) -> str:
    out = cli("-C", str(repo), *args, process=True)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    return str(out.stdout)


def answers(repo: Path) -> list[str]:
    """What the attacks compare: the listing, its said columns, and conditions on them,
    each condition's answer checked against the columns listed."""
    found = [
        ok(repo, "list", "--format", "ids"),
        ok(repo, "list", "--format", "json", "--columns", COLUMNS),
        ok(repo, "list", "--format", "ids", "--where", "run.status=failed"),
        ok(
            repo,
            "list",
            "--format",
            "ids",
            "--where",
            "git.dirty=true",
            "--where",
            "params.lr=0.01",
        ),
    ]
    rows = json.loads(found[1])
    assert [row["session_id"] for row in rows] == found[0].split()
    failed = [r["session_id"] for r in rows if r.get("run.status", r["status"]) == "failed"]
    assert found[2].split() == failed
    dirty = [
        r["session_id"] for r in rows if r.get("git.dirty") is True and r.get("params.lr") == 0.01
    ]
    assert found[3].split() == dirty
    return found


def fresh(repo: Path) -> list[str]:
    for old in (repo / ".git" / "gitprov").glob("index*"):
        old.unlink()
    return answers(repo)


def group(pgid: int) -> list[tuple[int, str]]:
    """The live (not zombie) processes of the process group ``pgid``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[2]) == pgid and stat[0] != "Z":
            found.append((int(pid), stat[0]))
    return found


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1500 records written by git fast-import (bench_query's fixture)."""
    where = tmp_path_factory.mktemp("many")
    bench = Path(__file__).parents[1] / "bench" / "bench_query.py"
    args = [sys.executable, str(bench), "--build-only", "--records", "1500", "--dir", str(where)]
    subprocess.run(args, capture_output=True, check=True)
    return where / "flat-1500" / "repo"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_build_in_parsing_processes_stopped_leaves_none_and_resumes_whole(
    many: Path, sig: int
) -> None:
    """Ctrl-C (SIGINT to the whole group) or kill -9 of ``list`` while its parsers run:
    it ends (an interrupted pool once waited for ever for the batches its dead parsers
    dropped), no parser stays, and the next answers are a fresh build's."""
    expected = fresh(many)
    assert sorted(ok(many, "list", "--format", "ids").split()) == SessionLog(many).ids()
    for point in (0.3, 0.6):
        for old in (many / ".git" / "gitprov").glob("index*"):
            old.unlink()
        child = subprocess.Popen(
            [sys.executable, "-c", SMALL_BIG, "-C", str(many), "list"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while len(group(child.pid)) < 3 and child.poll() is None:  # parsers started
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(point)
        os.killpg(child.pid, sig)
        try:
            _, err = child.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            pytest.fail(f"list hung after {signal.Signals(sig).name}")
        while group(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group(child.pid) == []
        if sig == signal.SIGINT:  # the interrupt is what is said, not its cat-file's end
            assert b"Traceback" not in err and b"cat-file" not in err, err.decode()
        assert answers(many) == expected, point
        assert cli("-C", str(many), "verify", process=True).returncode == 0


def _saver(repo: Path, count: int, seed: int) -> subprocess.Popen[str]:
    """A process saving ``count`` runs, a third failed; ids its own (two processes minting an
    id in one millisecond collide: the second save is refused and spooled)."""
    code = textwrap.dedent(
        f"""
        import gitprov
        for i in range({count}):
            try:
                lr = [0.1, 0.01][i % 2]
                with gitprov.record({str(repo)!r}, f"s{seed}-{{i:02d}}", params={{"lr": lr}}):
                    if (i + {seed}) % 3 == 0:
                        raise ValueError("boom")
            except ValueError:
                pass
        """
    )
    return subprocess.Popen([sys.executable, "-c", code], text=True, stderr=subprocess.PIPE)


def test_readers_beside_savers_and_maintenance_see_snapshots(repo: Path) -> None:
    """``list --where``/``--columns`` in a loop beside two saving processes and repack,
    gc and maintenance: each answer exits 0, lists only saved ids, once each, with the
    failed ones failed; at the end the index is what a fresh build says."""
    stop = threading.Event()

    def churn() -> None:
        tasks = (["repack", "-adq"], ["gc", "--prune=now", "--quiet"])
        while not stop.is_set():
            for task in (*tasks, ["maintenance", "run", "--task=gc", "--quiet"]):
                subprocess.run(["git", "-C", str(repo), *task], capture_output=True, check=False)

    savers = [_saver(repo, 20, seed) for seed in (0, 1)]
    churner = threading.Thread(target=churn)
    churner.start()
    reads = 0
    try:
        while any(s.poll() is None for s in savers) or reads < 3:
            reads += 1
            args = ("list", "--format", "json", "--columns", "run.duration_s,git.dirty,params.lr")
            out = cli("-C", str(repo), *args, "--where", "run.status=failed", process=True)
            assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
            rows = json.loads(out.stdout)
            sids = [row["session_id"] for row in rows]
            assert len(sids) == len(set(sids))
            saved = set(SessionLog(repo).ids())
            assert set(sids) <= saved
            assert all(row["status"] == "failed" for row in rows)
            assert all(isinstance(row["run.duration_s"], float) for row in rows)
            assert all(row["git.dirty"] in (True, False) for row in rows)
    finally:
        stop.set()
        churner.join()
        for saver in savers:
            saver.wait()
    assert all(s.returncode == 0 for s in savers), [s.stderr.read() for s in savers if s.stderr]
    ok(repo, "recover")  # what a pruning gc spooled beside a save
    held = answers(repo)
    assert len(held[0].split()) == 40
    assert held == fresh(repo)


def _some_runs(repo: Path) -> None:
    for i in range(6):
        try:
            with gitprov.record(path=repo, params={"lr": [0.1, 0.01][i % 2]}):
                (repo / "README.md").write_text(f"edit {i}\n" if i % 4 < 2 else "hello\n")
                if i % 3 == 0:
                    raise ValueError("boom")
        except ValueError:
            pass


@pytest.mark.parametrize("damage", ["format 8", "truncated", "locked"])
def test_an_older_truncated_or_locked_file_answers_the_same(repo: Path, damage: str) -> None:
    _some_runs(repo)
    expected = fresh(repo)
    path = repo / ".git" / "gitprov" / "index.sqlite"
    holder = None
    if damage == "format 8":
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA user_version = 8")
    elif damage == "truncated":
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    else:
        with gitprov.record(path=repo, params={"lr": 0.1}):
            pass  # the index must write to catch up: it cannot, and bypasses the file
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
    try:
        out = cli("-C", str(repo), "list", "--format", "json", "--columns", COLUMNS, process=True)
    finally:
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    warnings = out.stderr.splitlines()
    assert len(warnings) == {"format 8": 0, "truncated": 1, "locked": 1}[damage], out.stderr
    if damage == "locked":
        assert "locked" in out.stderr
        assert len(json.loads(out.stdout)) == len(json.loads(expected[1])) + 1
        expected = fresh(repo)
    else:
        assert out.stdout == expected[1]
    assert answers(repo) == expected
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 9


HOSTILE = {
    # status of odd types, duration a text, commit a number, keys spelt with dots
    "h-status": "session_id: h-status\nrun: {status: [failed], duration_s: '12.5'}\n"
    "git: {commit: 12345, dirty: 'yes'}\n",
    "h-dots": "session_id: h-dots\nrun.status: failed\ngit.dirty: true\n'params.lr': 0.01\n"
    "run: {duration_s: .nan, status: failed}\n",
    "h-secret": "session_id: h-secret\nrun: {status: failed}\nparams:\n  password: hunter2\n"
    "  aws: AKIAIOSFODNN7EXAMPLE\n",
    "shared": "session_id: shared\nrun: {status: failed, duration_s: 99.0}\ngit: {dirty: true}\n"
    "params: {lr: 0.01}\n",
}


def test_a_hostile_fetched_copy_the_local_record_wins(tmp_path: Path) -> None:
    mine = make_repo(tmp_path / "mine")
    theirs = make_repo(tmp_path / "theirs")
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    for sid, text in HOSTILE.items():
        RecordStore(Git.discover(theirs)).save(sid, text.encode())
    git(theirs, "push", "-q", str(bare), "refs/provenance/sessions:refs/provenance/sessions")
    RecordStore(Git.discover(mine)).save(
        "shared", b"session_id: shared\nrun: {status: success, duration_s: 1.5}\n"
    )
    git(mine, "fetch", "-q", str(bare), f"+refs/provenance/sessions:{TRACKING}")
    listed = {
        row["session_id"]: row
        for row in json.loads(
            ok(mine, "list", "--format", "json", "--columns", "run.status,run.duration_s")
        )
    }
    assert sorted(listed) == SessionLog(mine).ids() == sorted(HOSTILE)
    assert listed["shared"]["status"] == "success" and listed["shared"]["run.duration_s"] == 1.5
    assert listed["h-status"]["run.status"] == ["failed"]
    assert listed["h-status"]["run.duration_s"] == "12.5"
    failed = ok(mine, "list", "--format", "ids", "--where", "run.status=failed").split()
    assert sorted(failed) == ["h-dots", "h-secret"]
    assert ok(mine, "list", "--format", "ids", "--where", "git.dirty=true").split() == ["h-dots"]
    assert ok(mine, "list", "--format", "ids", "--where", "git.commit=12345").split() == [
        "h-status"
    ]
    assert answers(mine) == fresh(mine)
    assert cli("-C", str(mine), "verify", process=True).returncode in (0, 1)
