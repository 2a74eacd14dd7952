"""Snapshots: the exact tree a dirty run used, as a commit on top of HEAD.

The tree is built in a throwaway copy of the user's index (``GIT_INDEX_FILE``), so the
user's own index is never written and unchanged files are not hashed again: only the paths
``git status`` reported are updated. Before any of them is hashed, :mod:`gitprov.state.screen`
leaves out what must not travel to every clone (secrets, the user's exclusions, what is over
the size limits); they are named in the record instead, and a tracked one keeps HEAD's
version in the snapshot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gitprov.errors import PathRefusedError
from gitprov.git import Git
from gitprov.git.objects import ObjectWriter
from gitprov.git.process import zsplit
from gitprov.model.sections import Captured, Skipped
from gitprov.state.screen import DEFAULT_RULES, Candidate, Rules, Skip, screen


@dataclass(frozen=True)
class Snapshot:
    commit: str
    skipped: list[Skipped] = field(default_factory=list)


#: Scratch indexes are named ``gitprov-index-<pid>-<random>``.
INDEX_PREFIX = "gitprov-index-"
#: A scratch index this old is a leftover whoever made it: a snapshot takes seconds.
STALE_INDEX_SECONDS = 3600.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process
    return True


def remove_stale_indexes(folder: Path) -> None:
    """Remove the scratch indexes (and their ``.lock``) of snapshots whose process died
    (kill -9 gives no chance to clean up), or that are older than any snapshot takes."""
    now = time.time()
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(INDEX_PREFIX)]
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(INDEX_PREFIX) :].split("-", 1)[0]
        with contextlib.suppress(OSError):
            stale = now - entry.stat().st_mtime > STALE_INDEX_SECONDS
            if stale or (pid.isdigit() and not _alive(int(pid))):
                os.unlink(entry.path)


@contextmanager
def scratch_index(git: Git, seed: bool) -> Iterator[dict[str, str]]:
    """An environment naming a private index file, optionally a copy of the user's index.

    It lives in the git dir (same disk, cleaned with the repository), or in the system's
    temporary folder when the git dir is read-only (an auditor's mount, a server's repo).
    """
    remove_stale_indexes(git.git_dir)
    prefix = f"{INDEX_PREFIX}{os.getpid()}-"
    try:
        fd, name = tempfile.mkstemp(prefix=prefix, dir=git.git_dir)
    except OSError:
        fd, name = tempfile.mkstemp(prefix=prefix)
    os.close(fd)
    try:
        user_index = git.git_dir / "index"
        if seed and user_index.exists():
            shutil.copy2(user_index, name)  # its mtime too: an entry racily clean stays racy
        else:
            os.unlink(name)  # git creates a missing index; an empty file would be corrupt
        yield {"GIT_INDEX_FILE": name}
    finally:
        for leftover in (name, name + ".lock"):
            if os.path.exists(leftover):
                os.unlink(leftover)


def _untracked(git: Git) -> list[str]:
    """Every untracked, non-ignored file, for when status folded them into folders."""
    listed = git.run("ls-files", "--others", "--exclude-standard", "-z", ":/")
    return [os.fsdecode(p) for p in zsplit(listed.stdout)]


_KEPT = {True: "HEAD's version", False: "no version of it (HEAD has none)"}


def _keep_head(git: Git, env: dict[str, str], commit: str | None, left: list[Skip]) -> list[Skip]:
    """Put HEAD's version of the left-out tracked paths back in the scratch index (it was
    seeded with the user's staged ones), or drop the paths HEAD does not have; ``left``
    with reasons that say which."""
    paths = sorted({s.path for s in left})
    head: dict[str, bytes] = {}
    if commit:  # the whole listing: any number of paths, and no pathspec magic to escape
        wanted = set(paths)
        for item in zsplit(git.run("ls-tree", "-r", "-z", "--full-tree", commit).stdout):
            path = os.fsdecode(item.partition(b"\t")[2])
            if path in wanted:
                head[path] = item
    zero = b"0" * (64 if git.object_format == "sha256" else 40)
    # mode 0 drops every stage of the path (a conflicted one has three), then HEAD's entry
    lines = [b"0 " + zero + b"\t" + os.fsencode(path) for path in paths]
    lines += [head[path] for path in paths if path in head]
    git.run("update-index", "-z", "--index-info", input=b"".join(x + b"\0" for x in lines), env=env)
    return [
        Skip(s.path, True, f"{s.reason}; the snapshot keeps {_KEPT[s.path in head]}", s.size)
        for s in left
    ]


def take_snapshot(
    git: Git,
    writer: ObjectWriter,
    section: Captured,
    session_id: str,
    *,
    untracked_listed: bool,
    rules: Rules = DEFAULT_RULES,
) -> Snapshot:
    """Commit the work tree as it is now (parent: HEAD) and return it.

    ``section`` is the uncapped ``git:`` section of this moment; ``untracked_listed`` says
    whether it names every untracked file (``untracked="all"``) or they must be listed here.
    """
    assert git.worktree is not None
    changed = section["changes"]
    tracked = [c["path"] for c in changed if c["status"] != "untracked"]
    untracked = (
        [c["path"] for c in changed if c["status"] == "untracked"]
        if untracked_listed
        else _untracked(git)
    )
    candidates = [Candidate(p, True) for p in tracked] + [Candidate(p, False) for p in untracked]
    left = screen(git.worktree, candidates, rules)
    left_out = {s.path for s in left}
    # a renamed file left out takes its old name back too: HEAD's version is under it
    renamed_from = [
        Skip(c["from"], True, f"renamed to {c['path']}, which is left out")
        for c in changed
        if c["path"] in left_out and "from" in c
    ]
    left_tracked = [s for s in left if s.tracked] + renamed_from
    skipped = [s for s in left if not s.tracked]
    # a nested repository shows as "dir/": update-index records it as a gitlink by its name
    paths = [p.rstrip("/") for p in tracked + untracked if p not in left_out]
    with scratch_index(git, seed=True) as env:
        while True:
            stdin = b"".join(os.fsencode(p) + b"\0" for p in paths)
            args = ("update-index", "--add", "--remove", "--replace", "-z", "--stdin")
            try:
                git.run(*args, input=stdin, env=env)
            except PathRefusedError as exc:  # e.g. a nested repository with no commit yet
                if exc.path not in paths:
                    raise
                skipped.append(Skip(exc.path, False, f"git cannot add it: {exc.reason}"))
                paths.remove(exc.path)
            else:
                break
        if left_tracked:
            left_tracked = _keep_head(git, env, section["commit"], left_tracked)
        tree = git.run("write-tree", env=env).text.strip()
    parents = [section["commit"]] if section["commit"] else []
    commit = writer.commit(tree, parents, f"gitprov: snapshot of session {session_id}\n")
    listed = [s.entry() for s in sorted(skipped + left_tracked, key=lambda s: s.path)]
    return Snapshot(commit, listed)
