"""For auditors: get the exact code of a run back, see its uncommitted change, check records.

Nothing here writes to the user's index, work tree or refs: checkout fills a fresh folder
through a private index, and verify only reads.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitprov.audit.log import SessionLog
from gitprov.errors import CorruptRecordError, GitProvError
from gitprov.git.objects import IDENTITY
from gitprov.git.runner import Git, zsplit
from gitprov.refs import namespace
from gitprov.state.snapshot import scratch_index

GITLINK_MODE = "160000"


def code_commit(record: dict[str, Any]) -> str:
    """The commit holding exactly the code a run used: its snapshot, else its commit."""
    git = record.get("git") or {}
    commit = git.get("snapshot") or git.get("commit")
    if not commit:
        raise GitProvError(
            f"session {record.get('session_id')} ran before the first commit and with a clean "
            f"tree, so there is no code to restore"
        )
    return str(commit)


def _require_empty_dir(target: Path) -> bool:
    """Make sure ``target`` is a new or empty writable folder; whether it was created."""
    created = not target.exists()
    if not created:
        if not target.is_dir():
            raise GitProvError(f"{target} exists and is not a folder; name a new or empty one")
        if any(target.iterdir()):
            raise GitProvError(
                f"{target} is not empty; checkout only writes into a new or empty folder, "
                f"so nothing of yours is overwritten"
            )
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GitProvError(f"cannot create {target}: {exc.strerror}") from exc
    if not os.access(target, os.W_OK | os.X_OK):
        raise GitProvError(f"{target} is not writable; choose a folder you can write to")
    return created


@dataclass(frozen=True)
class Checkout:
    commit: str
    files: int
    submodules: list[tuple[str, str]]  # (path, sha) not restored
    skipped: list[dict[str, Any]]  # files the snapshot left out (``snapshot_skipped``)


def checkout(log: SessionLog, session_id: str, target: Path) -> Checkout:
    """Write the exact tree of a run into ``target`` (new or empty)."""
    record = log.get(session_id)
    commit = code_commit(record)
    git = log.git
    if git.run("cat-file", "-e", f"{commit}^{{tree}}", ok=(0, 1, 128)).returncode != 0:
        raise GitProvError(
            f"the code of session {record['session_id']} ({commit[:12]}) is not in this "
            f"repository; fetch the provenance refs from a remote that has it (gitprov fetch)"
        )
    created = _require_empty_dir(target)
    try:
        files, submodules = _write_tree(git, commit, target)
    except BaseException:
        if created:  # leave nothing half-written behind in a folder checkout made
            shutil.rmtree(target, ignore_errors=True)
        raise
    skipped = (record.get("git") or {}).get("snapshot_skipped") or []
    return Checkout(commit, files, submodules, [s for s in skipped if isinstance(s, dict)])


def _write_tree(git: Git, commit: str, target: Path) -> tuple[int, list[tuple[str, str]]]:
    """Write ``commit``'s tree into ``target``: (files written, submodules left out)."""
    listing = git.run("ls-tree", "-r", "-z", "--full-tree", commit).stdout
    submodules = []
    files = 0
    for item in zsplit(listing):
        meta, _, path = item.partition(b"\t")
        mode, _, sha = meta.decode().split(" ")
        if mode == GITLINK_MODE:
            submodules.append((os.fsdecode(path), sha))
        else:
            files += 1
    with scratch_index(git, seed=False) as env:
        git.run("read-tree", commit, env=env)
        git.run(f"--work-tree={target.resolve()}", "checkout-index", "--all", "--force", env=env)
    return files, submodules


def diff(log: SessionLog, session_id: str) -> bytes:
    """The uncommitted change of a run against its commit, as a git patch."""
    record = log.get(session_id)
    git_section = record.get("git") or {}
    snapshot = git_section.get("snapshot")
    if not snapshot:
        return b""
    base = (
        git_section.get("commit")
        or log.git.run("hash-object", "-t", "tree", "--stdin", input=b"").text.strip()
    )
    return log.git.run("diff", "--binary", "--no-color", "--no-ext-diff", base, snapshot).stdout


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


def _tree_problems(git: Git, commit: str) -> list[str]:
    """Objects missing below a snapshot's tree (gitlinks point elsewhere and are skipped)."""
    listing = git.run("ls-tree", "-r", "-z", "--full-tree", commit, ok=(0, 128))
    if listing.returncode != 0:
        return [f"its tree cannot be read ({listing.stderr.decode(errors='replace').strip()})"]
    blobs = {}
    for item in zsplit(listing.stdout):
        meta, _, path = item.partition(b"\t")
        mode, _, sha = meta.decode().split(" ")
        if mode != GITLINK_MODE:
            blobs[sha] = os.fsdecode(path)
    missing = set(blobs) - _present(git, blobs)
    return [f"file {blobs[sha]} ({sha[:12]}) is missing" for sha in sorted(missing)]


def _pinned(git: Git, ref: str) -> set[str]:
    """Commits kept alive by the provenance refs: gitprov's own commits and their parents.

    Walks only commits gitprov wrote (saves, merges, snapshots), so it neither wanders
    through the user's whole history nor stops at the first missing object, as
    ``git rev-list`` would.
    """
    tips = git.run("for-each-ref", "--format=%(objectname)", namespace(ref)).text.split()
    seen: set[str] = set()
    keep: set[str] = set()
    with git.objects() as cat:
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
                problems += [f"{sid}: snapshot {sha[:12]}: {p}" for p in _tree_problems(git, sha)]
    return len(records) + len(broken), problems
