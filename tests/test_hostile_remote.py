"""Everything from a remote is hostile: what `gitprov sync`/`fetch` bring is checked before
it is merged or read, and a victim clone's own records, saves and repository stay whole.

Each hostile remote is a real bare repository that `git fsck --strict` finds clean, built
with git's own plumbing; each victim is a clone with records of its own.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from gitprov import GitSessionStore, SessionLog, record
from gitprov.errors import CorruptRecordError
from gitprov.git import Git
from gitprov.model.document import load
from gitprov.model.limits import MAX_BLOB_BYTES, MAX_YAML_DEPTH
from gitprov.store.notes import parse_line
from gitprov.store.records import fanout, record_path

from conftest import GIT_ENV, cli, git, make_repo

RECORDS = "refs/provenance/sessions"
NOTES = "refs/notes/provenance"
TRACKING = "refs/provenance/remotes/origin/sessions"
OWN = ["own-1", "own-2"]


def gitprov(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("-C", str(repo), *args, process=args[0] == "run")


def plumb(repo: Path, *args: str, data: bytes = b"") -> str:
    """Run git plumbing with ``data`` on stdin; its output, stripped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], input=data, capture_output=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode().strip()


def blob(repo: Path, data: bytes) -> str:
    return plumb(repo, "hash-object", "-w", "--stdin", data=data)


Tree = dict[str, "tuple[str, str] | Tree"]  # name -> (mode, id) or a subtree


def mktree(repo: Path, tree: Tree) -> str:
    """Write ``tree`` as git objects (``mktree``, which takes any name git allows)."""
    rows = []
    for name, value in tree.items():
        mode, sha = ("040000", mktree(repo, value)) if isinstance(value, dict) else value
        kind = {"040000": "tree", "160000": "commit"}.get(mode, "blob")
        rows.append(f"{mode} {kind} {sha}\t{name}\0".encode())
    return plumb(repo, "mktree", "-z", "--missing", data=b"".join(rows))


def commit(repo: Path, tree: str, *parents: str) -> str:
    args = [a for p in parents for a in ("-p", p)]
    return plumb(repo, "commit-tree", tree, *args, "-m", "records")


def read_tree(repo: Path, rev: str) -> Tree:
    """``rev``'s tree as :func:`mktree` takes it."""
    tree: Tree = {}
    for line in plumb(repo, "ls-tree", rev).splitlines():
        meta, name = line.split("\t")
        mode, kind, sha = meta.split()
        tree[name] = read_tree(repo, sha) if kind == "tree" else (mode, sha)
    return tree


def names(repo: Path, ref: str) -> list[str]:
    """Every path in ``ref``'s tree (folders included)."""
    out = plumb(repo, "ls-tree", "-r", "-t", "-z", "--name-only", ref)
    return [path for path in out.split("\0") if path]


def own_records(repo: Path) -> None:
    for session_id in OWN:
        with record(repo, session_id, owner="victim"):
            pass


class Team:
    """A bare remote, the teammate clone that pushed a record to it, and the victim."""

    def __init__(self, root: Path) -> None:
        seed = make_repo(root / "seed", {"README.md": "hello\n"})
        self.remote = root / "remote.git"
        git(root, "clone", "-q", "--bare", str(seed), str(self.remote))
        self.mate = root / "mate"
        git(root, "clone", "-q", str(self.remote), str(self.mate))
        with record(self.mate, "mate-1", owner="mate"):
            pass
        assert gitprov(self.mate, "sync").returncode == 0
        self.victim = root / "victim"
        git(root, "clone", "-q", str(self.remote), str(self.victim))
        own_records(self.victim)
        self.head = git(self.victim, "rev-parse", "HEAD").strip()

    def attack(self, records: Tree, notes: Tree) -> None:
        """Commit ``records`` and ``notes``, grafted on the remote's trees, onto its refs."""
        for ref, extra in ((RECORDS, records), (NOTES, notes)):
            tree = mktree(self.remote, graft(read_tree(self.remote, ref), extra))
            tip = plumb(self.remote, "rev-parse", ref)
            plumb(self.remote, "update-ref", ref, commit(self.remote, tree, tip))
        plumb(self.remote, "fsck", "--strict", "--full", "--no-progress")  # git finds it clean


def graft(tree: Tree, extra: Tree) -> Tree:
    """``tree`` with the entries of ``extra``, top-level folders merged."""
    out = dict(tree)
    for name, value in extra.items():
        old = out.get(name)
        out[name] = {**old, **value} if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def bucket(session_id: str, data: bytes, repo: Path) -> Tree:
    return {fanout(session_id): {f"{session_id}.yaml": ("100644", blob(repo, data))}}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


