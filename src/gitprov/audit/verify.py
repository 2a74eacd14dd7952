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
from collections.abc import Iterable
from typing import NamedTuple

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


class _Record(NamedTuple):
    """What verify checks of one record, as the index knows it."""

    session_id: str
    commit: str | None
    snapshot: str | None
    problem: str | None  # already worded for the report


def _records(log: SessionLog, ids: list[str] | None) -> list[_Record]:
    """Each record asked for (default: all), by id; named ones are resolved first, so an
    unknown id is an error. A fetched copy's record that does not parse is left out: the
    index names it in a warning, as every reader does."""
    wanted = None if not ids else {log.resolve(i) for i in ids}
    with log.index() as index:
        unreadable = {e.session_id: e for e in index.unreadable()}
        rows = index.code()
    found = []
    for sid, commit, snapshot, problem in rows:
        if wanted is not None and sid not in wanted:
            continue
        broken = unreadable.get(sid)
        if broken is not None:
            if broken.source != log.ref:
                continue
            problem = f"record does not parse: {problem}"
        found.append(_Record(sid, commit, snapshot, problem))
    return found


def verify(log: SessionLog, ids: list[str] | None = None) -> tuple[int, list[str]]:
    """Check records (default: all); returns (records checked, one line per problem, each
    naming its record, in the order of the records)."""
    git = log.git
    entries = _records(log, ids)
    shas = [sha for e in entries for sha in (e.commit, e.snapshot) if sha]
    present = _present(git, shas)
    reachable = _pinned(git, log.ref) if shas else set()
    found: dict[str, list[str]] = {e.session_id: [] for e in entries}
    below: dict[str, tuple[str, dict[str, str] | str]] = {}  # session -> (snapshot, blobs)
    with (
        git.local_objects() as cat,
        Progress("Verifying records", len(entries)) as progress,
    ):
        snapshots = _Snapshots(cat, hashlib.new(git.object_format).digest_size)
        for entry in entries:
            progress.advance()
            problems = found[entry.session_id]
            if entry.problem:
                problems.append(entry.problem)
            pairs = [
                (k, sha) for k, sha in (("commit", entry.commit), ("snapshot", entry.snapshot))
            ]
            snapshot_missing = entry.snapshot is not None and entry.snapshot not in present
            for kind, sha in pairs:
                if sha is None:
                    continue
                if sha not in present:
                    problems.append(f"{kind} {sha} is missing from the repository")
                elif sha not in reachable and not snapshot_missing:
                    problems.append(
                        f"{kind} {sha} is not reachable from {log.ref}; git gc may delete it"
                    )
                elif kind == "snapshot":
                    below[entry.session_id] = (sha, snapshots.blobs(sha))
    blobs = {b for _, listed in below.values() if isinstance(listed, dict) for b in listed}
    there = _present(git, blobs)
    for sid, (sha, listed) in below.items():
        if isinstance(listed, str):
            found[sid].append(f"snapshot {sha[:12]}: {listed}")
            continue
        found[sid] += [
            f"snapshot {sha[:12]}: file {listed[blob]} ({blob[:12]}) is missing"
            for blob in sorted(set(listed) - there)
        ]
    return len(entries), [f"{sid}: {p}" for sid, problems in found.items() for p in problems]
