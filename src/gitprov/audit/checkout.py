"""For auditors: get the exact code of a run back, and see its uncommitted change.

Nothing here writes to the user's index, work tree or refs: checkout fills a fresh folder
through a private index.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitprov.audit.log import SessionLog
from gitprov.errors import GitProvError
from gitprov.git import Git
from gitprov.git.objects import GITLINK_MODE
from gitprov.git.process import zsplit
from gitprov.state.snapshot import scratch_index


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
