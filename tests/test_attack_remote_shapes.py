"""Attacks through a real hostile remote on what reads what it sent (issue 15): its records
tree vetted by ``list_blobs`` (records as gitprov writes them taken at once, the rest entry
by entry) and its records read by their shape in the index's parsing processes.

The remote holds many records of a dozen layouts (more than a reader keeps shapes of,
interleaved), a few crafted to match a shape but mean something else, and entries named or
typed like records that are not ones. Whatever ``gitprov fetch``/``sync`` bring, ``list``
answers as an index read with no shapes answers, and as ``SessionLog`` reads each record;
what is left out is named (never its contents) and never pushed on."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gitprov.audit.compare import flatten_record
from gitprov.audit.log import SessionLog
from gitprov.errors import CorruptRecordError
from gitprov.index.fastyaml import Shapes
from gitprov.model.document import dump, run_status
from gitprov.model.limits import MAX_BLOB_BYTES
from gitprov.store.records import fanout, record_path
from test_attack_index_load import group
from test_hostile_remote import Tree, blob, commit, mktree, names, plumb, read_tree

from conftest import cli, git, make_repo

RECORDS = "refs/provenance/sessions"
EVIL = "refs/provenance/remotes/evil/sessions"
#: More layouts than a reader keeps shapes of: they push each other out.
LAYOUTS = Shapes.MOST + 4
PER_LAYOUT = 40
TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
COLUMNS = (
    "run.status,run.duration_s,run.params.lr,run.params.epochs,git.dirty,git.commit,"
    "git.branch,run.pipeline_names,metrics.auc,provenance.saved_at,username"
)

#: ``gitprov`` whose index reads no record by its shape (``Shapes.MOST`` 0: none kept),
#: in one process: the record-by-record reading the shapes must answer as.
NO_SHAPES = textwrap.dedent(
    """
    import sys
    from gitprov.index.fastyaml import Shapes
    Shapes.MOST = 0
    from gitprov.cli import main
    main(sys.argv[1:], prog_name="gitprov")
    """
)
#: ``gitprov`` with a big first build (parsing processes) made of any size.
SMALL_BIG = textwrap.dedent(
    """
    import sys
    import gitprov.index.query as q
    q._PARALLEL, q._CHUNK, q._BATCH = 8, 16, 64
    from gitprov.cli import main
    main(sys.argv[1:], prog_name="gitprov")
    """
)


def record_of(sid: str, layout: int, n: int) -> dict[str, Any]:
    """A Kedro-like record of ``layout`` (its extra key), values varying with ``n``."""
    return {
        "session_id": sid,
        "package_name": "p",
        f"k{layout}": 1,
        "username": "ada",
        "run": {
            "status": ["success", "failed"][n % 2],
            "pipeline_names": ["__default__", "train"],
            "inputs": [{"dataset": "a", "digest": "sha256:" + "a" * 64}],
            "params": {"lr": [0.1, 0.01][n % 2], "epochs": n, "model": {"depth": 3}},
            "started_at": f"2025-01-02T03:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
            "duration_s": n + 0.5,
        },
        "git": {"commit": f"{n:040x}", "branch": "main", "dirty": n % 3 == 0},
        "metrics": {"auc": n / 1000},
        "provenance": {"format": 2, "saved_at": "2025-01-02T03:04:06Z"},
    }


def sid_of(layout: int, n: int) -> str:
    """Ids that sort the layouts interleaved: the parsers see them in turn."""
    return f"r{n:03d}-{layout:02d}"


def text_of(layout: int, n: int) -> str:
    return dump(record_of(sid_of(layout, n), layout, n)).decode()


def trap(layout: int, n: int, head: str, new: str) -> bytes:
    """A record of ``layout`` with its first line that starts ``head`` made ``new``."""
    lines = text_of(layout, n).splitlines(keepends=True)
    at = next(at for at, line in enumerate(lines) if line.startswith(head))
    lines[at] = new
    return "".join(lines).encode()


def traps() -> dict[str, bytes]:
    """Records that match a shape's lines but not its meaning, by the id they are stored
    under (each of a layout whose shape the parsers know by then)."""
    return {
        # a value that is another type: a list, a mapping, a text, a number, a date, null
        sid_of(0, 50): trap(0, 50, "    lr:", "    lr: [0.01]\n"),
        sid_of(1, 51): trap(1, 51, "    lr:", "    lr: {a: 1}\n"),
        sid_of(2, 52): trap(2, 52, "  dirty:", "  dirty: 'false'\n"),
        sid_of(3, 53): trap(3, 53, "  duration_s:", "  duration_s: '53.5'\n"),
        sid_of(4, 54): trap(4, 54, "  commit:", "  commit: 12345\n"),
        sid_of(5, 55): trap(5, 55, "  status:", "  status: 2025-01-02\n"),
        sid_of(6, 56): trap(6, 56, "  auc:", "  auc: ~\n"),
        sid_of(7, 57): trap(7, 57, "  auc:", "  auc: 0x1F\n"),
        sid_of(8, 58): trap(8, 58, "  auc:", "  auc: .inf\n"),
        sid_of(9, 59): trap(9, 59, "  status:", "  status: !!str 7\n"),
        # an item that is a mapping, a sequence, an empty collection
        sid_of(10, 50): trap(10, 50, "  - train", "  - train: x\n"),
        sid_of(11, 51): trap(11, 51, "  - train", "  - - train\n"),
        sid_of(0, 52): trap(0, 52, "  - train", "  - []\n"),
        sid_of(1, 53): trap(1, 53, "  auc:", "  auc: {}\n"),
        # a key twice (the last wins), a key spelt with dots
        sid_of(2, 54): trap(2, 54, "    lr:", "    lr: 0.1\n    lr: 7\n"),
        sid_of(3, 55): trap(3, 55, "username:", "username: ada\nrun.status: x\n"),
        # skimmed entries (run.inputs, provenance.format) that are not sound YAML
        sid_of(4, 56): trap(4, 56, "  - dataset:", "  - dataset: a: b\n"),
        sid_of(5, 57): trap(5, 57, "  format:", f"  format: '{TOKEN}\n"),
        sid_of(6, 58): trap(6, 58, "  format:", f"  format: !!int {TOKEN}\n"),
        sid_of(7, 59): trap(7, 59, "  - dataset:", "  - dataset: &x a\n"),
        # the id of another session, and a secret where the id is
        sid_of(8, 50): trap(8, 50, "session_id:", f"session_id: {sid_of(8, 1)}\n"),
        sid_of(9, 52): trap(9, 52, "session_id:", f"session_id: {TOKEN}\n"),
        # a tab, a line break YAML reads, a document's end
        sid_of(10, 52): trap(10, 52, "  branch:", "  branch: ma\tin\n"),
        sid_of(11, 53): trap(11, 53, "  branch:", "  branch: ma\x85in\n"),
        sid_of(0, 54): trap(0, 54, "username:", "username: ada\n...\n"),
    }


def blobs(repo: Path, datas: list[bytes]) -> list[str]:
    """The ids of ``datas`` written as blobs into ``repo``, by one ``hash-object``."""
    folder = repo.parent / "blobs"
    folder.mkdir(exist_ok=True)
    paths = []
    for at, data in enumerate(datas):
        path = folder / str(at)
        path.write_bytes(data)
        paths.append(str(path))
    out = plumb(repo, "hash-object", "-w", "--stdin-paths", data="\n".join(paths).encode())
    return out.split()


def junk(repo: Path) -> Tree:
    """Entries named or typed like records that are none, with the record each would be."""
    ok = blob(repo, b"session_id: x\n")
    out: Tree = {}

    def put(sid: str, name: str, value: tuple[str, str] | Tree) -> None:
        folder = out.setdefault(fanout(sid), {})
        assert isinstance(folder, dict)
        folder[name] = value

    big = b"session_id: big-1\nrun: {status: failed}\n#" + b"x" * MAX_BLOB_BYTES + b"\n"
    put("big-1", "big-1.yaml", ("100644", blob(repo, big)))
    wrong = "wrong-1"
    other = format((int(fanout(wrong), 16) + 1) % 256, "02x")
    out.setdefault(other, {})[f"{wrong}.yaml"] = ("100644", ok)  # type: ignore[index]
    put("exec-1", "exec-1.yaml", ("100755", ok))
    put("link-1", "link-1.yaml", ("120000", blob(repo, b"../../FORMAT")))
    put("sub-1", "sub-1.yaml", ("160000", "1" * 40))
    put("tree-1", "tree-1.yaml", {fanout("in-1"): {"in-1.yaml": ("100644", ok)}})
    put("tab\t1", "tab\t1.yaml", ("100644", ok))
    put("nl\n1", "nl\n1.yaml", ("100644", ok))
    put("sp-1 ", "sp-1 .yaml", ("100644", ok))
    put("é-1", "é-1.yaml", ("100644", ok))
    put("dot-1", "dot-1.yml", ("100644", ok))
    return out


#: The entries :func:`junk` holds, as the warnings name them (``ls-tree``'s paths).
JUNK = ["big-1", "wrong-1", "exec-1", "link-1", "sub-1", "tree-1", "tab\\t1", "nl\\n1", "sp-1 "]
#: What the victim saved itself; the first also in the remote, with other content.
OWN = [sid_of(1, 1), "own-1", "own-2"]


class Remotes:
    """A clean bare ``origin``, a hostile bare ``evil`` whose records tree holds
    :func:`record_of` records of every layout, :func:`traps` and :func:`junk`, and the
    victim, a clone of ``origin`` with records of its own and ``evil`` as a remote."""

    def __init__(self, root: Path) -> None:
        seed = make_repo(root / "seed")
        self.origin = root / "origin.git"
        self.evil = root / "evil.git"
        for bare in (self.origin, self.evil):
            git(root, "clone", "-q", "--bare", str(seed), str(bare))
        mate = root / "mate"
        git(root, "clone", "-q", str(self.evil), str(mate))
        assert cli("-C", str(mate), "init").returncode == 0
        from gitprov.git import Git
        from gitprov.store.records import RecordStore

        RecordStore(Git.discover(mate)).save(
            "mate-1", text_of(0, 999).replace(sid_of(0, 999), "mate-1").encode()
        )
        assert cli("-C", str(mate), "sync").returncode == 0
        self.sent = {
            sid_of(layout, n): text_of(layout, n).encode()
            for n in range(PER_LAYOUT)
            for layout in range(LAYOUTS)
        }
        self.sent.update(traps())
        shas = blobs(self.evil, list(self.sent.values()))
        tree = read_tree(self.evil, RECORDS)
        for sid, sha in zip(self.sent, shas, strict=True):
            folder = tree.setdefault(fanout(sid), {})
            folder[f"{sid}.yaml"] = ("100644", sha)
        for folder, entries in junk(self.evil).items():
            tree[folder] = {**tree.get(folder, {}), **entries}
        tip = plumb(self.evil, "rev-parse", RECORDS)
        plumb(self.evil, "update-ref", RECORDS, commit(self.evil, mktree(self.evil, tree), tip))
        plumb(self.evil, "fsck", "--strict", "--full", "--no-progress")  # git finds it clean
        self.victim = root / "victim"
        git(root, "clone", "-q", str(self.origin), str(self.victim))
        store = RecordStore(Git.discover(self.victim))
        for sid in OWN:
            store.save(sid, dump(record_of(sid, 20, 7)))
        git(self.victim, "remote", "add", "evil", str(self.evil))


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Remotes:
    """:class:`Remotes`, with ``evil``'s records fetched into the victim."""
    built = Remotes(tmp_path_factory.mktemp("remote-shapes"))
    fetched = cli("-C", str(built.victim), "fetch", "evil", process=True)
    assert fetched.returncode == 0, fetched.stderr
    return built


