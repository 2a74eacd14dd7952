"""gitprov speed targets, measured as ratios against an anchor in one run.

The machine is shared and noisy, so absolute times mean little: every target compares
gitprov ("ours") with an anchor doing the comparable plain-git or Kedro work, on the same
repository, in interleaved rounds (ours/anchor, then anchor/ours, ...), and judges the ratio
of the two medians. Run it with ``make bench`` or ``.venv/bin/python bench/bench.py``;
``--rounds N`` changes the number of timed rounds, ``--keep`` keeps the temporary
repositories (their path is printed) for profiling. A missed target is reported, never an
error: the exit status is non-zero only when the bench itself fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gitprov
from gitprov import refs as gp_refs
from gitprov.git import Git
from gitprov.git.objects import MAX_PACKS, ObjectWriter
from gitprov.model import document as gp_record
from gitprov.model.sections import now_utc
from gitprov.state import environment
from gitprov.state import snapshot as gp_snapshot
from gitprov.state.snapshot import take_snapshot
from gitprov.state.status import probe
from gitprov.store import notes as gp_notes
from gitprov.store import records as gp_storage

SMALL_FILES = 50
SMALL_DIRS = 5
BIG_FILES = 10_000
BIG_DIRS = 300
HISTORY_COMMITS = 200
SESSIONS_PER_COMMIT = 100
SCREENED_CHANGES = 30  # changed files of the secret-screening target (12)
WARMUP = 2

IDENTITY = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


# -- environment and plain git ---------------------------------------------------------------


def isolate(tmp: Path) -> None:
    """No inherited GIT_* variable, no user or system git config, no Kedro chatter."""
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        del os.environ[key]
    home = tmp / "home"
    home.mkdir()
    logging_yml = tmp / "logging.yml"
    logging_yml.write_text(
        "version: 1\n"
        "disable_existing_loggers: false\n"
        "handlers:\n"
        "  err: {class: logging.StreamHandler, level: WARNING, stream: ext://sys.stderr}\n"
        "root: {level: WARNING, handlers: [err]}\n"
    )
    os.environ.update(IDENTITY)
    os.environ.update(
        {
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "LC_ALL": "C",
            "KEDRO_DISABLE_TELEMETRY": "1",
            "KEDRO_LOGGING_CONFIG": str(logging_yml),
        }
    )


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    """Run git for set-up and anchors (the environment is already isolated)."""
    proc = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"git {' '.join(args)} failed in {repo}: {proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout.decode()


def git_quiet(repo: Path, *args: str) -> None:
    """An anchor call: run, keep nothing but success."""
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")


# -- repositories ----------------------------------------------------------------------------


def make_repo(path: Path, files: int, dirs: int, *, dirty: bool = True) -> Path:
    """A committed tree of ``files`` files in ``dirs`` leaf folders, a tag, an upstream,
    then (``dirty``) two modified files and one untracked file."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    past = time.time() - 3600  # older than the index: no racily-clean entries to re-hash
    body = "".join(f"def f{j}(x):\n    return x * {j}\n\n" for j in range(8))
    for i in range(files):
        d = i % dirs
        target = path / "src" / f"pkg{d // 25:02d}" / f"mod{d:03d}" / f"file{i:05d}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"# file {i}\n{body}")
        os.utime(target, (past, past))
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    git(path, "tag", "v0.1.0")
    git(path, "remote", "add", "origin", "https://example.com/org/bench.git")
    git(path, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(path, "config", "branch.main.remote", "origin")
    git(path, "config", "branch.main.merge", "refs/heads/main")
    if dirty:
        tracked = sorted((path / "src").rglob("*.py"))
        for target in (tracked[0], tracked[len(tracked) // 2]):
            with target.open("a") as fh:
                fh.write("# edited\n")
        (path / "scratch.md").write_text("untracked notes\n")
    git(path, "status", "--porcelain")  # settle the index once, as any user's shell would
    return path


def make_changes(path: Path, count: int) -> None:
    """Make ``count`` paths of a ``make_repo`` repository differ from HEAD: two thirds
    modified modules, one third new ones, as a run in progress has."""
    have = len(git(path, "status", "--porcelain").splitlines())
    new = (count - have) // 3
    tracked = sorted((path / "src").rglob("*.py"))
    for target in tracked[1 : 1 + count - have - new]:
        with target.open("a") as fh:
            fh.write("# edited\n")
    for i in range(new):
        (path / "src" / f"new_{i}.py").write_text(f"def g{i}(x):\n    return x + {i}\n")
    git(path, "status", "--porcelain")


_id_counter = 0


def new_id() -> str:
    """A fresh Kedro-style session id (2030-..., never colliding with the fixture's)."""
    global _id_counter
    _id_counter += 1
    stamp = dt.datetime(2030, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=_id_counter * 1001)
    return stamp.strftime("%Y-%m-%dT%H.%M.%S.") + f"{stamp.microsecond // 1000:03d}Z"


def fixture_id(n: int) -> str:
    stamp = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=n * 37_123)
    return stamp.strftime("%Y-%m-%dT%H.%M.%S.") + f"{stamp.microsecond // 1000:03d}Z"


def kedro_keys(repo: Path, session_id: str) -> dict[str, Any]:
    """What Kedro 1.x puts in the store before ``save()``."""
    return {
        "project_path": repo,
        "session_id": session_id,
        "username": "bench",
        "cli": {
            "args": [],
            "params": {"pipeline": None, "env": None, "tags": [], "runner": None},
            "command_name": "run",
            "command_path": "kedro run",
        },
        "env": None,
        "runtime_params": {},
        "git": {"commit_sha": "0000000", "dirty": True},
    }


def fast_import(repo: Path, stream: bytes, *extra: str) -> None:
    git(repo, "fast-import", "--quiet", *extra, input=stream)


def data_cmd(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


def build_history(repo: Path) -> list[str]:
    """``HISTORY_COMMITS`` empty commits on top of main (one fast-import); their shas,
    oldest first. The tree never changes, so index and work tree stay as they are."""
    head = git(repo, "rev-parse", "HEAD").strip()
    t0 = int(time.time()) - 10 * 86400
    out = bytearray()
    for i in range(HISTORY_COMMITS):
        out += b"commit refs/heads/main\nmark :%d\n" % (i + 1)
        out += b"committer Bench <bench@example.com> %d +0000\n" % (t0 + i * 600)
        out += data_cmd(b"change %d" % i)
        if i == 0:
            out += b"from %s\n" % head.encode()
        out += b"\n"
    marks = repo.parent / f"{repo.name}.marks"
    fast_import(repo, bytes(out), f"--export-marks={marks}")
    by_mark = dict(line.split() for line in marks.read_text().splitlines())
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    return [by_mark[f":{i + 1}"] for i in range(HISTORY_COMMITS)]


def build_sessions(repo: Path, commits: Sequence[str]) -> dict[str, list[str]]:
    """``SESSIONS_PER_COMMIT`` records per commit on the records ref (one commit, storage.py's
    exact layout) and the matching notes (sorted note_line lines, ``xx/<38hex>`` fanout, one
    commit), written by a single fast-import. Returns the session ids per commit."""
    placeholder_id = "1999-01-01T00.00.00.000Z"
    placeholder_sha = "feedc0de" * 5
    placeholder_short = "abcdef0"
    section = gitprov.capture(repo)
    section.update(commit=placeholder_sha, commit_sha=placeholder_short, describe=None)
    template = gp_record.dump(
        gp_record.build(
            placeholder_id,
            kedro_keys(repo, placeholder_id),
            section,
            host=environment.host(),
            saved_at=now_utc(),
        )
    ).decode()
    stamp = int(time.time())
    per_commit: dict[str, list[str]] = {}
    records = bytearray()
    records += b"commit %s\n" % gp_refs.DEFAULT_REF.encode()
    records += b"committer gitprov <gitprov@localhost> %d +0000\n" % stamp
    records += data_cmd(b"bench fixture: %d sessions" % (len(commits) * SESSIONS_PER_COMMIT))
    records += b"M 100644 inline %s\n" % gp_storage.FORMAT_FILE.encode()
    records += data_cmd(gp_storage.FORMAT_TEXT)
    note_files = bytearray()
    n = 0
    for sha in commits:
        ids = []
        lines = []
        for _ in range(SESSIONS_PER_COMMIT):
            sid = fixture_id(n)
            n += 1
            ids.append(sid)
            text = template.replace(placeholder_id, sid).replace(placeholder_sha, sha)
            text = text.replace(placeholder_short, sha[:7])
            path = gp_storage.record_path(sid)
            records += b"M 100644 inline %s\n" % path.encode()
            records += data_cmd(text.encode())
            lines.append(
                gp_notes.note_line(
                    {"session_id": sid, "branch": "main", "dirty": True, "status": "success"}
                )
            )
        per_commit[sha] = ids
        note = ("\n".join(sorted(lines)) + "\n").encode()
        note_files += b"M 100644 inline %s/%s\n" % (sha[:2].encode(), sha[2:].encode())
        note_files += data_cmd(note)
    records += b"\n"
    notes_commit = bytearray()
    notes_commit += b"commit %s\n" % gp_refs.DEFAULT_NOTES_REF.encode()
    notes_commit += b"committer gitprov <gitprov@localhost> %d +0000\n" % stamp
    notes_commit += data_cmd(b"bench fixture: notes")
    notes_commit += note_files + b"\n"
    fast_import(repo, bytes(records + notes_commit))
    return per_commit


def verify_fixture(repo: Path, per_commit: dict[str, list[str]]) -> None:
    """The fixture is what gitprov itself would have written, or the bench stops."""
    total = sum(len(v) for v in per_commit.values())
    log = gitprov.SessionLog(repo)
    ids = log.ids()
    if len(ids) != total or ids != sorted(i for v in per_commit.values() for i in v):
        raise RuntimeError(f"fixture: SessionLog.ids() has {len(ids)} ids, expected {total}")
    rev = list(per_commit)[len(per_commit) // 2]
    found = log.for_commit(rev)
    if len(found) != SESSIONS_PER_COMMIT or [e["session_id"] for e in found] != sorted(
        per_commit[rev]
    ):
        raise RuntimeError(f"fixture: for_commit({rev}) returned {len(found)} entries")
    if log.get(found[0]["session_id"])["git"]["commit"] != rev or found[0]["commit"] != rev:
        raise RuntimeError("fixture: records do not name their commit")
    shown = git(repo, "notes", "--ref", "provenance", "show", rev)
    if len(shown.splitlines()) != SESSIONS_PER_COMMIT:
        raise RuntimeError("fixture: git notes show does not see the 2-level fanout note")
    tree = git(repo, "ls-tree", "--name-only", gp_refs.DEFAULT_NOTES_REF)
    if any(len(name) != 2 for name in tree.split()):
        raise RuntimeError("fixture: notes tree root is not a 2-hex fanout")
    fsck = subprocess.run(
        ["git", "-C", str(repo), "fsck", "--no-progress", "--strict"], capture_output=True
    )
    complaints = [
        line
        for line in (fsck.stdout + fsck.stderr).decode(errors="replace").splitlines()
        if not line.startswith(("dangling", "Checking"))
    ]
    if fsck.returncode != 0 or complaints:
        raise RuntimeError("fixture: git fsck is not clean:\n" + "\n".join(complaints))


# -- timing ----------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    ours: list[float]
    anchor: list[float]
    limit: float | None
    target: bool  # False: an extra line, shown for information, not a verdict
    ours_name: str
    anchor_name: str
    pairs: list[float] = field(default_factory=list)

    @property
    def ours_ms(self) -> float:
        return statistics.median(self.ours)

    @property
    def anchor_ms(self) -> float:
        return statistics.median(self.anchor)

    @property
    def ratio(self) -> float:
        return self.ours_ms / self.anchor_ms

    @property
    def ok(self) -> bool | None:
        return None if self.limit is None else self.ratio <= self.limit

    @property
    def spread(self) -> tuple[float, float]:
        q = statistics.quantiles(self.pairs, n=4)
        return q[0], q[2]


@dataclass(frozen=True)
class Staged:
    """A measurement with an untimed set-up: ``prepare()`` returns what is timed."""

    prepare: Callable[[], Callable[[], object]]


Timed = Callable[[], object] | Staged


def interleave(rounds: int, ours: Timed, anchor: Timed) -> tuple[list[float], list[float]]:
    """Median-ready samples (ms): A,B then B,A ... so drift hits both sides alike."""

    def once(fn: Timed) -> float:
        act = fn.prepare() if isinstance(fn, Staged) else fn
        start = time.perf_counter()
        act()
        return (time.perf_counter() - start) * 1000

    for _ in range(WARMUP):
        once(ours)
        once(anchor)
    a: list[float] = []
    b: list[float] = []
    for i in range(rounds):
        order = ((ours, a), (anchor, b)) if i % 2 == 0 else ((anchor, b), (ours, a))
        for fn, sink in order:
            sink.append(once(fn))
    return a, b


class Bench:
    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.results: list[Result] = []

    def run(
        self,
        label: str,
        ours_name: str,
        ours: Timed,
        anchor_name: str,
        anchor: Timed,
        limit: float | None,
        *,
        target: bool = True,
    ) -> Result:
        a, b = interleave(self.rounds, ours, anchor)
        res = Result(label, a, b, limit, target, ours_name, anchor_name)
        res.pairs = [x / y for x, y in zip(a, b, strict=True)]
        self.results.append(res)
        lo, hi = res.spread
        print(f"\n{label}{'' if target else '  [extra]'}")
        print(f"  ours   {ours_name:<58} median {res.ours_ms:8.2f} ms  min {min(a):8.2f}")
        print(f"  anchor {anchor_name:<58} median {res.anchor_ms:8.2f} ms  min {min(b):8.2f}")
        print(
            f"  ratio {res.ratio:.2f} (paired ratios p25-p75 {lo:.2f}-{hi:.2f})  "
            f"limit {fmt_limit(res)}  -> {verdict(res)}",
            flush=True,
        )
        return res


def fmt_limit(res: Result) -> str:
    return "-" if res.limit is None else f"<= {res.limit:.1f}"


def verdict(res: Result) -> str:
    if res.ok is None:
        return "info"
    word = "PASS" if res.ok else "MISS"
    return word if res.target else f"{word.lower()} (info)"


def summary(results: list[Result]) -> None:
    rows = [("target", "ours ms", "anchor ms", "ratio", "limit", "ok?")]
    for r in sorted(results, key=lambda r: r.label.split()[0]):  # stable: run order within
        rows.append(
            (
                r.label + ("" if r.target else " [extra]"),
                f"{r.ours_ms:.2f}",
                f"{r.anchor_ms:.2f}",
                f"{r.ratio:.2f}",
                fmt_limit(r),
                verdict(r),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    line = "-+-".join("-" * w for w in widths)
    print("\nSUMMARY (ratio = median ours / median anchor; lower is better)")
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i in (0, 4, 5) else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print(" | ".join(cells).rstrip())
        if n == 0:
            print(line)
    targets = [r for r in results if r.target]
    passed = sum(1 for r in targets if r.ok)
    print(f"\n{passed}/{len(targets)} targets met ([extra] lines are information only)")


# -- the targets -----------------------------------------------------------------------------


def header() -> None:
    import kedro

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print("gitprov bench")
    print(
        f"  {subprocess.run(['git', '--version'], capture_output=True, text=True).stdout.strip()}"
    )
    print(f"  python {platform.python_version()} ({sys.executable})")
    print(f"  nproc {affinity} (cpu_count {os.cpu_count()}), load {load}")
    print(f"  platform {platform.platform()}")
    source = Path(gitprov.__file__).parent
    state = subprocess.run(
        ["git", "--no-optional-locks", "-C", str(source), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    where = f"{source} @ {state.stdout.strip()}" if state.returncode == 0 else str(source)
    print(f"  gitprov {gitprov.__version__} ({where}), kedro {kedro.__version__}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds per comparison")
    parser.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(__file__).resolve().parent / ".work",
        help="where the repositories are made (default: bench/.work, git-ignored). Not /tmp "
        "by default: on the shared machines this is run on, creating a file under /tmp costs "
        "~0.2 ms against ~0.01 ms elsewhere on the same disk, which swamps what is measured.",
    )
    args = parser.parse_args(argv)
    if args.rounds < 4:
        parser.error("--rounds must be at least 4")

    args.dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="gitprov-bench-", dir=args.dir))
    print(f"  repositories in {tmp}")
    try:
        return run_all(tmp, args.rounds)
    finally:
        if args.keep:
            print(f"\nrepositories kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run_all(tmp: Path, rounds: int) -> int:
    isolate(tmp)
    started = time.monotonic()
    # Kedro reads its logging config at import: only after isolate().
    from kedro.framework.session.session import _describe_git

    from gitprov.kedro.store import GitSessionStore

    logging.getLogger("gitprov").setLevel(logging.WARNING)  # no per-save INFO line
    header()
    print(f"  rounds {rounds} (+{WARMUP} warm-up) per comparison, interleaved; medians\n")

    print("setting up repositories ...", flush=True)
    small = make_repo(tmp / "small", SMALL_FILES, SMALL_DIRS)
    big = make_repo(tmp / "big", BIG_FILES, BIG_DIRS)
    small_clean = make_repo(tmp / "small-clean", SMALL_FILES, SMALL_DIRS, dirty=False)
    big_clean = make_repo(tmp / "big-clean", BIG_FILES, BIG_DIRS, dirty=False)
    one = make_repo(tmp / "one", SMALL_FILES, SMALL_DIRS)
    hist = make_repo(tmp / "hist", SMALL_FILES, SMALL_DIRS)
    t = time.monotonic()
    commits = build_history(hist)
    per_commit = build_sessions(hist, commits)
    built = time.monotonic() - t
    t = time.monotonic()
    verify_fixture(hist, per_commit)
    print(
        f"  20k fixture: {HISTORY_COMMITS} commits x {SESSIONS_PER_COMMIT} sessions built in "
        f"{built:.1f}s, verified (ids, for_commit, notes show, fsck) in "
        f"{time.monotonic() - t:.1f}s",
        flush=True,
    )

    def save(repo: Path, **options: Any) -> Callable[[], None]:
        def go() -> None:
            sid = new_id()
            store = GitSessionStore(path=str(repo / "sessions"), session_id=sid, **options)
            store.update(kedro_keys(repo, sid))
            store.save()

        return go

    save(one)()  # the "1 record stored" repository

    def save_only(repo: Path, **options: Any) -> Staged:
        """save() alone: the store is built (as Kedro does, before the run) untimed."""

        def prepare() -> Callable[[], None]:
            sid = new_id()
            store = GitSessionStore(path=str(repo / "sessions"), session_id=sid, **options)
            store.update(kedro_keys(repo, sid))
            return store.save

        return Staged(prepare)

    def anchor_save(repo: Path) -> Callable[[], None]:
        text = gp_notes.note_line({"session_id": "x", "branch": "main", "dirty": True})

        def go() -> None:
            git_quiet(repo, "status", "--porcelain=v2")
            git_quiet(repo, "notes", "--ref", "bench", "add", "-f", "-m", text, "HEAD")

        return go

    bench = Bench(rounds)

    # 1. capture vs Kedro's own _describe_git
    for name, repo in (("50 files", small), ("10k files", big)):
        bench.run(
            f"1 capture vs kedro _describe_git, {name}",
            "gitprov.capture(repo)",
            lambda repo=repo: gitprov.capture(repo),
            "kedro _describe_git(Path(repo))",
            lambda repo=repo: _describe_git(repo),
            1.0,
        )

    # 2. a store's save() vs status + notes add; the scope is the clean tree (a dirty
    # one adds the snapshot, whose own target is 6)
    for name, repo, is_target in (
        ("clean 50 files", small_clean, True),
        ("clean 10k files", big_clean, False),
        ("dirty 50 files", small, False),
        ("dirty 10k files", big, False),
    ):
        bench.run(
            f"2 save() vs status+notes add, {name}",
            "store.save()",
            save_only(repo),
            "git status --porcelain=v2; git notes add -f",
            anchor_save(repo),
            1.5,
            target=is_target,
        )
    # 11. a whole recording (store construction + save): since issue 11 it reads git's
    # write rules, holds a write lock, keeps a .keep on its pack and fsyncs it as git does
    bench.run(
        "11 construct + save vs status+notes add, clean 50 files",
        "GitSessionStore(...) + save()",
        save(small_clean),
        "git status --porcelain=v2; git notes add -f",
        anchor_save(small_clean),
        2.0,
    )

    def plain_snapshot(repo: Path) -> Callable[[], None]:
        index = tmp / "plain-snapshot-index"

        def go() -> None:
            index.unlink(missing_ok=True)
            env = {**os.environ, "GIT_INDEX_FILE": str(index)}
            subprocess.run(["git", "-C", str(repo), "add", "-A"], env=env, check=True)
            tree = subprocess.run(
                ["git", "-C", str(repo), "write-tree"], env=env, check=True, capture_output=True
            ).stdout.strip()
            commit = git(repo, "commit-tree", "-p", "HEAD", "-m", "snapshot", tree.decode())
            git_quiet(repo, "update-ref", "refs/bench/snapshot", commit.strip())

        return go

    bench.run(
        "11 construct + save vs plain-git snapshot, dirty 50 files",
        "GitSessionStore(...) + save()",
        save(small),
        "GIT_INDEX_FILE=tmp git add -A; write-tree; commit-tree; update-ref",
        plain_snapshot(small),
        1.5,
    )

    # 6. snapshot of a dirty 10k-file repository vs one git status on it
    big_git = Git.discover(big)
    writer = ObjectWriter(big_git.objects_dir, big_git.object_format)

    def snapshot_only() -> Callable[[], None]:
        section = probe(big_git.runner)
        return lambda: take_snapshot(big_git, writer, section, new_id(), untracked_listed=True)

    bench.run(
        "6 snapshot of a dirty 10k-file repo vs git status",
        "take_snapshot(...)",
        Staged(snapshot_only),
        "git status --porcelain=v2",
        lambda: git_quiet(big, "status", "--porcelain=v2"),
        1.5,
    )

    # 12. screening a dirty save's changed files for secrets (names, .gitprovignore, size,
    # detect-secrets) vs the same save with the screen replaced by a pass-through
    screened = make_repo(tmp / "screened", BIG_FILES, BIG_DIRS)
    make_changes(screened, SCREENED_CHANGES)
    screen_fn = gp_snapshot.screen

    def unscreened(repo: Path) -> Staged:
        inner = save_only(repo)

        def prepare() -> Callable[[], None]:
            act = inner.prepare()

            def go() -> None:
                gp_snapshot.screen = lambda root, candidates, rules: []
                try:
                    act()
                finally:
                    gp_snapshot.screen = screen_fn

            return go

        return Staged(prepare)

    bench.run(
        f"12 dirty save(), screening on vs off, 10k files, {SCREENED_CHANGES} changed",
        "store.save()",
        save_only(screened),
        "store.save(), gitprov.state.snapshot.screen a pass-through",
        unscreened(screened),
        1.3,
    )

    # ... and in a new process, as `gitprov run` saves: detect-secrets and pathspec imported
    recorded = "import sys, gitprov\nwith gitprov.record(sys.argv[1]): pass\n"
    passthrough = (
        "import gitprov.state.snapshot as s\ns.screen = lambda root, candidates, rules: []\n"
    )

    def process(code: str) -> Callable[[], None]:
        return lambda: subprocess.run([sys.executable, "-c", code, str(screened)], check=True)

    bench.run(
        f"12 new process + dirty save, screening on vs off, 10k files, {SCREENED_CHANGES} changed",
        "python -c 'gitprov.record(repo)'",
        process(recorded),
        "the same, gitprov.state.snapshot.screen a pass-through",
        process(passthrough + recorded),
        1.3,
        target=False,
    )

    # 7. a clean run pays nothing for snapshots
    bench.run(
        "7 clean save(), snapshots on vs off, 50 files",
        "store.save() (snapshot=True)",
        save_only(small_clean),
        "store.save() (snapshot=False)",
        save_only(small_clean, snapshot=False),
        1.1,
    )

    # 2 again, now that small_clean holds MAX_PACKS unfolded packs of earlier saves (no
    # `git gc` ran): saves write loose objects until git's own gc --auto folds the packs
    def pack_count() -> int:
        return len(list((small_clean / ".git/objects/pack").glob("pack-*.idx")))

    while pack_count() < MAX_PACKS:  # fewer --rounds than that: top up, untimed
        save(small_clean)()
    packs = pack_count()
    bench.run(
        f"2 save() vs status+notes add, clean 50 files, {packs} packs (loose writes)",
        "store.save()",
        save_only(small_clean),
        "git status --porcelain=v2; git notes add -f",
        anchor_save(small_clean),
        1.5,
        target=False,
    )

    # 4. for_commit on the 20k repository vs git notes show (before any save touches it)
    rev = commits[len(commits) // 2]
    reused = gitprov.SessionLog(hist)

    def notes_show(rev: str) -> Callable[[], None]:
        return lambda: git_quiet(hist, "notes", "--ref", "provenance", "show", rev)

    bench.run(
        "4 for_commit (100 sessions), fresh SessionLog, 20k repo",
        "SessionLog(repo).for_commit(rev)",
        lambda: gitprov.SessionLog(hist).for_commit(rev),
        "git notes --ref provenance show rev",
        notes_show(rev),
        2.0,
    )
    bench.run(
        "4 for_commit (100 sessions), reused SessionLog, 20k repo",
        "log.for_commit(rev)",
        lambda: reused.for_commit(rev),
        "git notes --ref provenance show rev",
        notes_show(rev),
        2.0,
    )

    # 3. save cost with 20,000 records stored vs with 1
    bench.run(
        "3 save @20k records vs @1 record (HEAD note: 100 lines vs 1)",
        "save, 20k records stored",
        save(hist),
        "save, 1 record stored",
        save(one),
        1.3,
    )
    for repo in (hist, one):
        git(repo, "commit", "-q", "--allow-empty", "-m", "fresh")
    bench.run(
        "3 save @20k records vs @1 record, fresh un-noted HEAD",
        "save, 20k records stored",
        save(hist),
        "save, 1 record stored",
        save(one),
        1.3,
        target=False,
    )

    # 4c. for_commit on a commit with a single session
    git(hist, "commit", "-q", "--allow-empty", "-m", "one session")
    save(hist)()
    head = git(hist, "rev-parse", "HEAD").strip()
    if len(gitprov.SessionLog(hist).for_commit(head)) != 1:
        raise RuntimeError("expected exactly one session on the new commit")
    bench.run(
        "4 for_commit (1 session), fresh SessionLog, 20k repo",
        "SessionLog(repo).for_commit(rev)",
        lambda: gitprov.SessionLog(hist).for_commit(head),
        "git notes --ref provenance show rev",
        notes_show(head),
        2.0,
        target=False,
    )

    # 5. the notes index on vs off
    git(small, "commit", "-q", "--allow-empty", "-m", "fresh")
    bench.run(
        "5 save, notes index on vs notes_ref=None, 50 files",
        "GitSessionStore(...) + save()",
        save(small),
        "GitSessionStore(..., notes_ref=None) + save()",
        save(small, notes_ref=None),
        1.2,
    )
    git(hist, "reset", "-q", "--soft", commits[-50])  # a HEAD whose note has 100 lines
    bench.run(
        "5 save, notes on vs off, HEAD note of 100+ lines, 20k repo",
        "GitSessionStore(...) + save()",
        save(hist),
        "GitSessionStore(..., notes_ref=None) + save()",
        save(hist, notes_ref=None),
        1.2,
        target=False,
    )

    summary(bench.results)
    print(f"bench took {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