BOMB = (
    b"session_id: bomb\n"
    + b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + b"".join(
        b"%c: &%c [%s]\n" % (98 + i, 98 + i, b", ".join([b"*%c" % (97 + i)] * 10)) for i in range(9)
    )
)


def hostile(team: Team) -> list[str]:
    """Attack ``team``'s remote with every hostile entry; the names that must be named."""
    remote = team.remote
    record_ok = b"session_id: %s\ngit: {}\n"
    records: Tree = {
        "README": ("100644", blob(remote, b"not a record\n")),
        "zz": {"x.yaml": ("100644", blob(remote, record_ok % b"x"))},
        "00": {
            "-rf.yaml": ("100644", blob(remote, record_ok % b"-rf")),
            "..yaml": ("100644", blob(remote, record_ok % b"..")),
            "a\nb.yaml": ("100644", blob(remote, record_ok % b"ab")),
            "sub": {"nested.yaml": ("100644", blob(remote, record_ok % b"nested"))},
            "misplaced.yaml": ("100644", blob(remote, record_ok % b"misplaced")),
        },
    }
    gitlink = {fanout("linked"): {"linked.yaml": ("160000", "1" * 40)}}
    for extra in (
        gitlink,
        bucket("bomb", BOMB, remote),
        bucket("deep", b"session_id: deep\nx: " + nested(3000).encode() + b"\n", remote),
        bucket("big", b"session_id: big\nx: '" + b"y" * MAX_BLOB_BYTES + b"'\n", remote),
        bucket("baddate", b"session_id: baddate\nwhen: 2024-13-45\n", remote),
        bucket("notmap", b"- just a list\n", remote),
    ):
        records = graft(records, extra)
    assert fanout("misplaced") != "00"
    note = git(team.remote, "notes", "--ref", "provenance", "show", team.head)
    lines = [
        "- {session_id: deepnote, x: " + nested(3000) + "}",
        "- {session_id: 'a b'}",
        "- {session_id: longline, x: '" + "z" * 5000 + "'}",
    ]
    noted = blob(remote, (note + "\n".join(lines) + "\n").encode())
    stray = "ab" if team.head[:2] != "ab" else "cd"
    notes: Tree = {
        "README": ("100644", blob(remote, b"not a note\n")),
        team.head[:2]: {team.head[2:]: ("100644", noted)},
        stray: {"c" * 38: ("160000", "2" * 40)},
    }
    team.attack(records, notes)
    return [
        f"{TRACKING}:README: neither FORMAT nor a two-hex-digit folder",
        f"{TRACKING}:zz: neither FORMAT",
        f"{TRACKING}:00/-rf.yaml: not named <session id>.yaml",
        f"{TRACKING}:00/..yaml: not named <session id>.yaml",
        f"{TRACKING}:'00/a\\nb.yaml': not named <session id>.yaml",
        f"{TRACKING}:00/sub: a folder, not a file",
        f"{TRACKING}:00/misplaced.yaml: a record that belongs in folder {fanout('misplaced')}/",
        f"{TRACKING}:{fanout('linked')}/linked.yaml: a submodule, not a file",
        "the stored record of session bomb has more than 1000000 YAML nodes",
        "the stored record of session deep ",
        f"{TRACKING}:{fanout('big')}/big.yaml: {MAX_BLOB_BYTES + 22} bytes, over the",
        "the stored record of session baddate is not valid YAML (ValueError: month",
        "the stored record of session notmap is not a YAML mapping",
    ]


@pytest.fixture
def team(tmp_path: Path) -> Team:
    return Team(tmp_path)


