"""Sync speed: ``gitprov sync`` of two 20k-record histories that differ by 10 records,
against plain git moving the same refs both ways between the same repositories.

Run it with ``.venv/bin/python bench/bench_sync.py`` (``--rounds N``, ``--keep``). The
machine is shared and noisy, so the verdict is a ratio measured in one run: each round
times, on fresh copies of the local clone and of its bare remote, ``git fetch`` of both
provenance refs into tracking refs plus ``git push`` of both local refs (under other names,
so git takes them), and on other fresh copies ``Sync.sync`` (what ``gitprov sync`` runs:
fetch, merge, push); the order alternates from round to round. Target:
median(sync) / median(git fetch + push) <= 3.

The fixture is written by one ``git fast-import`` stream, not by 20,000 saves: 50 code
commits on ``main``; the records ref as gitprov writes it (the fixed root commit holding
``FORMAT``, then one commit per session, adding ``<xx>/<id>.yaml`` and pinning the code
commit it ran on as an extra parent); the notes ref with one ``xx/<38hex>`` note per code
commit, its lines sorted. A bare remote and a clone are copied from it, and each then saves
5 more sessions through gitprov's own save (records, note, pin), so the two histories hold
20,000 records each and differ by 10.

Forget (``--forget-rounds N``, default 5; 0 skips it): ``SessionLog.forget`` of the oldest
record of the local clone (the worst case: every later commit of the 20,000 is rewritten;
the record half-way in is timed too, as an extra) on a fresh copy, against a ``git fetch``
of both refs of that history from the bare remote into a fresh empty repository, the order
alternating. Target: median(forget) / median(fetch) <= 3.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gitprov import SessionLog
from gitprov.git import Git
from gitprov.model.document import dump
from gitprov.store import notes as gp_notes
from gitprov.store import records as gp_storage
from gitprov.sync.engine import Sync
from gitprov.sync.remote import resolve_remote

CODE_COMMITS = 50
RECORDS = 20_000
EACH_SIDE = 5
REFSPECS = [
    "refs/provenance/sessions:refs/provenance/remotes/origin/sessions",
    "refs/notes/provenance:refs/notes/remotes/origin/provenance",
]
#: The anchor's push: both local refs, under names the remote takes without a merge.
PUSHSPECS = [
    "refs/provenance/sessions:refs/bench/sessions",
    "refs/notes/provenance:refs/bench/provenance",
]


def isolate(tmp: Path) -> None:
    """No inherited GIT_* variable and no user or system git config."""
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        del os.environ[key]
    home = tmp / "home"
    home.mkdir()
    os.environ.update(
        {
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "LC_ALL": "C",
            "GIT_AUTHOR_NAME": "Bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com",
        }
    )


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode()


def data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


def session_id(n: int) -> str:
    """A Kedro-style id, one every 37 seconds."""
    stamp = dt.datetime(2026, 1, 1) + dt.timedelta(seconds=37 * n)
    return stamp.strftime("%Y-%m-%dT%H.%M.%S.") + f"{n % 1000:03d}Z"


def record_bytes(sid: str, commit: str) -> bytes:
    return dump(
        {
            "session_id": sid,
            "username": "bench",
            "cli": {"command_path": "kedro run", "args": []},
            "git": {"commit_sha": commit[:7], "dirty": False, "commit": commit, "branch": "main"},
            "provenance": {"format": 1, "saved_at": "2026-01-01T00:00:00.000Z"},
        }
    )


def build_fixture(repo: Path, base_records: int) -> None:
    """Code, records and notes, as described in the module docstring, in one stream."""
    repo.mkdir()
    git(repo, "init", "-q", "--bare")
    out = bytearray()
    ident = b"Bench <bench@example.com>"
    for c in range(CODE_COMMITS):
        out += b"commit refs/heads/main\nmark :%d\n" % (c + 1)
        out += b"committer %s %d +0000\n" % (ident, 1_700_000_000 + c)
        out += data(b"code %d" % c)
        out += b"M 100644 inline app.py\n" + data(b"print(%d)\n" % c)
    git(repo, "fast-import", "--quiet", input=bytes(out))
    code = git(repo, "rev-list", "--reverse", "main").split()
    out = bytearray()
    out += b"commit refs/provenance/sessions\n"  # later commits on it chain on their own
    out += b"committer gitprov <gitprov@localhost> 0 +0000\n"
    out += data(b"gitprov: start provenance records")
    out += b"M 100644 inline FORMAT\n" + data(gp_storage.FORMAT_TEXT)
    lines: dict[int, list[str]] = {}
    for n in range(base_records):
        c = n * CODE_COMMITS // base_records
        sid = session_id(n)
        out += b"commit refs/provenance/sessions\n"
        out += b"committer gitprov <gitprov@localhost> %d +0000\n" % (1_700_000_000 + n)
        out += data(f"gitprov: save session {sid}".encode())
        out += f"merge {code[c]}\n".encode()  # the pin: the code commit it ran on
        out += f"M 100644 inline {gp_storage.record_path(sid)}\n".encode()
        out += data(record_bytes(sid, code[c]))
        lines.setdefault(c, []).append(
            gp_notes.note_line({"session_id": sid, "branch": "main", "dirty": False})
        )
    for c, sids in sorted(lines.items()):
        out += b"commit refs/notes/provenance\n"
        out += b"committer gitprov <gitprov@localhost> %d +0000\n" % (1_700_000_000 + c)
        out += data(b"gitprov: notes")
        note = ("\n".join(sorted(sids)) + "\n").encode()
        out += f"M 100644 inline {code[c][:2]}/{code[c][2:]}\n".encode() + data(note)
    git(repo, "fast-import", "--quiet", input=bytes(out))


def save_more(repo: Path, prefix: str) -> None:
    """``EACH_SIDE`` sessions saved by gitprov itself on the last code commit."""
    store = gp_storage.RecordStore(Git.discover(repo))
    head = git(repo, "rev-parse", "main").strip()
    for k in range(EACH_SIDE):
        sid = f"2027-01-01T00.00.0{k}.000Z-{prefix}"
        line = gp_notes.note_line({"session_id": sid, "branch": "main", "dirty": False})
        note = gp_storage.Note(head, line)
        with store.saving(sid) as pending:
            pending.save(record_bytes(sid, head), note=note, pins=[head])


def timed(fn: object) -> float:
    assert callable(fn)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--forget-rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    args = parser.parse_args()
    return in_scratch("sync", args.keep, lambda tmp: run(tmp, args.rounds, args.forget_rounds))


def in_scratch(name: str, keep: bool, work: Callable[[Path], int]) -> int:
    """``work`` in a fresh, isolated temporary folder, deleted afterwards unless ``keep``."""
    tmp = Path(tempfile.mkdtemp(prefix=f"gitprov-bench-{name}-"))
    try:
        isolate(tmp)
        return work(tmp)
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, rounds: int, forget_rounds: int) -> int:
    started = time.perf_counter()
    base = tmp / "base.git"
    build_fixture(base, RECORDS - EACH_SIDE)
    remote, local = tmp / "remote.git", tmp / "local.git"
    git(tmp, "clone", "-q", "--mirror", str(base), str(remote))
    git(tmp, "clone", "-q", "--mirror", str(base), str(local))
    git(local, "remote", "set-url", "origin", str(remote))
    git(local, "config", "--unset-all", "remote.origin.fetch")
    git(local, "config", "remote.origin.mirror", "false")
    save_more(remote, "remote")
    save_more(local, "local")
    for repo in (remote, local):
        git(repo, "gc", "-q")
    print(f"fixture: {time.perf_counter() - started:.1f}s", file=sys.stderr)

    def fresh(name: str, graph: bool = True) -> Path:
        """A copy of the local clone whose origin is a fresh copy of the remote."""
        copy, origin = tmp / name, tmp / f"{name}-origin"
        shutil.copytree(local, copy, symlinks=True)
        shutil.copytree(remote, origin, symlinks=True)
        git(copy, "remote", "set-url", "origin", str(origin))
        if not graph:
            info = copy / "objects" / "info"
            shutil.rmtree(info / "commit-graphs", ignore_errors=True)
            (info / "commit-graph").unlink(missing_ok=True)
        return copy

    def plain(copy: Path) -> None:
        """What git alone does with the same refs: fetch both, push both."""
        git(copy, "fetch", "-q", "--no-tags", "origin", *REFSPECS)
        git(copy, "push", "-q", "--no-verify", "origin", *PUSHSPECS)

    def sync(copy: Path) -> None:
        clone = Git.discover(copy)
        Sync(clone, resolve_remote(clone, "origin")).sync()

    # Correctness first: both sides hold the union, on both refs.
    check = fresh("check.git")
    clone = Git.discover(check)
    report = Sync(clone, resolve_remote(clone, "origin")).sync()
    assert report.merged and len(report.pushed) == 2, report
    assert (report.incoming, report.outgoing) == (EACH_SIDE, EACH_SIDE), report
    for side in (check, tmp / "check.git-origin"):
        ids = gp_storage.RecordStore(Git.discover(side)).ids()
        assert len(ids) == RECORDS + EACH_SIDE, len(ids)
        head = git(side, "rev-parse", "main").strip()
        note = git(side, "notes", "--ref", "provenance", "show", head)
        assert sum("Z-local," in line or "Z-remote," in line for line in note.splitlines()) == 10
        git(side, "fsck", "--strict", "--no-progress", "--no-dangling")

    samples: list[list[float]] = [[], [], []]  # git, sync, sync without commit-graph
    for r in range(rounds + 2):
        a, b, c = (fresh(f"{k}{r}.git", graph=k != "n") for k in "gsn")
        steps = [
            functools.partial(plain, a),
            functools.partial(sync, b),
            functools.partial(sync, c),
        ]
        for k in [(r + n) % 3 for n in range(3)]:  # each goes first in turn
            took = timed(steps[k])
            if r >= 2:  # two warm-up rounds
                samples[k].append(took)
        for copy in (a, b, c):
            shutil.rmtree(copy)
            shutil.rmtree(f"{copy}-origin")
    git_ms, sync_ms, bare_ms = (statistics.median(x) * 1000 for x in samples)
    ratios = [m / f for m, f in zip(samples[1], samples[0], strict=True)]
    q = statistics.quantiles(ratios, n=4)
    ratio = sync_ms / git_ms
    print(f"records: {RECORDS} per side, {2 * EACH_SIDE} differ; rounds: {rounds}")
    print(f"git fetch + push of both refs (anchor) median {git_ms:7.1f} ms")
    print(f"gitprov sync (Sync.sync)               median {sync_ms:7.1f} ms")
    print(f"  [extra] without a commit-graph       median {bare_ms:7.1f} ms")
    print(
        f"ratio {ratio:.2f} (limit 3.0, paired ratios p25-p75 {q[0]:.2f}-{q[2]:.2f}): "
        f"{'ok' if ratio <= 3.0 else 'MISSED'}"
    )
    if forget_rounds > 0:
        bench_forget(tmp, local, remote, forget_rounds)
    return 0


def bench_forget(tmp: Path, local: Path, remote: Path, rounds: int) -> None:
    """``forget`` of one record against a ``git fetch`` of the whole history (see above)."""
    oldest, middle = session_id(0), session_id((RECORDS - EACH_SIDE) // 2)

    def copy(name: str) -> Path:
        target = tmp / name
        shutil.copytree(local, target, symlinks=True)
        return target

    # Correctness first: the record is gone from every commit, every other record stays.
    check = copy("forget-check.git")
    done = SessionLog(check).forget([oldest], "bench")
    assert done.ids == [oldest] and done.rewritten == RECORDS, done  # every save commit
    assert len(SessionLog(check).ids()) == RECORDS - 1
    assert SessionLog(check).tombstone(oldest) is not None
    path = gp_storage.record_path(oldest)
    held = git(check, "log", "--all", "--format=%H", "--", path).split()
    assert held == [], held  # no commit of any ref holds it
    git(check, "fsck", "--strict", "--no-progress", "--no-dangling")
    shutil.rmtree(check)

    samples: list[list[float]] = [[], [], []]  # fetch, forget oldest, forget middle
    for r in range(rounds + 1):
        empty = tmp / f"empty{r}.git"
        git(tmp, "init", "-q", "--bare", str(empty))
        fetch = ["git", "-C", str(empty), "fetch", "-q", "--no-tags", str(remote), *REFSPECS]
        logs = [SessionLog(copy(f"forget{r}-{k}.git")) for k in range(2)]
        steps = [
            functools.partial(subprocess.run, fetch, check=True),
            functools.partial(logs[0].forget, [oldest], "bench"),
            functools.partial(logs[1].forget, [middle], "bench"),
        ]
        for k in [(r + n) % 3 for n in range(3)]:
            took = timed(steps[k])
            if r >= 1:  # one warm-up round
                samples[k].append(took)
        for folder in (empty, *(log.git.git_dir for log in logs)):
            shutil.rmtree(folder)
    fetch_ms, oldest_ms, middle_ms = (statistics.median(x) * 1000 for x in samples)
    ratio = oldest_ms / fetch_ms
    paired = sorted(f / a for f, a in zip(samples[1], samples[0], strict=True))
    print(f"forget: {RECORDS} records, rounds: {rounds}")
    print(f"git fetch of the history (anchor) median {fetch_ms:7.1f} ms")
    print(f"forget the oldest record          median {oldest_ms:7.1f} ms")
    print(f"  [extra] forget one half-way in  median {middle_ms:7.1f} ms")
    print(
        f"ratio {ratio:.2f} (limit 3.0, paired ratios {paired[0]:.2f}-{paired[-1]:.2f}): "
        f"{'ok' if ratio <= 3.0 else 'MISSED'}"
    )


if __name__ == "__main__":
    sys.exit(main())