def gitprov(repo: Path, *args: str, script: str = SMALL_BIG) -> subprocess.CompletedProcess[str]:
    """``gitprov *args`` in a process of its own, run by ``script``."""
    return subprocess.run(
        [sys.executable, "-c", script, "-C", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def drop_index(repo: Path) -> None:
    for old in (repo / ".git" / "gitprov").glob("index*"):
        old.unlink()


WHERE = [
    ["run.status=failed"],
    ["run.params.lr=0.01"],
    ["git.dirty=true", "run.params.lr=0.1"],
    ["metrics.auc>0.03"],
    ["run.duration_s<=20"],
    ["git.branch~ma"],
    ["run.params.lr=7"],
    ["git.commit=12345"],
]


def answers(repo: Path, script: str) -> list[tuple[int, str, list[str]]]:
    """``list`` as json with :data:`COLUMNS`, and as ids under each of :data:`WHERE`, from
    an index built anew by ``script``: exit status, output, warnings (sorted)."""
    drop_index(repo)
    found = []
    for where in [None, *WHERE]:
        args = ["--format", "json", "--columns", COLUMNS] if where is None else ["--format", "ids"]
        for condition in where or []:
            args += ["--where", condition]
        out = gitprov(repo, "list", *args, script=script)
        assert "Traceback" not in out.stderr, out.stderr
        found.append((out.returncode, out.stdout, sorted(out.stderr.splitlines())))
    return found


def read_one_by_one(repo: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str], list[str]]:
    """What ``SessionLog`` reads, record by record: the readable records and the problems of
    the others, by id, and the entries it left out (as warned)."""
    log = SessionLog(repo)
    readable: dict[str, dict[str, Any]] = {}
    broken: dict[str, str] = {}
    for sid in log.ids():
        try:
            readable[sid] = log.get(sid)
        except CorruptRecordError as exc:
            broken[sid] = str(exc)
    return readable, broken, [str(item) for item in log.skipped]


def test_a_hostile_remote_read_by_shapes_answers_as_read_record_by_record(team: Remotes) -> None:
    """The fetched copy's records, read in parsing processes that make, match and push out
    shapes, answer ``list`` (json with columns, and ``--where``) as an index that reads no
    record by a shape does, and as ``SessionLog`` reads each: the traps' own values, the
    unreadable ones and the entries that are no records named, none of their contents."""
    shaped = answers(team.victim, SMALL_BIG)
    assert shaped == answers(team.victim, NO_SHAPES)
    readable, broken, skipped = read_one_by_one(team.victim)
    status, listed, warnings = shaped[0]
    assert status == 0
    rows = {row["session_id"]: row for row in json.loads(listed)}
    assert sorted(rows) == sorted(readable)
    assert set(traps()) - set(rows) == set(broken) != set()
    assert len(rows) > LAYOUTS * PER_LAYOUT
    for sid, record in readable.items():
        flat, row = flatten_record(record), rows[sid]
        assert row["status"] == run_status(record), sid
        for key in COLUMNS.split(","):
            if not key.startswith("provenance."):  # not compared: not a row
                expected = json.loads(json.dumps(flat.get(key), default=str))
                assert row[key] == expected, (sid, key)
    # every entry left out, and every record that does not read, named as the log names it
    said = {line.removeprefix("gitprov: warning: skipped ") for line in warnings}
    assert said == set(skipped) | {f"{EVIL}:{fanout(s)}/{s}.yaml: {p}" for s, p in broken.items()}
    for name in JUNK:
        assert sum(f"/{name}.yaml" in line for line in said) == 1, name
    assert TOKEN not in listed
    # the conditions, against the columns listed
    failed = [sid for sid, row in rows.items() if row["run.status"] == "failed"]
    assert sorted(shaped[1][1].split()) == sorted(failed)
    assert shaped[7][1].split() == [sid_of(2, 54)]  # the key twice: the last value
    assert shaped[8][1].split() == [sid_of(4, 54)]  # the commit that is a number
    verified = gitprov(team.victim, "verify")
    assert "Traceback" not in verified.stderr and TOKEN not in verified.stdout
    assert verified.returncode == gitprov(team.victim, "verify", script=NO_SHAPES).returncode


def test_the_remotes_records_make_and_push_out_shapes() -> None:
    """The attack is on shapes: read in the order the parsers take them, most records of
    the remote are read by a shape, every layout's, with more layouts than are kept."""
    from gitprov.index.extract import skimmed
    from gitprov.index.fastyaml import parse_shaped

    shapes, by_shape, made = Shapes(), 0, set()
    sent = {
        sid_of(layout, n): text_of(layout, n)
        for n in range(PER_LAYOUT)
        for layout in range(LAYOUTS)
    }
    crafted = traps()
    for sid in sorted({**sent, **crafted}):
        data = crafted.get(sid) or sent[sid].encode()
        try:
            shaped = parse_shaped(data, sid, "w", skimmed(), shapes)[1]
        except CorruptRecordError:
            continue
        by_shape += shaped is not None
        made.update(id(shape) for shape in shapes.known)
    assert by_shape > 0.5 * len(sent)
    assert len(made) > Shapes.MOST


def copy_of(team: Remotes, root: Path) -> Path:
    """A copy of the victim (its remotes the same bare repositories)."""
    clone = root / "victim"
    subprocess.run(["cp", "-a", str(team.victim), str(clone)], check=True)
    return clone


def test_sync_merges_what_it_vetted_and_pushes_on_none_of_the_rest(
    team: Remotes, tmp_path: Path
) -> None:
    """``sync evil`` then ``sync`` to the clean ``origin``: origin holds the records that
    read, each where gitprov writes it, and none of the entries or records left out; a
    clone of it lists as the victim does."""
    victim = copy_of(team, tmp_path)
    _, broken, _ = read_one_by_one(victim)
    merged = cli("-C", str(victim), "sync", "evil", process=True)
    assert merged.returncode == 0 and "Traceback" not in merged.stderr, merged.stderr
    assert TOKEN not in merged.stdout
    pushed = cli("-C", str(victim), "sync", "origin", process=True)
    assert pushed.returncode == 0, pushed.stderr
    held = [path for path in names(team.origin, RECORDS) if not path.startswith("digests")]
    ids = {path[3:].removesuffix(".yaml") for path in held if path.endswith(".yaml")}
    for path in held:  # FORMAT, folders, and records where gitprov writes them
        folder, _, name = path.partition("/")
        assert (
            path == "FORMAT"
            or (len(folder) == 2 and not name)
            or path == record_path(name.removesuffix(".yaml"))
        ), path
    assert not ids & set(broken)
    assert not any(name.partition("\t")[0].removesuffix(".yaml") in ids for name in JUNK)
    assert {sid_of(layout, n) for layout in range(LAYOUTS) for n in range(PER_LAYOUT)} <= ids
    # (evil's commit is a parent of the merge: what was left out stays in its history)
    for rev, found in ((f"{RECORDS}^2", True), (RECORDS, False)):
        grep = ["git", "-C", str(team.origin), "grep", "-I", "-c", "16C7e42F", rev]
        assert bool(subprocess.run(grep, capture_output=True, check=False).stdout) == found
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(team.origin), str(other))
    fetched = cli("-C", str(other), "fetch", "origin", process=True)
    assert fetched.returncode == 0, fetched.stderr
    mine = json.loads(answers(victim, SMALL_BIG)[0][1])
    theirs = json.loads(answers(other, SMALL_BIG)[0][1])
    assert [{**r, "source": None} for r in mine] == [{**r, "source": None} for r in theirs]


