"""For auditors: check that every record still names code the repository holds.

It only reads. Whatever the number of records, it starts a fixed number of git processes:
records through one reader, snapshot trees walked in-process, every object's presence
asked in one ``cat-file --batch-check``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from gitprov.audit.log import SessionLog
from gitprov.errors import CorruptRecordError
from gitprov.git import Git
from gitprov.git.objects import GITLINK_MODE, IDENTITY, commit_tree, parse_tree
from gitprov.git.reader import ObjectReader
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

    def blobs(self, commit: str) -> dict[str, str] | str:
        """``{blob: path}`` below ``commit``'s tree (gitlinks point elsewhere and are
        skipped), or why the tree cannot be read."""
        obj = self._cat.read(commit)
        if obj is None or obj.type != "commit":
            return f"its commit {commit[:12]} cannot be read"
        return self._tree(commit_tree(obj.data))

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
    """Commits kept alive by the provenance refs: gitprov's own commits and their parents.

    Walks only commits gitprov wrote (saves, merges, snapshots), so it neither wanders
    through the user's whole history nor stops at the first missing object, as
    ``git rev-list`` would.
    """
    tips = git.run("for-each-ref", "--format=%(objectname)", namespace(ref)).text.split()
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


def verify(log: SessionLog, ids: list[str] | None = None) -> tuple[int, list[str]]:
    """Check records; returns (records checked, one line per problem)."""
    git = log.git
    broken: dict[str, CorruptRecordError] = {}
    records: dict[str, dict[str, Any]] = {}
    if ids:  # named on purpose: one that cannot be read is a problem, wherever it is
        for session_id in [log.resolve(i) for i in ids]:
            try:
                records[session_id] = log.get(session_id)
            except CorruptRecordError as exc:
                broken[session_id] = exc
    else:  # all: a fetched copy that cannot be read is skipped, named (``log.skipped``)
        records = dict(log.items(broken=broken))
    problems = [f"{sid}: record does not parse: {exc}" for sid, exc in broken.items()]
    commits = {
        sid: [(k, str(r["git"][k])) for k in ("commit", "snapshot") if (r.get("git") or {}).get(k)]
        for sid, r in records.items()
    }
    present = _present(git, (sha for pairs in commits.values() for _, sha in pairs))
    reachable = _pinned(git, log.ref)
    below: dict[str, tuple[str, dict[str, str] | str]] = {}  # session -> (snapshot, blobs)
    with git.local_objects() as cat:
        snapshots = _Snapshots(cat, hashlib.new(git.object_format).digest_size)
        for sid, pairs in commits.items():
            snapshot_missing = any(k == "snapshot" and sha not in present for k, sha in pairs)
            for kind, sha in pairs:
                if sha not in present:
                    problems.append(f"{sid}: {kind} {sha} is missing from the repository")
                elif sha not in reachable and not snapshot_missing:
                    problems.append(
                        f"{sid}: {kind} {sha} is not reachable from {log.ref}; git gc may delete it"
                    )
                elif kind == "snapshot":
                    below[sid] = (sha, snapshots.blobs(sha))
    blobs = {b for _, listed in below.values() if isinstance(listed, dict) for b in listed}
    there = _present(git, blobs)
    for sid, (sha, listed) in below.items():
        if isinstance(listed, str):
            problems.append(f"{sid}: snapshot {sha[:12]}: {listed}")
            continue
        problems += [
            f"{sid}: snapshot {sha[:12]}: file {listed[blob]} ({blob[:12]}) is missing"
            for blob in sorted(set(listed) - there)
        ]
    return len(records) + len(broken), problems
