"""Finding, filtering, comparing and verifying runs among 100,000 records (issue 15), each
timed as a whole process against plain git on the same repository.

Run it with ``.venv/bin/python bench/bench_query.py`` (``--records N``, ``--verify-records
N``, ``--rounds N``, ``--keep``, ``--dir D``); ``--build-only --dir D`` only builds the
fixture and prints its path, for profiling by hand.

A fixture is written by ``git fast-import`` (no save runs): 60 code commits on four
branches, 12 snapshot commits (a dirty run's exact tree, authored by gitprov, each on a
code commit; dirty runs share them), then the records, the digest index and the notes
index (one note per code commit); then packed as ``git gc`` leaves a repository. The
records are in one commit pinning every code commit and snapshot, or (``verify``'s, with
``history``) one commit per record pinning its own, as saves leave them. They are what the
entry points write (:func:`kedro_record`, :func:`command_record`: real ``document.dump``
output, 1-2.5 KB), half
Kedro runs (``run.pipeline_names``, ``run.params``, nodes, inputs and outputs with digests)
and half ``gitprov.record()``/``gitprov run`` (``argv``, top-level ``params`` and
``metrics``), half of them dirty, 85% ``success``, 10% ``failed``, 5% ``interrupted``,
started over a year on varied branches by five users.

Verdicts (median ratio over interleaved rounds, as ``bench_digest.compare``) are listed in
``bench/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gitprov
from bench_digest import compare
from bench_sync import data, git, isolate
from gitprov.model.document import dump
from gitprov.store import notes as gp_notes
from gitprov.store import records as gp_storage

RECORDS = 100_000
#: Records of the fixture ``verify`` is timed on, one commit each (as saves make them).
VERIFY_RECORDS = 20_000
#: The fixtures' layout: one kept by an older version of this file is built anew.
LAYOUT = 2
HERE = Path(__file__).resolve().parent
IDENT = b"gitprov <gitprov@localhost>"
BRANCHES = ["main", "feature/tokenizer", "exp/lr-sweep", "fix/data-leak"]
USERS = [("Ada Lovelace", "ada"), ("Alan Turing", "alan"), ("Grace Hopper", "grace")]
USERS += [("Edsger Dijkstra", "edsger"), ("Barbara Liskov", "barbara")]
LRS = [0.1, 0.01, 0.001, 0.0001]
PIPELINES = [["__default__"], ["data_processing"], ["data_science"], ["training", "reporting"]]
NODES = [
    "preprocess_companies_node",
    "preprocess_shuttles_node",
    "create_model_input_table_node",
    "split_data_node",
    "train_model_node",
    "evaluate_model_node",
]
START = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)
YEAR_S = 365 * 24 * 3600


def stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def session_id(n: int, records: int) -> str:
    """Record ``n``'s id: the time it started, as Kedro and gitprov name sessions."""
    return started(n, records).strftime("%Y-%m-%dT%H.%M.%S.") + f"{n % 1000:03d}Z"


def started(n: int, records: int) -> dt.datetime:
    return START + dt.timedelta(seconds=n * YEAR_S // records, milliseconds=n % 1000)


def digest(kind: str, n: int) -> str:
    return "sha256:" + hashlib.sha256(f"{kind} {n}".encode()).hexdigest()


def output_digest(n: int) -> str:
    """The digest of record ``n``'s first output (what ``gitprov which`` looks up)."""
    return digest("output", n)


def item(dataset: str, kind: str, path: str, digest_: str | None, size: int) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "type": kind,
        "path": path,
        "version": None,
        "digest": digest_,
        "size": size,
    }


def git_section(
    rng: random.Random, commit: str, branch: str, snapshot: str | None
) -> dict[str, Any]:
    dirty = snapshot is not None
    changes = (
        [
            {"path": "src/model.py", "status": "modified"},
            {"path": "notes.txt", "status": "untracked"},
        ]
        if dirty
        else []
    )
    return {
        "commit_sha": commit[:7],
        "dirty": dirty,
        "commit": commit,
        "branch": branch,
        "detached": False,
        "upstream": f"origin/{branch}",
        "ahead": rng.randint(0, 3),
        "behind": 0,
        "change_count": len(changes),
        "changes": changes,
        "remotes": {"origin": "https://github.com/example/spaceflights.git"},
        "describe": f"v0.{rng.randint(1, 9)}.0-{rng.randint(1, 40)}-g{commit[:7]}",
        "snapshot": snapshot,
        "policy": {
            "dirty": "allow",
            "require_pushed": False,
            "outcome": "dirty-allowed" if dirty else "clean",
        },
    }


