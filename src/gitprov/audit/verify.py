"""For auditors: check that every record parses and still names code the repository holds.

It only reads, and reads no record itself: the query index (:mod:`gitprov.index`, caught up
from the records refs in one batch) says of each record its commit, its snapshot and what
is wrong with it (it does not parse, a field has an odd type). Whatever the number of
records, a fixed number of git processes run: the gitprov commits that keep code reachable
listed by one ``rev-list``, snapshot trees walked in-process (a subtree that several share
is read once), every object's presence asked in one ``cat-file --batch-check``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from gitprov.audit.log import SessionLog
from gitprov.git import Git
from gitprov.git.objects import GITLINK_MODE, IDENTITY, commit_tree, parse_tree
from gitprov.git.reader import ObjectReader
from gitprov.progress import Progress
from gitprov.refs import namespace


def _present(git: Git, names: Iterable[str]) -> set[str]:
    """Which of ``names`` exist as objects (one ``cat-file --batch-check``)."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return set()
    out = git.run(
        "cat-file", "--batch-check=%(objectname)", input="\n".join(wanted).encode() + b"\n"
    )
    lines = out.text.splitlines()
    return {name for name, line in zip(wanted, lines, strict=True) if not line.endswith(" missing")}


class _Snapshots:
    """The blobs below snapshot trees, read through one reader; a subtree that several
    snapshots share (most of them) is read once."""

    def __init__(self, cat: ObjectReader, hash_len: int) -> None:
        self._cat = cat
        self._hash_len = hash_len
        self._trees: dict[str, dict[str, str] | str] = {}  # tree -> {blob: path} or problem
        self._commits: dict[str, dict[str, str] | str] = {}

    def blobs(self, commit: str) -> dict[str, str] | str:
        """``{blob: path}`` below ``commit``'s tree (gitlinks point elsewhere and are
        skipped), or why the tree cannot be read."""
        if commit not in self._commits:
            obj = self._cat.read(commit)
            if obj is None or obj.type != "commit":
                self._commits[commit] = f"its commit {commit[:12]} cannot be read"
            else:
                self._commits[commit] = self._tree(commit_tree(obj.data))
        return self._commits[commit]

    def _tree(self, sha: str) -> dict[str, str] | str:
        if sha not in self._trees:
            self._trees[sha] = self._walk(sha)
        return self._trees[sha]

    def _walk(self, sha: str) -> dict[str, str] | str:
        obj = self._cat.read(sha)
        if obj is None or obj.type != "tree":
            return f"its tree {sha[:12]} cannot be read"
        try:
            entries = parse_tree(obj.data, self._hash_len)
        except ValueError as exc:
            return f"its tree {sha[:12]} cannot be read ({exc})"
        found: dict[str, str] = {}
        for name, entry in entries.items():
            if entry.is_tree:
                below = self._tree(entry.sha)
                if isinstance(below, str):
                    return below
                found.update((blob, f"{name}/{path}") for blob, path in below.items())
            elif entry.mode != GITLINK_MODE:
                found.setdefault(entry.sha, name)
        return found


def _pinned(git: Git, ref: str) -> set[str]:
    """Commits the provenance refs keep alive, as far as the user's history does not.

    One ``rev-list --parents`` from the refs' tips, leaving out what the user's branches,
    tags and remote-tracking branches reach: gitprov's own commits (saves, merges,
    snapshots), anything only they reach, and their parents (the pins). A commit that only
    a branch keeps, and no record pins, is not counted (deleting the branch would lose
    it). When ``rev-list`` cannot walk (an object is missing, which ``verify`` reports),
    gitprov's commits are walked one by one through a reader, which goes on past it (and
    counts only them and their parents).
    """
    tips = git.run("for-each-ref", "--format=%(objectname)", namespace(ref)).text.split()
    if not tips:
        return set()
    walked = git.run(
        "rev-list", "--parents", *tips, "--not", "--branches", "--tags", "--remotes", ok=(0, 128)
    )
    if walked.returncode != 0:
        return _walked(git, tips)
    return {*tips, *walked.text.split()}


