"""``gitprov which`` (issue 14) with 100,000 records stored, against ``git ls-tree`` of one
fanout bucket of the records ref, both timed as whole processes.

Run it with ``.venv/bin/python bench/bench_which.py`` (``--records N``, ``--rounds N``,
``--keep``). The fixture is one ``git fast-import`` stream (as ``bench_sync.py`` writes
its own, whose helpers this imports): a code commit, then one records commit holding
``FORMAT``, the records (each writing one output, with its own digest) and their digest
index entries ``digests/<aa>/<hex>/<yy>/<id>``, laid out as a save writes them. Before
anything is timed, ``SessionLog.which`` must find the one session of a digest.

Verdict: median(``gitprov which sha256:...``) / median(``git ls-tree <ref>:<bucket>``),
interleaved rounds, limit 2. Extras, for reading the verdict: the same ``which`` with 1
record stored (the index makes it O(1) in the number of records), ``gitprov --version`` (a
Python process's start-up, imports included: the floor under any command), and
``SessionLog.which`` in-process against the same ``git ls-tree``.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from pathlib import Path

from bench_digest import compare
from bench_sync import data, git, in_scratch, session_id
from gitprov import SessionLog
from gitprov.git import Git
from gitprov.model.document import dump
from gitprov.store import records as gp_storage

RECORDS = 100_000
GITPROV = [sys.executable, "-m", "gitprov"]


def digest_of(n: int) -> str:
    return "sha256:" + hashlib.sha256(b"output %d" % n).hexdigest()


def record_bytes(sid: str, n: int, commit: str) -> bytes:
    """A record as a run that wrote one output saves it."""
    stamp = f"2026-01-01T00:00:00.{n % 1000:03d}Z"
    output = {
        "dataset": "model",
        "type": "text.TextDataset",
        "path": f"data/06_models/model-{n}.txt",
        "version": None,
        "digest": digest_of(n),
        "size": 100,
    }
    return dump(
        {
            "session_id": sid,
            "run": {"status": "success", "started_at": stamp, "outputs": [output], "inputs": []},
            "git": {"commit_sha": commit[:7], "dirty": False, "commit": commit, "branch": "main"},
            "provenance": {"format": 1, "saved_at": stamp},
        }
    )


def build(repo: Path, records: int) -> None:
    """A repository with ``records`` records, each indexed under its output's digest."""
    git(repo.parent, "init", "-q", "-b", "main", str(repo))
    out = bytearray(b"commit refs/heads/main\ncommitter Bench <b@example.com> 1700000000 +0000\n")
    out += data(b"code") + b"M 100644 inline app.py\n" + data(b"print(1)\n")
    git(repo, "fast-import", "--quiet", input=bytes(out))
    commit = git(repo, "rev-parse", "main").strip()
    out = bytearray(b"blob\nmark :1\n" + data(b""))  # the empty file, for the index
    out += b"commit refs/provenance/sessions\n"
    out += b"committer gitprov <gitprov@localhost> 0 +0000\n"
    out += data(b"gitprov: records")
    out += b"M 100644 inline FORMAT\n" + data(gp_storage.FORMAT_TEXT)
    for n in range(records):
        sid = session_id(n)
        hex_digest = digest_of(n).removeprefix("sha256:")
        out += f"M 100644 inline {gp_storage.record_path(sid)}\n".encode()
        out += data(record_bytes(sid, n, commit))
        index = f"{gp_storage.DIGESTS_DIR}/{gp_storage.index_path(hex_digest, sid)}"
        out += f"M 100644 :1 {index}\n".encode()
    git(repo, "fast-import", "--quiet", input=bytes(out))


def check(repo: Path, records: int) -> None:
    """The fixture answers as a store of real saves would."""
    n = records // 2
    found = SessionLog(repo).which(digest_of(n))
    assert [(m.session_id, m.role) for m in found] == [(session_id(n), "output")], found
    assert SessionLog(repo).which("sha256:" + "0" * 64) == []


def process(*args: str) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(tmp: Path, records: int, rounds: int) -> int:
    started = time.perf_counter()
    big, small = tmp / "big", tmp / "small"
    build(big, records)
    build(small, 1)
    check(big, records)
    check(small, 1)
    print(f"fixture: {records} records, built and checked in {time.perf_counter() - started:.1f}s")
    n = records // 2
    digest = digest_of(n)
    bucket = f"refs/provenance/sessions:{gp_storage.fanout(session_id(n))}"
    listed = len(git(big, "ls-tree", bucket).splitlines())
    print(f"anchor: git ls-tree {bucket} ({listed} entries)")
    which = [*GITPROV, "-C", str(big), "which", digest]
    ls_tree = ["git", "-C", str(big), "ls-tree", bucket]
    print(f"ours: {' '.join(which)}")
    compare(
        f"gitprov which, {records} records (whole process) vs git ls-tree of one bucket",
        lambda: process(*which),
        lambda: process(*ls_tree),
        rounds,
        2.0,
    )
    print("[extra] lines below have no verdict of their own")
    compare(
        f"gitprov which, {records} records vs 1 record (whole processes)",
        lambda: process(*which),
        lambda: process(*GITPROV, "-C", str(small), "which", digest_of(0)),
        rounds,
        1.2,
    )
    compare(
        "gitprov --version (start-up alone) vs git ls-tree of one bucket",
        lambda: process(*GITPROV, "--version"),
        lambda: process(*ls_tree),
        rounds,
        2.0,
    )
    log = SessionLog(Git.discover(big))
    compare(
        f"SessionLog.which in-process, {records} records vs git ls-tree of one bucket",
        lambda: log.which(digest),
        lambda: process(*ls_tree),
        rounds,
        2.0,
    )
    return 0  # a missed target is reported, not failed (see README)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    args = parser.parse_args()
    return in_scratch("which", args.keep, lambda tmp: run(tmp, args.records, args.rounds))


if __name__ == "__main__":
    sys.exit(main())