def ending(rng: random.Random) -> tuple[str, dict[str, Any] | None]:
    """(status, error): 85% success, 10% failed, 5% interrupted."""
    roll = rng.random()
    if roll < 0.85:
        return "success", None
    if roll < 0.95:
        return "failed", {
            "type": "ValueError",
            "message": f"loss diverged at step {rng.randint(1, 999)}",
        }
    return "interrupted", {"type": "KeyboardInterrupt", "message": ""}


def provenance(saved: dt.datetime) -> dict[str, Any]:
    return {
        "format": 2,
        "saved_at": stamp(saved),
        "gitprov": "0.1.0",
        "host": {
            "hostname": "gpu-box-3",
            "platform": "Linux-6.8.0-x86_64-with-glibc2.39",
            "python": "3.11.9",
        },
    }


def kedro_record(
    n: int, records: int, commit: str, branch: str, snapshot: str | None
) -> dict[str, Any]:
    """A Kedro run as the gitprov hooks save it."""
    rng = random.Random(n)
    sid = session_id(n, records)
    begin = started(n, records)
    took = round(rng.uniform(5, 900), 3)
    status, error = ending(rng)
    name, user = USERS[n % len(USERS)]
    done = NODES if status == "success" else NODES[: rng.randint(1, len(NODES) - 1)]
    return {
        "session_id": sid,
        "package_name": "spaceflights",
        "project_path": f"/home/{user}/spaceflights",
        "cli": {
            "args": [],
            "params": {"pipeline": None, "env": None, "runner": None},
            "command_name": "run",
            "command_path": "kedro run",
        },
        "username": user,
        "run": {
            "status": status,
            "pipeline_names": PIPELINES[n % len(PIPELINES)],
            "tags": [],
            "runner": "SequentialRunner",
            "user": {"name": name, "email": f"{user}@example.com"},
            "params": {
                "lr": rng.choice(LRS),
                "epochs": 5 + n % 20,
                "model_options": {
                    "test_size": 0.2,
                    "random_state": n % 7,
                },
            },
            "config": {
                "env": "local",
                "source": "conf",
                "files": [
                    {"path": "conf/base/parameters.yml", "digest": digest("conf", n % 9)},
                    {"path": "conf/base/catalog.yml", "digest": digest("catalog", n % 3)},
                ],
            },
            "inputs": [
                item(
                    "companies",
                    "pandas.CSVDataset",
                    "data/01_raw/companies.csv",
                    digest("raw", n % 20),
                    1_810_000,
                )
            ],
            "started_at": stamp(begin),
            "finished_at": stamp(begin + dt.timedelta(seconds=took)),
            "duration_s": took,
            "nodes": {
                "total": len(NODES),
                "completed": done,
                "failed": [] if status == "success" else [NODES[len(done)]],
            },
            "failed_node": None if status == "success" else NODES[len(done)],
            "error": error,
            "datasets_saved": [{"name": "regressor"}],
            "outputs": [
                item(
                    "regressor",
                    "pickle.PickleDataset",
                    "data/06_models/regressor.pickle",
                    output_digest(n),
                    rng.randint(1000, 99_999),
                )
            ],
        },
        "git": git_section(rng, commit, branch, snapshot),
        "provenance": provenance(begin + dt.timedelta(seconds=took + 0.2)),
    }