def test_a_list_killed_in_its_first_build_over_the_fetched_copy_then_answers_the_same(
    team: Remotes,
) -> None:
    """kill -9 of the whole ``list`` (its parsing processes too) while it builds the index
    of the fetched copy, at several points: no process stays, and the next ``list`` and
    ``verify`` answer as a build never interrupted."""
    expected = answers(team.victim, SMALL_BIG)
    killed = 0
    for point in (0.0, 0.05, 0.15, 0.3):
        drop_index(team.victim)
        child = subprocess.Popen(
            [sys.executable, "-c", SMALL_BIG, "-C", str(team.victim), "list"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while len(group(child.pid)) < 3 and child.poll() is None:  # parsers started
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(point)
        killed += child.poll() is None
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=15)
        while group(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group(child.pid) == []
        again = gitprov(team.victim, "list", "--format", "json", "--columns", COLUMNS)
        assert (again.returncode, again.stdout) == expected[0][:2]
        assert sorted(again.stderr.splitlines()) == expected[0][2]
    assert killed >= 2  # the kills landed in the builds


def test_readers_of_the_fetched_copy_beside_a_saver_and_maintenance(
    team: Remotes, tmp_path: Path
) -> None:
    """``list`` in a loop beside a process saving runs and ``repack -ad``, ``gc
    --prune=now`` and ``maintenance run``: each answer holds the fetched copy's rows as
    a fresh build does, and only saved ids, once each."""
    victim = copy_of(team, tmp_path)
    expected = {row["session_id"]: row for row in json.loads(answers(victim, SMALL_BIG)[0][1])}
    stop = threading.Event()

    def churn() -> None:
        tasks = (["repack", "-adq"], ["gc", "--prune=now", "--quiet"], ["maintenance", "run"])
        while not stop.is_set():
            for task in tasks:
                subprocess.run(["git", "-C", str(victim), *task], capture_output=True, check=False)

    code = textwrap.dedent(
        f"""
        import gitprov
        for i in range(12):
            with gitprov.record({str(victim)!r}, f"new-{{i:02d}}", params={{"lr": 0.01}}):
                pass
        """
    )
    saver = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    churner = threading.Thread(target=churn)
    churner.start()
    reads = 0
    try:
        while saver.poll() is None or reads < 3:
            reads += 1
            out = gitprov(victim, "list", "--format", "json", "--columns", COLUMNS)
            assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
            rows = json.loads(out.stdout)
            sids = [row["session_id"] for row in rows]
            assert len(sids) == len(set(sids))
            assert set(sids) <= set(SessionLog(victim).ids())
            for row in rows:
                if not row["session_id"].startswith("new-"):
                    assert row == expected[row["session_id"]]
    finally:
        stop.set()
        churner.join()
        saver.wait()
    assert saver.returncode == 0, saver.stderr.read() if saver.stderr else ""
    assert cli("-C", str(victim), "recover", process=True).returncode == 0
    final = answers(victim, SMALL_BIG)
    assert len(json.loads(final[0][1])) == len(expected) + 12
    assert final == answers(victim, NO_SHAPES)


def id_in(folder: str, stem: str) -> str:
    """A session id whose fanout is ``folder``."""
    return next(f"{stem}-{n}" for n in range(100_000) if fanout(f"{stem}-{n}") == folder)


def test_entries_git_would_call_duplicates_vet_as_entry_by_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote (no fsck on fetch) whose root holds a file and a folder of one name, a
    submodule and a folder of one name, a record name twice in a folder, and a record
    name that is a folder holding records: ``list_blobs`` of the fetched copy, records
    taken at once, says what reading every entry one by one says, and ``list`` lists
    what the log reads."""
    import gitprov.store.untrusted as untrusted
    from gitprov.git import Git

    remote = make_repo(tmp_path / "remote")

    def rec(sid: str, n: int) -> tuple[str, str]:
        return ("100644", blob(remote, dump(record_of(sid, 0, n))))

    def tree(rows: list[tuple[str, str]]) -> str:
        """A tree of ``rows`` (mode and id, name) as given: duplicates kept."""
        kinds = {"040000": "tree", "160000": "commit"}
        data = b"".join(
            f"{mode} {kinds.get(mode, 'blob')} {sha}\t{name}\0".encode()
            for (mode, sha), name in rows
        )
        return plumb(remote, "mktree", "-z", "--missing", data=data)

    a, b, c, e = id_in("ab", "a"), id_in("01", "b"), id_in("cd", "c"), id_in("ef", "e")
    nested = tree([(("040000", tree([(rec(e, 5), f"{e}.yaml")])), "ef")])
    root = tree(
        [
            (rec("x", 0), "FORMAT"),
            (rec("x", 0), "ab"),  # a file, then a folder, of one name
            (("040000", tree([(rec(a, 1), f"{a}.yaml")])), "ab"),
            (("160000", "1" * 40), "01"),  # a submodule, then a folder
            (("040000", tree([(rec(b, 2), f"{b}.yaml")])), "01"),
            (("040000", tree([(rec(c, 7), f"{c}.yaml"), (rec(c, 8), f"{c}.yaml")])), "cd"),
            (
                ("040000", tree([(("040000", nested), f"{e}.yaml"), (rec(e, 6), f"{e}x.yaml")])),
                "ef",
            ),
        ]
    )
    plumb(remote, "update-ref", RECORDS, commit(remote, root))
    victim = make_repo(tmp_path / "victim")
    git(victim, "remote", "add", "evil", str(remote))
    assert cli("-C", str(victim), "fetch", "evil", process=True).returncode == 0
    fast = untrusted.list_blobs(Git.discover(victim), EVIL)
    assert list(fast.records) == [c] and len(fast.left_out) == 4, fast
    monkeypatch.setattr(untrusted, "_RECORD_LINE", re.compile(b"(?!)"))
    slow = untrusted.list_blobs(Git.discover(victim), EVIL)
    assert fast == slow
    monkeypatch.undo()
    listed = gitprov(victim, "list", "--format", "ids")
    assert sorted(listed.stdout.split()) == SessionLog(victim).ids() == sorted(fast.records)