def check_own_records_work(victim: Path, shown: list[str]) -> None:
    """The victim's own records list, show and verify; each listed id is in ``shown``."""
    listed = gitprov(victim, "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(r["session_id"] for r in yaml.safe_load(listed.stdout)) == shown
    for session_id in OWN:
        one = gitprov(victim, "show", session_id)
        assert one.returncode == 0, one.stderr
        assert yaml.safe_load(one.stdout)["owner"] == "victim"
    verified = gitprov(victim, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.strip() == f"ok: {len(shown)} record(s) verified"


def check_git_is_whole(repo: Path) -> None:
    git(repo, "fsck", "--strict", "--full", "--no-progress")
    git(repo, "gc", "-q")
    git(repo, "fsck", "--strict", "--full", "--no-progress")


def test_a_fetched_hostile_copy_is_skipped_by_readers_named_once(
    team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    expected = hostile(team)
    fetched = gitprov(team.victim, "fetch")
    assert fetched.returncode == 0, fetched.stderr
    listed = gitprov(team.victim, "list")
    assert listed.returncode == 0, listed.stderr
    assert sorted(row.split()[0] for row in listed.stdout.splitlines()[1:]) == ["mate-1", *OWN]
    for name in expected:
        assert listed.stderr.count(name) == 1, (name, listed.stderr)
    assert all(line.startswith("gitprov: warning: skipped ") for line in listed.stderr.splitlines())
    check_own_records_work(team.victim, ["mate-1", *OWN])
    bomb = gitprov(team.victim, "show", "--format", "json", "bomb")
    assert bomb.returncode == 1
    assert "session bomb has more than 1000000 YAML nodes" in bomb.stderr
    assert len(bomb.stderr.splitlines()) == 1
    on_head = gitprov(team.victim, "list", "--commit", "HEAD", "--format", "ids")
    assert on_head.returncode == 0, on_head.stderr
    assert sorted(on_head.stdout.split()) == ["mate-1", *OWN]
    noted = SessionLog(team.victim).for_commit("HEAD")  # the commit index's reader
    assert [entry["session_id"] for entry in noted] == ["mate-1", *OWN]
    assert "line 2 is not a session entry ('- {session_id: deepnote" in caplog.text
    assert "line 3 is not a session entry (\"- {session_id: 'a b'}\")" in caplog.text
    assert 'line 4 is not a session entry ("- {session_id: longline' in caplog.text
    saved = gitprov(team.victim, "run", "--id", "after-fetch", "--", "true")
    assert saved.returncode == 0, saved.stderr
    assert "after-fetch" in SessionLog(team.victim).ids()


def test_sync_leaves_hostile_entries_out_and_never_pushes_them_on(
    team: Team, tmp_path: Path
) -> None:
    expected = hostile(team)
    synced = gitprov(team.victim, "sync")
    assert synced.returncode == 0, synced.stderr
    for name in expected:
        assert synced.stderr.count(name) == 1, (name, synced.stderr)
    notes = "refs/notes/remotes/origin/provenance"
    for name in (
        f"{notes}:README: neither a note nor a fanout folder of notes",
        f"{notes} (note on {team.head}): 3 line(s) not session entries",
        f"/{'c' * 38}: neither a note",  # a submodule among the notes
    ):
        assert synced.stderr.count(name) == 1, (name, synced.stderr)
    # the local refs hold only what gitprov writes: the records, and session lines
    valid = {"FORMAT"} | {p for sid in ["mate-1", *OWN] for p in record_path(sid).split("/")}
    local = {part for path in names(team.victim, RECORDS) for part in path.split("/")}
    assert local == valid
    note = git(team.victim, "notes", "--ref", "provenance", "show", "HEAD").splitlines()
    assert [(parse_line(line) or {}).get("session_id") for line in note] == ["mate-1", *OWN]
    assert len(git(team.victim, "notes", "--ref", "provenance", "list").splitlines()) == 1
    check_git_is_whole(team.victim)
    check_own_records_work(team.victim, ["mate-1", *OWN])
    again = gitprov(team.victim, "sync")
    assert again.returncode == 0 and "left out" not in again.stderr, again.stderr
    saved = gitprov(team.victim, "run", "--id", "after-sync", "--", "true")
    assert saved.returncode == 0, saved.stderr
    # a push elsewhere carries none of it, and a clone of that remote reads it clean
    other = tmp_path / "other.git"
    git(tmp_path, "init", "-q", "--bare", str(other))
    assert gitprov(team.victim, "push", str(other)).returncode == 0
    pushed = {part for path in names(other, RECORDS) for part in path.split("/")}
    assert pushed == valid | set(record_path("after-sync").split("/"))
    third = tmp_path / "third"
    git(tmp_path, "clone", "-q", str(other), str(third))
    clean = gitprov(third, "sync")
    assert clean.returncode == 0 and clean.stderr == "", clean.stderr
    assert SessionLog(third).ids() == ["after-sync", "mate-1", *OWN]


def test_refs_that_are_not_commits_are_skipped_and_refused_on_push(team: Team) -> None:
    plumb(team.remote, "update-ref", RECORDS, blob(team.remote, b"not a commit\n"))
    plumb(team.remote, "update-ref", NOTES, mktree(team.remote, {}))
    fetched = gitprov(team.victim, "fetch")
    assert fetched.returncode == 0, fetched.stderr
    listed = gitprov(team.victim, "list", "--format", "ids")
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()) == OWN
    assert f"skipped {TRACKING}: points at a blob, not a commit" in listed.stderr
    check_own_records_work(team.victim, OWN)
    on_head = gitprov(team.victim, "list", "--commit", "HEAD", "--format", "ids")
    assert on_head.returncode == 0 and sorted(on_head.stdout.split()) == OWN, on_head.stderr
    before = git(team.victim, "rev-parse", RECORDS, NOTES)
    synced = gitprov(team.victim, "sync")
    assert synced.returncode == 1
    assert "not commits this clone's refs descend from" in synced.stderr
    assert git(team.victim, "rev-parse", RECORDS, NOTES) == before
    saved = gitprov(team.victim, "run", "--id", "after", "--", "true")
    assert saved.returncode == 0, saved.stderr
    check_git_is_whole(team.victim)


def test_a_hostile_note_line_never_makes_a_save_fail(team: Team) -> None:
    """Lines a plain `git fetch` and `git notes merge` could bring: a save on that commit
    keeps them as they are and still records."""
    deep = "- {session_id: deep, x: " + nested(3000) + "}"
    git(team.victim, "notes", "--ref", "provenance", "append", "-m", deep, "HEAD")
    saved = gitprov(team.victim, "run", "--id", "later", "--", "true")
    assert saved.returncode == 0, saved.stderr
    assert SessionLog(team.victim).ids() == ["later", *OWN]
    note = git(team.victim, "notes", "--ref", "provenance", "show", "HEAD").splitlines()
    assert deep in note and any(line.startswith("- {session_id: later,") for line in note)


def test_load_and_parse_line_refuse_without_expanding_or_recursing() -> None:
    with pytest.raises(CorruptRecordError) as bomb:
        load(BOMB, "bomb", "r:p")
    assert "has more than 1000000 YAML nodes (aliases expanded)" in str(bomb.value)
    text = b"x: &x '" + b"y" * (1 << 20) + b"'\nz: [" + b", ".join([b"*x"] * 9) + b"]\n"
    with pytest.raises(CorruptRecordError, match="characters of values through aliases"):
        load(text, "wide", "r:p")
    block = "".join(f"{'  ' * i}k:\n" for i in range(MAX_YAML_DEPTH + 1)).encode()
    with pytest.raises(CorruptRecordError, match=f"nested deeper than {MAX_YAML_DEPTH} levels"):
        load(block, "deep", "r:p")
    alias = b"a: &a " + nested(60).encode() + b"\nb: " + (b"[" * 50 + b"*a" + b"]" * 50)
    with pytest.raises(CorruptRecordError, match="once its aliases are expanded"):
        load(alias, "deep", "r:p")
    with pytest.raises(CorruptRecordError, match="inside its own anchor"):
        load(b"a: &a [*a]\n", "loop", "r:p")
    with pytest.raises(CorruptRecordError, match=f"over the {MAX_BLOB_BYTES}-byte limit"):
        load(b"x: " + b"y" * MAX_BLOB_BYTES, "big", "r:p")
    for bad in (b"x: 2024-13-45\n", b"x: !!bool maybe\n", b"x: " + b"1" * 5000 + b"\n"):
        with pytest.raises(CorruptRecordError, match="is not valid YAML") as info:
            load(bad, "odd", "r:p")
        assert "\n" not in str(info.value)
    assert load(b"a: &a {k: v}\nb: *a\n", "fine", "r:p") == {"a": {"k": "v"}, "b": {"k": "v"}}
    for line in (  # within the length limit, but nested 2000 deep: parsed, not recursed
        "- {session_id: x, d: " + nested(2000) + "}",
        "- {session_id: x, d: " + "[" * 2000 + "}",
        "- {session_id: x, d: " + nested(MAX_YAML_DEPTH) + "}",
        "- {session_id: '-rf'}",
        "- {session_id: x, y: '" + "z" * 5000 + "'}",
    ):
        assert parse_line(line) is None
    assert parse_line("- {session_id: 7, d: [[1]]}") == {"session_id": "7", "d": [[1]]}


#: Versions of one file in a chain of deltas: git forces ``--depth`` down to 4095, and
#: past ~4000 its size heuristics start a new chain.
CHAIN = 3900


def test_a_record_at_the_end_of_a_3900_deep_delta_chain_reads(team: Team) -> None:
    """A server with a large pack.depth sends deltas as deep as it likes; a read of the
    last object of the chain, in-process, used to recurse once per delta."""
    remote = team.remote
    common = b"".join(b"k%d: what every version shares\n" % i for i in range(250))

    def line(n: int) -> bytes:  # shared by versions n and n + 1 only
        return b"v%d: %s\n" % (n, hashlib.sha256(b"%d" % n).hexdigest().encode())

    # one file name (one pack name hash) and falling sizes: each version's best delta
    # base is the version before it, and the record, the last version cut short, comes last
    stream = [b"commit refs/heads/chain\ncommitter T <t@t> 0 +0000\ndata 0\n"]
    for n in range(CHAIN):
        data = common + line(n - 1) + line(n) + b"#" * (64 + CHAIN - n) + b"\n"
        stream.append(b"M 100644 inline c%04d/x-deep-delta-record.yaml\n" % n)
        stream.append(b"data %d\n%s\n" % (len(data), data))
    plumb(remote, "fast-import", "--quiet", data=b"".join(stream))
    code = plumb(remote, "rev-parse", "refs/heads/chain")
    data = common + line(CHAIN - 2) + line(CHAIN - 1) + b"\n"
    tree = graft(read_tree(remote, RECORDS), bucket("x-deep-delta-record", data, remote))
    tip = plumb(remote, "rev-parse", RECORDS)
    plumb(remote, "update-ref", RECORDS, commit(remote, mktree(remote, tree), tip, code))
    plumb(remote, "update-ref", "-d", "refs/heads/chain")
    plumb(remote, "config", "pack.depth", "4095")
    plumb(remote, "-c", "pack.threads=1", "repack", "-adfq", "--depth=4095", "--window=2")
    sync = gitprov(team.victim, "sync")
    assert sync.returncode == 0, sync.stderr
    path = f"{RECORDS}:{record_path('x-deep-delta-record')}"
    deepest = plumb(team.victim, "rev-parse", path)
    packs = (team.victim / ".git" / "objects" / "pack").glob("pack-*.idx")
    rows = [plumb(team.victim, "verify-pack", "-v", str(idx)).splitlines() for idx in packs]
    (row,) = [row for pack in rows for row in pack if row.startswith(deepest)]
    assert int(row.split()[5]) >= CHAIN, row  # the record's delta depth, in the victim's pack
    store = GitSessionStore(path=str(team.victim), session_id="x-deep-delta-record")
    assert store.read()[f"v{CHAIN - 1}"] == line(CHAIN - 1).split()[1].decode()  # in-process
    with Git.discover(team.victim).local_objects() as cat:
        found = cat.read(deepest)
    assert found is not None and found.data == data
    saved = gitprov(team.victim, "run", "--id", "after-chain", "--", "true")
    assert saved.returncode == 0, saved.stderr


def test_a_conflict_copy_names_itself_and_what_it_conflicts_with(team: Team) -> None:
    with record(team.mate, "dup", owner="mate"):
        pass
    assert gitprov(team.mate, "sync").returncode == 0
    with record(team.victim, "dup", owner="victim"):
        pass
    synced = gitprov(team.victim, "sync")
    assert synced.returncode == 0, synced.stderr
    (copy,) = re.findall(r"and (dup\+origin-[0-9a-f]{8}) \(origin's\)", synced.stdout)
    log = SessionLog(team.victim)
    kept = log.get(copy)
    assert (kept["session_id"], kept["conflict_of"], kept["owner"]) == (copy, "dup", "mate")
    assert list(kept)[:2] == ["session_id", "conflict_of"]
    theirs = git(team.mate, "show", f"{RECORDS}:{record_path('dup')}")
    mine = git(team.victim, "show", f"{RECORDS}:{record_path(copy)}")
    assert mine == f"session_id: {copy}\nconflict_of: dup\n" + theirs.split("\n", 1)[1]
    assert log.get("dup")["session_id"] == "dup"
    assert gitprov(team.mate, "sync").returncode == 0
    again = gitprov(team.victim, "sync")
    assert again.returncode == 0 and "conflict" not in again.stdout  # never copied twice
    assert SessionLog(team.mate).ids() == log.ids()


def test_a_record_claiming_another_id_is_not_read_as_it() -> None:
    from gitprov.errors import CorruptRecordError
    from gitprov.model.document import load

    with pytest.raises(CorruptRecordError, match="claims to be session 'y'"):
        load(b"session_id: y\ngit: {}\n", "x", "refs/provenance/remotes/origin/sessions:xx/x.yaml")
    assert load(b"session_id: x\n", "x", "here")["session_id"] == "x"
    assert load(b"session_id: x\n", "x+origin-1a2b3c4d", "here")["session_id"] == "x"