def command_record(
    n: int, records: int, commit: str, branch: str, snapshot: str | None
) -> dict[str, Any]:
    """A ``gitprov.record(params=..., metrics=...)`` block or a ``gitprov run`` command."""
    rng = random.Random(n)
    sid = session_id(n, records)
    begin = started(n, records)
    took = round(rng.uniform(0.5, 3600), 3)
    status, error = ending(rng)
    name, user = USERS[n % len(USERS)]
    lr = rng.choice(LRS)
    kind = rng.random()
    argv = ["python", "train.py", "--lr", str(lr), "--epochs", str(5 + n % 20)]
    run: dict[str, Any] = {
        "status": status,
        "argv": argv,
        "cwd": f"/home/{user}/spaceflights",
        "user": {"name": name, "email": f"{user}@example.com"},
        "inputs": [],
        "started_at": stamp(begin),
        "finished_at": stamp(begin + dt.timedelta(seconds=took)),
        "duration_s": took,
    }
    if kind < 0.25:  # gitprov run CMD
        run["exit_code"] = 0 if status == "success" else 1
    if status == "interrupted":
        run["signal"] = "SIGINT"
    run["error"] = error
    run["outputs"] = (
        [item("model.pt", "file", "models/model.pt", output_digest(n), rng.randint(10**5, 10**7))]
        if kind > 0.5
        else []
    )
    record: dict[str, Any] = {"session_id": sid, "username": user, "run": run}
    if kind >= 0.25:  # record(params=..., metrics=...)
        record["metrics"] = {
            "auc": round(rng.uniform(0.6, 0.99), 4),
            "loss": round(rng.uniform(0.01, 2.0), 4),
            "accuracy": round(rng.uniform(0.5, 0.99), 4),
        }
        record["params"] = {
            "lr": lr,
            "epochs": 5 + n % 20,
            "batch_size": [16, 32, 64, 128][n % 4],
            "model": {"name": ["resnet18", "resnet50", "vit-b16"][n % 3], "dropout": 0.1},
        }
    record["git"] = git_section(rng, commit, branch, snapshot)
    record["provenance"] = provenance(begin + dt.timedelta(seconds=took + 0.2))
    return record


@dataclass(frozen=True)
class Fixture:
    """What the benchmark needs to know of a built repository: a digest one run wrote
    (for ``which``) and two runs to compare."""

    repo: Path
    records: int
    digest: str
    pair: tuple[str, str]