def _walked(git: Git, tips: list[str]) -> set[str]:
    """:func:`_pinned` by reading commits one by one (slower, but it goes past a missing
    one)."""
    seen: set[str] = set()
    keep: set[str] = set()
    with git.local_objects() as cat:
        todo = list(tips)
        while todo:
            sha = todo.pop()
            if sha in seen:
                continue
            seen.add(sha)
            keep.add(sha)
            obj = cat.read(sha)
            if obj is None or obj.type != "commit":
                continue
            header = obj.data.split(b"\n\n", 1)[0].decode("utf-8", "replace").splitlines()
            parents = [line[7:] for line in header if line.startswith("parent ")]
            keep.update(parents)
            if any(line.startswith(f"author {IDENTITY} ") for line in header):
                todo.extend(parents)
    return keep


#: ``(session, commit, snapshot, problem)``: what verify checks of a record, as the index
#: knows it (``problem`` already worded for the report).
_Record = tuple[str, "str | None", "str | None", "str | None"]

#: How many records the progress line counts at once (a call per record would cost more
#: than checking it).
_STEP = 1024


def _records(log: SessionLog, ids: list[str] | None) -> list[_Record]:
    """Each record asked for (default: all), by id; named ones are resolved first, so an
    unknown id is an error. A fetched copy's record that does not parse is left out: the
    index names it in a warning, as every reader does."""
    wanted = None if not ids else {log.resolve(i) for i in ids}
    with log.index() as index:
        unreadable = {e.session_id: e for e in index.unreadable()}
        rows: list[_Record] = index.code()
    if wanted is not None:
        rows = [row for row in rows if row[0] in wanted]
    if not unreadable:
        return rows
    found = []
    for sid, commit, snapshot, problem in rows:
        broken = unreadable.get(sid)
        if broken is not None:
            if broken.source != log.ref:
                continue
            problem = f"record does not parse: {problem}"
        found.append((sid, commit, snapshot, problem))
    return found


def verify(log: SessionLog, ids: list[str] | None = None) -> tuple[int, list[str]]:
    """Check records (default: all); returns (records checked, one line per problem, each
    naming its record, in the order of the records)."""
    git = log.git
    records = _records(log, ids)
    hash_len = hashlib.new(git.object_format).digest_size
    object_id = re.compile(f"[0-9a-f]{{{2 * hash_len}}}")
    named = {sha for _, commit, snapshot, _ in records for sha in (commit, snapshot) if sha}
    valid = {sha for sha in named if object_id.fullmatch(sha)}
    present = _present(git, valid)
    reachable = _pinned(git, log.ref) if valid else set()
    found: dict[str, list[str]] = {}
    below: dict[str, str] = {}  # session -> its snapshot, present and kept reachable

    def check(sid: str, kind: str, sha: str, snapshot_missing: bool) -> None:
        if sha not in valid:
            found.setdefault(sid, []).append(f"{kind} {sha[:80]!r} is not an object id")
        elif sha not in present:
            found.setdefault(sid, []).append(f"{kind} {sha} is missing from the repository")
        elif sha not in reachable and not snapshot_missing:
            found.setdefault(sid, []).append(
                f"{kind} {sha} is not reachable from {log.ref}; git gc may delete it"
            )
        elif kind == "snapshot":
            below[sid] = sha

    with Progress("Verifying records", len(records)) as progress:
        for start in range(0, len(records), _STEP):
            for sid, commit, snapshot, problem in records[start : start + _STEP]:
                if problem:
                    found.setdefault(sid, []).append(problem)
                missing = snapshot is not None and snapshot not in present
                if commit is not None:
                    check(sid, "commit", commit, missing)
                if snapshot is not None:
                    check(sid, "snapshot", snapshot, missing)
            progress.advance(min(_STEP, len(records) - start))
    distinct = sorted(set(below.values()))  # each once, however many runs share it
    listed: dict[str, dict[str, str] | str] = {}
    with git.local_objects() as cat, Progress("Reading snapshots", len(distinct)) as progress:
        snapshots = _Snapshots(cat, hash_len)
        for sha in distinct:
            listed[sha] = snapshots.blobs(sha)
            progress.advance()
    blobs = {blob for files in listed.values() if isinstance(files, dict) for blob in files}
    there = _present(git, blobs)
    lost: dict[str, list[str]] = {}
    for sha, files in listed.items():
        if isinstance(files, str):
            lost[sha] = [f"snapshot {sha[:12]}: {files}"]
        else:
            lost[sha] = [
                f"snapshot {sha[:12]}: file {files[blob]} ({blob[:12]}) is missing"
                for blob in sorted(set(files) - there)
            ]
    for sid, sha in below.items():
        if lost[sha]:
            found.setdefault(sid, []).extend(lost[sha])
    return len(records), [f"{sid}: {p}" for sid in sorted(found) for p in found[sid]]