def code_history(repo: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """60 code commits on four branches and 12 snapshots: ([(commit, branch)],
    [(code commit, snapshot)])."""
    out = bytearray()
    mark = 0
    for b, branch in enumerate(BRANCHES):
        for c in range(15):
            mark += 1
            out += f"commit refs/heads/{branch}\nmark :{mark}\n".encode()
            out += b"committer Ada <ada@example.com> %d +0000\n" % (1_760_000_000 + mark * 600)
            out += data(f"{branch}: step {c}".encode())
            if c == 0 and b:
                out += b"from :15\n"  # branches start from main's last commit
            out += b"M 100644 inline src/model.py\n" + data(f"LR = {c}  # {branch}\n".encode())
            out += b"M 100644 inline README.md\n" + data(b"spaceflights\n")
    git(repo, "fast-import", "--quiet", input=bytes(out))
    commits: list[tuple[str, str]] = []
    for branch in BRANCHES:
        listed = git(repo, "rev-list", "--first-parent", "--reverse", f"refs/heads/{branch}")
        shas = listed.split()
        commits += [(sha, branch) for sha in (shas if branch == "main" else shas[-15:])]
    out = bytearray()
    for s in range(12):
        base = commits[s * 5]
        out += f"commit refs/bench/snapshot{s}\nmark :{s + 1}\n".encode()
        out += b"author %s 1760000000 +0000\ncommitter %s 1760000000 +0000\n" % (IDENT, IDENT)
        out += data(f"gitprov: snapshot of session bench-{s}\n".encode())
        out += f"from {base[0]}\n".encode()
        out += b"M 100644 inline src/model.py\n" + data(f"LR = {s}  # edited\n".encode())
        out += b"M 100644 inline notes.txt\n" + data(b"try a smaller lr\n")
    git(repo, "fast-import", "--quiet", input=bytes(out))
    snapshots = [
        (commits[s * 5][0], git(repo, "rev-parse", f"refs/bench/snapshot{s}").strip())
        for s in range(12)
    ]
    for s in range(12):  # only the records commit keeps them, as a save's pins do
        git(repo, "update-ref", "-d", f"refs/bench/snapshot{s}")
    return commits, snapshots


def save_commit(message: str, stamp_s: int) -> bytes:
    head = b"commit refs/provenance/sessions\n"
    who = b"author %s %d +0000\ncommitter %s %d +0000\n" % (IDENT, stamp_s, IDENT, stamp_s)
    return head + who + data(message.encode())


def build(repo: Path, records: int, history: bool = False) -> Fixture:
    """The repository described in the module docstring, with ``records`` records: in one
    commit, or with ``history`` one commit per record, each pinning the commit and
    snapshot its run used, as saves leave them (what ``verify`` walks)."""
    git(repo.parent, "init", "-q", "-b", "main", str(repo))
    git(repo, "config", "user.name", "Bench")
    git(repo, "config", "user.email", "bench@example.com")
    commits, snapshots = code_history(repo)
    by_commit = {commit: branch for commit, branch in commits}
    out = bytearray(b"blob\nmark :1\n" + data(b""))  # the empty file, for the digest index
    out += save_commit("gitprov: records", 1_760_000_000)
    if not history:
        for pin in [c for c, _ in commits] + [s for _, s in snapshots]:
            out += f"merge {pin}\n".encode()
    out += b"M 100644 inline FORMAT\n" + data(gp_storage.FORMAT_TEXT)
    notes: dict[str, list[str]] = {}
    wrote: str | None = None
    for n in range(records):
        sid = session_id(n, records)
        if n % 2:  # dirty: on a snapshot's commit
            commit, snapshot = snapshots[(n // 2) % len(snapshots)]
        else:
            commit, snapshot = commits[(n // 2) % len(commits)][0], None
        branch = by_commit[commit]
        make = kedro_record if random.Random(-n).random() < 0.5 else command_record
        record = make(n, records, commit, branch, snapshot)
        if history:
            out += save_commit(f"gitprov: save session {sid}", 1_760_000_000 + n)
            out += "".join(f"merge {pin}\n" for pin in (commit, snapshot) if pin).encode()
        out += f"M 100644 inline {gp_storage.record_path(sid)}\n".encode()
        out += data(dump(record))
        listed = [*record["run"]["inputs"], *record["run"]["outputs"]]
        if wrote is None and n >= records // 2 and record["run"]["outputs"]:
            wrote = record["run"]["outputs"][0]["digest"]
        for hex_digest in sorted({i["digest"].removeprefix("sha256:") for i in listed}):
            index = f"{gp_storage.DIGESTS_DIR}/{gp_storage.index_path(hex_digest, sid)}"
            out += f"M 100644 :1 {index}\n".encode()
        fields = {
            "session_id": sid,
            "branch": branch,
            "dirty": snapshot is not None,
            "status": record["run"]["status"],
            "snapshot": snapshot[: gp_notes.SHORT] if snapshot else None,
        }
        notes.setdefault(commit, []).append(gp_notes.note_line(fields))
    out += b"commit refs/notes/provenance\n"
    out += b"author %s 1760000000 +0000\ncommitter %s 1760000000 +0000\n" % (IDENT, IDENT)
    out += data(b"gitprov: notes")
    for commit, lines in sorted(notes.items()):
        note = ("\n".join(sorted(lines)) + "\n").encode()
        out += f"M 100644 inline {commit[:2]}/{commit[2:]}\n".encode() + data(note)
    git(repo, "fast-import", "--quiet", input=bytes(out))
    git(repo, "reset", "-q", "--hard", "main")
    # packed as git gc leaves a repository (fast-import's own pack deltifies each record
    # against the one before it, which makes reading them back twice as slow)
    git(repo, "repack", "-a", "-d", "-f", "-q")
    git(repo, "commit-graph", "write", "--reachable")
    assert wrote is not None
    return Fixture(
        repo,
        records,
        wrote,
        (session_id(records // 3, records), session_id(records // 3 + 1, records)),
    )


def fixture(folder: Path, records: int, history: bool) -> Fixture:
    """The fixture in ``folder``: the one built there before (``--keep``), else a new one."""
    described = folder / "fixture.json"
    if described.exists():
        kept = json.loads(described.read_text())
        if (kept["records"], kept["history"], kept.get("layout")) == (records, history, LAYOUT):
            print(f"fixture: reusing {folder}")
            return Fixture(folder / "repo", records, kept["digest"], tuple(kept["pair"]))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started_at = time.perf_counter()
    built = build(folder / "repo", records, history)
    took = time.perf_counter() - started_at
    kind = "one commit per record" if history else "one commit"
    print(f"fixture: {records} records ({kind}) in {built.repo}, built in {took:.1f}s")
    described.write_text(
        json.dumps(
            {
                "records": records,
                "history": history,
                "layout": LAYOUT,
                "digest": built.digest,
                "pair": built.pair,
            }
        )
    )
    return built


def process(*args: str) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def output(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def gitprov_in(repo: Path) -> list[str]:
    """The command users run (the script installed beside this Python), on ``repo``."""
    script = Path(sys.executable).with_name("gitprov")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "gitprov"]
    return [*command, "-C", str(repo)]


def record_folders(repo: Path) -> list[str]:
    """``FORMAT`` and the fanout folders of the records ref: not ``digests/``, whose 100k
    small trees make a whole listing ten times the ~45 ms issue 15 names."""
    top = git(repo, "ls-tree", "--name-only", "refs/provenance/sessions").split()
    return [name for name in top if name not in (gp_storage.DIGESTS_DIR, "forgotten")]


def index_files(repo: Path) -> list[Path]:
    index = repo / ".git" / "gitprov" / "index.sqlite"
    return [index, *(index.with_name(index.name + end) for end in ("-wal", "-shm"))]


def check(flat: Fixture, ours: list[str]) -> None:
    """Correctness first: each timed command answers as it should."""
    newest = output(*ours, "list", "--limit", "20", "--format", "ids").split()
    last = flat.records - 1
    assert newest == [session_id(n, flat.records) for n in range(last, last - 20, -1)], newest
    asked = ["list", "--where", "params.lr=0.01", "--status", "failed", "--format", "json"]
    matched = json.loads(output(*ours, *asked))
    assert 0 < len(matched) < flat.records // 10, len(matched)
    assert all(m["status"] == "failed" for m in matched), matched[0]
    which = output(*ours, "which", flat.digest).splitlines()
    assert len(which) == 2, which
    compared = output(*ours, "compare", *flat.pair).splitlines()
    assert flat.pair[0] in compared[0] and len(compared) > 5, compared
    print(
        f"checked: list --limit 20 lists the 20 newest; --where params.lr=0.01 --status "
        f"failed: {len(matched)} runs; which: 1 run; compare: {len(compared) - 1} keys differ"
    )


def run(flat: Fixture, history: Fixture, rounds: int, build_rounds: int) -> None:
    repo = flat.repo
    ours = gitprov_in(repo)
    anchor = ["git", "-C", str(repo), "ls-tree", "-r", "--name-only", "refs/provenance/sessions"]
    folders = record_folders(repo)
    listed = output(*anchor, *folders).count("\n")
    print(f"anchor: {' '.join(anchor[3:])} <FORMAT and the {len(folders) - 1} fanout folders>")
    print(f"        ({listed} names; whole process, as each gitprov command)")
    process(*ours, "list", "--limit", "1")  # the index is built, untimed
    check(flat, ours)

    def vs_anchor(what: str, *args: str) -> None:
        print(f"ours: gitprov {' '.join(args)}")
        compare(
            f"warm {what}, {flat.records} records vs git ls-tree",
            lambda: process(*ours, *args),
            lambda: process(*anchor, *folders),
            rounds,
            3.0,
        )

    vs_anchor("list --limit 20", "list", "--limit", "20")
    failed = ["--where", "params.lr=0.01", "--status", "failed"]
    vs_anchor("list --where params.lr=0.01 --status failed", "list", *failed)
    vs_anchor("which sha256:...", "which", flat.digest)
    vs_anchor("compare A B", "compare", *flat.pair)

    listing = output("git", "-C", str(repo), "ls-tree", "-r", "refs/provenance/sessions", *folders)
    blobs = "".join(f"{line.split()[2]}\n" for line in listing.splitlines() if ".yaml" in line)

    def first_build() -> None:
        for path in index_files(repo):
            path.unlink(missing_ok=True)
        process(*ours, "list", "--limit", "20")

    def cat_file() -> None:
        cat = ["git", "-C", str(repo), "cat-file", "--batch"]
        subprocess.run(cat, input=blobs.encode(), stdout=subprocess.DEVNULL, check=True)

    print("ours: the index file removed, then gitprov list --limit 20")
    print(f"anchor: git cat-file --batch reading the {blobs.count(chr(10))} record blobs")
    compare(
        f"first index build, {flat.records} records vs git cat-file --batch",
        first_build,
        cat_file,
        build_rounds,
        10.0,
    )

    verify = [*gitprov_in(history.repo), "verify"]
    checked = output(*verify)  # the index is built, untimed
    assert checked == f"ok: {history.records} record(s) verified\n", checked
    fsck = ["git", "-C", str(history.repo), "fsck", "--connectivity-only", "--no-progress"]
    print(f"ours: gitprov verify (one commit per record); anchor: {' '.join(fsck[3:])}")
    compare(
        f"warm verify, {history.records} records vs git fsck --connectivity-only",
        lambda: process(*verify),
        lambda: process(*fsck),
        rounds,
        3.0,
    )

    saving = repo.parent.parent / "saving"  # a copy: the fixture stays as built, reusable
    shutil.rmtree(saving, ignore_errors=True)
    shutil.copytree(repo, saving, symlinks=True)

    def save(index: bool) -> None:
        """One ``gitprov.record()`` save, with the index file present or moved aside."""
        for path in index_files(saving):
            moved = path.with_name(path.name + ".aside")
            if index and moved.exists():
                moved.rename(path)
            elif not index and path.exists():
                path.rename(moved)
        with gitprov.record(saving, params={"lr": 0.01}, metrics={"auc": 0.9}):
            pass

    print("ours: with gitprov.record(repo, params=..., metrics=...): pass (in-process)")
    compare(
        f"save with the index vs without it, {flat.records} records",
        lambda: save(True),
        lambda: save(False),
        rounds,
        1.1,
    )
    shutil.rmtree(saving)

    print("[extra] lines below have no verdict of their own")
    compare(
        "gitprov --version (start-up alone) vs git ls-tree",
        lambda: process(*ours, "--version"),
        lambda: process(*anchor, *folders),
        rounds,
        3.0,
    )
    fsck_flat = ["git", "-C", str(repo), "fsck", "--connectivity-only", "--no-progress"]
    compare(
        f"warm verify, {flat.records} records in one commit vs git fsck --connectivity-only",
        lambda: process(*ours, "verify"),
        lambda: process(*fsck_flat),
        rounds,
        3.0,
    )
    compare(
        "git ls-tree of the whole records ref (digests/ too) vs of the record folders",
        lambda: process(*anchor),
        lambda: process(*anchor, *folders),
        rounds,
        3.0,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the fixture")
    parser.add_argument("--dir", type=Path, default=HERE / ".work" / "query")
    parser.add_argument("--build-only", action="store_true", help="build, print the path")
    parser.add_argument("--verify-records", type=int, default=VERIFY_RECORDS)
    parser.add_argument("--build-rounds", type=int, default=3, help="rounds of the first build")
    args = parser.parse_args()
    work: Path = args.dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    isolate(Path(tempfile.mkdtemp(prefix="env-", dir=work)))
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode cached
    os.environ["KEDRO_DISABLE_TELEMETRY"] = "1"
    flat = fixture(work / f"flat-{args.records}", args.records, history=False)
    print(f"which: {flat.digest}; compare: {' '.join(flat.pair)}")
    if args.build_only:
        return 0
    history = fixture(work / f"history-{args.verify_records}", args.verify_records, history=True)
    try:
        run(flat, history, args.rounds, args.build_rounds)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0  # a missed target is reported, not failed (see README)


if __name__ == "__main__":
    sys.exit(main())
