"""Teams: the provenance refs of many clones meet on a git remote, nothing lost.

``fetch`` brings a remote's refs into the remote-tracking namespace (never onto the local
refs), ``merge`` folds them into the local refs, ``push`` sends the local refs (never
forced) and ``sync`` does all three until the push lands.

The merge is a union, computed the way the refs are laid out: the root trees are compared
entry by entry and only the ``xx/`` fanout buckets whose ids differ are opened, so merging
two 20k-record histories that differ by ten records reads a few dozen trees. A record
changed on one side only (a re-save) takes that side's version; the same session id saved
with different content on both sides keeps both, the remote's under a distinct, still valid
id (:func:`conflict_id`). Notes merge as ``git notes merge -s cat_sort_uniq`` would. Both
local refs then move in one compare-and-swap transaction, and one flock in the common git
dir keeps two syncs of the same repository from interleaving.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gitprov import notes
from gitprov.configure import fetch_refspec
from gitprov.errors import (
    ConcurrentUpdateError,
    GitCommandError,
    GitProvError,
    PushRejectedError,
    RemoteError,
    SyncBusyError,
)
from gitprov.objects import BLOB_MODE, TREE_MODE, Entry
from gitprov.runner import Git, ObjectReader
from gitprov.schema import validate_session_id
from gitprov.storage import (
    DEFAULT_NOTES_REF,
    DEFAULT_REF,
    FORMAT_FILE,
    FORMAT_TEXT,
    RETRY_SECONDS,
    RecordStore,
    fanout,
    tracking_ref,
)

#: Fetch-merge-push rounds before ``sync`` gives up on a remote that keeps moving.
ATTEMPTS = 10
#: How long a sync waits for another sync of the same repository to finish.
LOCK_TIMEOUT = 60.0
LOCK_NAME = "gitprov-sync.lock"

_BUCKET = re.compile(r"[0-9a-f]{2}")
_HEX = re.compile(r"[0-9a-f]+")

#: What git says when it cannot talk to a remote at all (over any transport).
_UNREACHABLE = (
    "could not read from remote repository",
    "does not appear to be a git repository",
    "unable to access",
    "repository not found",
    "could not resolve",
    "connection refused",
    "connection timed out",
    "authentication failed",
    "permission denied",
    "no such file or directory",
)

#: Push rejections that mean "the remote moved on": fetch, merge and try again.
_MOVED = (
    "fetch first",
    "non-fast-forward",
    "stale info",
    "lock",
    "failed to update ref",
    "transaction failed",
)


@dataclass(frozen=True)
class Remote:
    """A remote as git is given it (``spec``: a remote name, URL or path) and the name of
    its remote-tracking namespace (``name``)."""

    spec: str
    name: str


def default_remote(git: Git) -> str:
    """The current branch's upstream remote, else ``origin`` (as ``git push`` would)."""
    branch = git.run("symbolic-ref", "-q", "--short", "HEAD", ok=(0, 1)).text.strip()
    if branch:
        name = git.run("config", "--get", f"branch.{branch}.remote", ok=(0, 1)).text.strip()
        if name and name != ".":
            return name
    return "origin"


def resolve_remote(git: Git, remote: str | None, cwd: Path = Path()) -> Remote:
    """A configured remote by name, or a URL/path, with its tracking namespace.

    A URL or path gets the namespace ``url-<12 hex of its SHA-1>``: stable, and a valid ref
    component whatever the URL holds. A relative path is taken from ``cwd`` (``-C``).
    """
    names = git.run("remote").text.split()
    spec = default_remote(git) if remote is None else remote
    if spec in names:
        return Remote(spec, spec)
    if "://" not in spec and (cwd / spec).exists():
        spec = str((cwd / spec).resolve())
    elif "/" not in spec and ":" not in spec:
        configured = ", ".join(names) if names else "none"
        raise RemoteError(
            f"no remote named {spec!r} (configured: {configured}). Add it with "
            f"`git remote add {spec} URL`, or give a URL or a path instead"
        )
    digest = hashlib.sha1(spec.encode(), usedforsecurity=False).hexdigest()[:12]
    return Remote(spec, f"url-{digest}")


def conflict_id(session_id: str, remote_name: str, blob: str, digits: int = 8) -> str:
    """The id a remote's differing copy of ``session_id`` is kept under.

    ``<id>+<remote>-<blob prefix>``: a valid session id (shortened to fit 128 characters),
    the same for the same copy in every merge (so it is never added twice), and it says
    where the copy came from.
    """
    tag = re.sub(r"[^A-Za-z0-9_@-]+", "-", remote_name).strip("-")[:32] or "remote"
    suffix = f"+{tag}-{blob[:digits]}"
    return validate_session_id(session_id[: 128 - len(suffix)] + suffix)


@contextmanager
def sync_lock(git: Git, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the repository's sync lock (``<common git dir>/gitprov-sync.lock``).

    An flock, not a lock file: the kernel drops it when its holder exits or is killed, so a
    sync killed half-way never leaves the repository locked.
    """
    import fcntl  # POSIX only: imported here so that the rest of gitprov loads anywhere

    path = git.common_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SyncBusyError(
                        f"another gitprov sync, fetch or push is running in this repository "
                        f"(it holds {path}); waited {timeout:g}s. Let it finish and run again, "
                        f"or wait longer with --lock-timeout"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


@dataclass(frozen=True)
class Moved:
    """A ref's value before and after an operation (``None``: absent)."""

    ref: str
    old: str | None
    new: str | None


@dataclass
class MergeResult:
    """What a merge did: ``action`` is ``none``, ``fast-forward`` or ``merge`` (records)."""

    action: str = "none"
    incoming: int = 0  # records new or changed here
    outgoing: int = 0  # records the remote lacks (or has older)
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (id, remote copy's id)


@dataclass
class SyncReport:
    """The outcome of ``sync``/``push``, with the lines the CLI prints."""

    remote: Remote
    attempts: int = 0
    merged: bool = False
    incoming: int = 0
    outgoing: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    pushed: list[Moved] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # commits that sessions ran on, absent
    annotated: int = 0

    def lines(self) -> list[str]:
        where = self.remote.spec
        out = []
        if self.merged:
            out.append(
                f"{where}: {_n(self.incoming)} in, {_n(self.outgoing)} out"
                f" ({self.attempts} attempt{'s' if self.attempts > 1 else ''})"
            )
        for move in self.pushed:
            change = f"{_short(move.old)}..{_short(move.new)}" if move.old else "new"
            out.append(f"pushed {move.ref} ({change})")
        if not self.pushed:
            out.append(f"{where} already has every local record")
        for session_id, copy in self.conflicts:
            out.append(
                f"conflict: session {session_id} differs here and on {where}; both kept: "
                f"{session_id} (this clone's) and {copy} ({where}'s)"
            )
        if self.missing:
            shown = ", ".join(sha[:12] for sha in self.missing[:5])
            more = ", ..." if len(self.missing) > 5 else ""
            out.append(
                f"shallow clone: {len(self.missing)} of the {self.annotated} commits sessions "
                f"ran on are not in it ({shown}{more}); their records are complete, "
                f"`git fetch --unshallow` brings the code"
            )
        return out


def _n(count: int) -> str:
    return f"{count} record{'' if count == 1 else 's'}"


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def _lost_race(exc: GitCommandError) -> bool:
    """A local compare-and-swap lost to a concurrent save (as storage retries it)."""
    return "cannot lock ref" in exc.stderr or (
        "Unable to create" in exc.stderr and ".lock" in exc.stderr
    )


@dataclass
class _Bucket:
    """One ``xx/`` fanout tree of the records, by file name, on each side and merged."""

    local: dict[str, str]
    remote: dict[str, str]
    base: dict[str, str]
    merged: dict[str, str]


class Sync:
    """Fetch, merge and push the provenance refs of ``git`` with one remote."""

    def __init__(
        self,
        git: Git,
        remote: Remote,
        *,
        ref: str = DEFAULT_REF,
        notes_ref: str | None = DEFAULT_NOTES_REF,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self.git = git
        self.remote = remote
        self.refs = [ref] + ([notes_ref] if notes_ref else [])
        self.store = RecordStore(git, ref, notes_ref)
        self.lock_timeout = lock_timeout

    # -- the commands --------------------------------------------------------------------

    def fetch(self) -> list[Moved]:
        """Fetch both refs into the remote-tracking namespace; how each tracking ref moved."""
        with sync_lock(self.git, self.lock_timeout):
            return self._fetch()

    def merge(self) -> MergeResult:
        """Merge the (already fetched) remote-tracking refs into the local refs."""
        with sync_lock(self.git, self.lock_timeout):
            return self._merge()

    def push(self, attempts: int = ATTEMPTS) -> SyncReport:
        """Push both refs; when the remote moved on, fetch, merge and push again."""
        with sync_lock(self.git, self.lock_timeout):
            return self._rounds(attempts, fetch_first=False)

    def sync(self, attempts: int = ATTEMPTS) -> SyncReport:
        """Fetch, merge and push, again until the push lands or ``attempts`` run out."""
        with sync_lock(self.git, self.lock_timeout):
            return self._rounds(attempts, fetch_first=True)

    def _rounds(self, attempts: int, fetch_first: bool) -> SyncReport:
        report = SyncReport(self.remote)
        for attempt in range(1, attempts + 1):
            report.attempts = attempt
            if fetch_first or attempt > 1:
                self._fetch()
                result = self._merge()
                report.merged = True
                report.incoming += result.incoming
                report.outgoing = result.outgoing
                report.conflicts += result.conflicts
            pushed = self._push()
            if pushed is not None:
                report.pushed = pushed
                report.missing, report.annotated = self._missing_commits()
                return report
            time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))
        raise ConcurrentUpdateError(
            f"{self.remote.spec} kept moving: the push lost {attempts} times to other clones' "
            f"pushes. Your records are intact and merged locally; run `gitprov sync` again"
        )

    # -- fetch ---------------------------------------------------------------------------

    def _values(self, refs: list[str]) -> dict[str, str]:
        out = self.git.run("for-each-ref", "--format=%(refname) %(objectname)", *refs).text
        values = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
        return {ref: sha for ref, sha in values.items() if ref in refs}

    def _tracking(self) -> list[str]:
        return [tracking_ref(ref, self.remote.name) for ref in self.refs]

    def _fetch(self) -> list[Moved]:
        tracking = self._tracking()
        before = self._values(tracking)
        specs = [fetch_refspec(ref, self.remote.name) for ref in self.refs]
        args = ["fetch", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules"]
        result = self.git.run(*args, self.remote.spec, *specs, ok=(0, 1, 128))
        if result.returncode != 0:
            stderr = result.stderr.decode(errors="replace")
            if "[rejected]" in stderr and "non-fast-forward" in stderr:
                names = " and ".join(tracking)
                raise RemoteError(
                    f"the provenance refs on {self.remote.spec} were rewritten (force-pushed?): "
                    f"{names} cannot fast-forward to them, so nothing was fetched. Your records "
                    f"are intact. If the rewrite was meant, drop the stale copy with "
                    f"`git update-ref -d <ref>` for each of {names}, then sync again: the merge "
                    f"puts every local record back on the remote"
                )
            raise self._remote_error("fetch", stderr)
        after = self._values(tracking)
        return [Moved(ref, before.get(ref), after.get(ref)) for ref in tracking]

    def _remote_error(self, verb: str, stderr: str) -> GitProvError:
        """A failed network command as a clear error; local refs were not touched."""
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        fatal = [line.removeprefix("fatal: ") for line in lines if line.startswith("fatal: ")]
        reason = (fatal or lines or ["no message"])[0]
        named = self.remote.spec
        if self.remote.name == self.remote.spec:
            url = self.git.run("remote", "get-url", named, ok=(0, 2, 128)).text.strip()
            named = f"{named} ({url})" if url else named
        if any(p in stderr.lower() for p in _UNREACHABLE):
            return RemoteError(
                f"cannot reach remote {named}: {reason}. Check its URL (`git remote -v`), "
                f"the network and your credentials; nothing was changed locally"
            )
        return GitCommandError(f"`git {verb}` to {named} failed: {reason}", 1, stderr)

    # -- merge ---------------------------------------------------------------------------

    def _merge(self) -> MergeResult:
        """Merge, again when a concurrent save moved a local ref under us."""
        deadline = time.monotonic() + RETRY_SECONDS
        attempt = 0
        while True:
            try:
                return self._merge_once()
            except GitCommandError as exc:
                if not _lost_race(exc) or time.monotonic() > deadline:
                    raise
            attempt += 1
            time.sleep(random.uniform(0, min(0.25, 0.002 * 2**attempt)))

    def _merge_once(self) -> MergeResult:
        result = MergeResult()
        updates: list[tuple[str, str, str | None]] = []
        pairs = list(zip(self.refs, self._tracking(), strict=True))
        with self.git.objects() as cat:
            tips = [(self.store.tip(cat, ref)[0], self.store.tip(cat, tr)[0]) for ref, tr in pairs]
            bases = self._merge_bases(tips)
            for (ref, _), (local, remote), candidates in zip(pairs, tips, bases, strict=True):
                action = _plan(local, remote, candidates)
                if ref == self.store.ref:
                    base = self._records_base(cat, candidates, local, remote)
                    new = self._merge_records(cat, base, local, remote, action, result)
                else:
                    new = self._merge_notes(cat, candidates, local, remote, action)
                if new is not None:
                    updates.append((ref, new, local))
        if updates:
            self.store.move(updates, f"gitprov: merge provenance from {self.remote.spec}")
        return result

    def _merge_bases(self, tips: list[tuple[str | None, str | None]]) -> list[list[str]]:
        """``git merge-base --all`` of each pair that has two different tips, run at once."""
        args = {i: ("merge-base", "--all", a, b) for i, (a, b) in enumerate(tips) if a and b}
        procs = {i: self.git.start(*a) for i, a in args.items() if a[2] != a[3]}
        return [
            self.git.finish(procs[i], ok=(0, 1)).text.split() if i in procs else []
            for i in range(len(tips))
        ]

    def _records_base(
        self, cat: ObjectReader, candidates: list[str], local: str | None, remote: str | None
    ) -> str | None:
        """The tree of the best common records commit.

        Saves pin the code commit they ran on as an extra parent, so the merge bases of two
        records tips can be code commits too; those are skipped (a code commit never
        descends from a records commit, so the best records base is among the candidates).
        """
        format_blob = self._blob_id(FORMAT_TEXT)
        for sha in candidates:
            tree = self.store.tip(cat, sha)[1]
            entry = self.store.tree(cat, tree).get(FORMAT_FILE)
            if sha in (local, remote) or (entry is not None and entry.sha == format_blob):
                return tree
        return None

    def _blob_id(self, data: bytes) -> str:
        raw = b"blob %d\0%s" % (len(data), data)
        return hashlib.new(self.git.object_format, raw).hexdigest()

    def _merge_records(
        self,
        cat: ObjectReader,
        base: str | None,
        local: str | None,
        remote: str | None,
        action: str,
        result: MergeResult,
    ) -> str | None:
        """The records ref's new value (``None``: unchanged); counts go into ``result``."""
        result.action = action
        if remote is None or local == remote:
            if remote is None and local is not None:  # all of ours are new to the remote
                result.outgoing = self._count(cat, self.store.tip(cat, local)[1])
            return None
        local_tree = self.store.tip(cat, local)[1] if local else None
        remote_tree = self.store.tip(cat, remote)[1]
        tree, incoming, outgoing, conflicts = self._union(cat, base, local_tree, remote_tree)
        if action == "none":
            result.outgoing = outgoing
            return None
        result.incoming = incoming
        if action == "fast-forward":
            return remote
        result.outgoing = outgoing
        result.conflicts = conflicts
        assert local is not None
        message = f"gitprov: merge {_n(incoming)} from {self.remote.spec}\n"
        return self.store.writer.commit(tree, [local, remote], message)

    def _count(self, cat: ObjectReader, tree: str | None) -> int:
        root = self.store.tree(cat, tree)
        return sum(len(self._names(cat, e)) for n, e in root.items() if _BUCKET.fullmatch(n))

    def _names(self, cat: ObjectReader, entry: Entry | None) -> dict[str, str]:
        """A fanout bucket's files (name -> blob id); empty when absent."""
        if entry is None or not entry.is_tree:
            return {}
        return {n: e.sha for n, e in self.store.tree(cat, entry.sha).items() if not e.is_tree}

    def _union(
        self, cat: ObjectReader, base: str | None, local: str | None, remote: str | None
    ) -> tuple[str, int, int, list[tuple[str, str]]]:
        """Three-way union of records trees: (tree, incoming, outgoing, conflicts).

        Per file: one side unchanged since the base -> the other side's version; both
        changed the same way -> that; both changed differently -> ours under the id, theirs
        as a copy under :func:`conflict_id`. Nothing is ever deleted.
        """
        b_root, l_root, r_root = (self.store.tree(cat, t) for t in (base, local, remote))
        opened: dict[str, _Bucket] = {}

        def bucket(name: str) -> _Bucket:
            if name not in opened:
                ours, theirs, old = (
                    self._names(cat, r.get(name)) for r in (l_root, r_root, b_root)
                )
                opened[name] = _Bucket(ours, theirs, old, merged=dict(ours))
            return opened[name]

        result = dict(l_root)
        theirs_kept: list[tuple[str, str]] = []
        for name in sorted(l_root.keys() | r_root.keys()):
            ours, theirs, old = l_root.get(name), r_root.get(name), b_root.get(name)
            if ours == theirs:
                continue
            if _BUCKET.fullmatch(name) and all(e is None or e.is_tree for e in (ours, theirs)):
                files = bucket(name)
                for file, blob in files.remote.items():
                    mine, was = files.local.get(file), files.base.get(file)
                    if blob in (mine, was):
                        continue
                    if mine is None or mine == was:
                        files.merged[file] = blob
                    elif file.endswith(".yaml"):
                        theirs_kept.append((file[: -len(".yaml")], blob))
            elif theirs is not None and (ours is None or ours == old):  # FORMAT and the like
                result[name] = theirs
        conflicts = []
        for session_id, blob in theirs_kept:
            for digits in (8, 16, len(blob)):  # longer only if 8 hex digits ever collide
                copy = conflict_id(session_id, self.remote.name, blob, digits)
                files = bucket(fanout(copy))
                if files.merged.get(f"{copy}.yaml") in (None, blob):
                    break
            if files.merged.get(f"{copy}.yaml") != blob:
                files.merged[f"{copy}.yaml"] = blob
                conflicts.append((session_id, copy))
        incoming = outgoing = 0
        writer = self.store.writer
        for name, files in opened.items():
            blobs = [Entry(BLOB_MODE, n, sha) for n, sha in files.merged.items()]
            result[name] = Entry(TREE_MODE, name, writer.tree(blobs))
            incoming += sum(files.local.get(n) != sha for n, sha in files.merged.items())
            outgoing += sum(files.remote.get(n) != sha for n, sha in files.merged.items())
        if FORMAT_FILE not in result:
            result[FORMAT_FILE] = Entry(BLOB_MODE, FORMAT_FILE, writer.blob(FORMAT_TEXT))
        return writer.tree(list(result.values())), incoming, outgoing, conflicts

    def _merge_notes(
        self,
        cat: ObjectReader,
        candidates: list[str],
        local: str | None,
        remote: str | None,
        action: str,
    ) -> str | None:
        """The notes ref's new value (``None``: unchanged)."""
        if action == "none" or remote is None:
            return None
        if action == "fast-forward":
            return remote
        assert local is not None
        base_tree = self.store.tip(cat, candidates[0])[1] if candidates else None
        local_tree, remote_tree = self.store.tip(cat, local)[1], self.store.tip(cat, remote)[1]
        tree = self._notes_union(cat, base_tree, local_tree, remote_tree)
        return self.store.writer.commit(
            tree, [local, remote], f"gitprov: merge notes from {self.remote.spec}\n"
        )

    def _notes_union(
        self, cat: ObjectReader, base: str | None, local: str | None, remote: str | None
    ) -> str:
        """The local notes tree with the remote's notes merged in as git would.

        ``git notes merge -s cat_sort_uniq``: per commit, a note changed on one side only
        takes that side's version, and two changed notes are concatenated, sorted and
        de-duplicated. Both trees may use any fanout, so notes are compared per group of
        root entries sharing their first two hex digits; equal groups are skipped unread.
        """
        groups = [self._note_groups(cat, t) for t in (base, local, remote)]
        changes: dict[str, str] = {}
        for key in sorted(groups[1].keys() | groups[2].keys()):
            if groups[1].get(key) == groups[2].get(key):
                continue
            old, ours, theirs = (self._flatten(cat, g.get(key, ()), "") for g in groups)
            for commit, blob in theirs.items():
                mine, was = ours.get(commit), old.get(commit)
                if blob in (mine, was):
                    continue
                if mine is None or mine == was:
                    changes[commit] = blob
                else:
                    changes[commit] = self.store.writer.blob(_cat_sort_uniq(cat, mine, blob))

        read_tree = functools.partial(self.store.tree, cat)
        root = local
        for commit, blob in sorted(changes.items()):
            root = notes.put(read_tree, self.store.writer, root, commit, blob)
        assert root is not None
        return root

    def _note_groups(self, cat: ObjectReader, tree: str | None) -> dict[str, tuple[Entry, ...]]:
        grouped: dict[str, list[Entry]] = {}
        for name, entry in sorted(self.store.tree(cat, tree).items()):
            if _HEX.fullmatch(name):
                grouped.setdefault(name[:2], []).append(entry)
        return {key: tuple(entries) for key, entries in grouped.items()}

    def _flatten(
        self, cat: ObjectReader, entries: tuple[Entry, ...], prefix: str
    ) -> dict[str, str]:
        """Notes under ``entries`` (a fanout subtree of any depth): commit -> note blob."""
        found: dict[str, str] = {}
        for entry in entries:
            path = prefix + entry.name
            if entry.is_tree and len(entry.name) == 2:
                sub = tuple(self.store.tree(cat, entry.sha).values())
                found.update(self._flatten(cat, sub, path))
            elif not entry.is_tree and len(path) == self.store.writer.hash_len * 2:
                found[path] = entry.sha
        return found

    # -- push ----------------------------------------------------------------------------

    def _push(self) -> list[Moved] | None:
        """Push the local refs that exist, never forced, all or none.

        Returns the refs the remote took (empty: it had them all), or ``None`` when it
        moved on since our fetch and the caller should fetch, merge and try again.
        """
        local = self._values(self.refs)
        present = [ref for ref in self.refs if ref in local]
        if not present:
            return []
        args = ["push", "--porcelain", "--atomic", "--no-verify", self.remote.spec]
        result = self.git.run(*args, *(f"{ref}:{ref}" for ref in present), ok=(0, 1, 128))
        statuses = _porcelain(result.text)
        stderr = result.stderr.decode(errors="replace")
        if result.returncode == 0:
            return [
                Moved(ref, summary.split("..")[0] if ".." in summary else None, local[ref])
                for flag, ref, summary in sorted(statuses, key=lambda s: self.refs.index(s[1]))
                if flag in ("*", " ")
            ]
        rejected = [summary for flag, _, summary in statuses if flag == "!"]
        if not rejected:
            raise self._remote_error("push", stderr)
        reasons = list(dict.fromkeys(r for r in rejected if "atomic push failed" not in r))
        if all(any(m in r for m in _MOVED) for r in reasons):
            return None
        if any("shallow update not allowed" in r for r in reasons):
            raise PushRejectedError(
                f"{self.remote.spec} lacks history that the records pin, and this clone is "
                f"shallow, so it cannot send it. Run `git fetch --unshallow`, then push "
                f"again; your local records are intact"
            )
        said = (
            ln[len("remote:") :].strip() for ln in stderr.splitlines() if ln.startswith("remote:")
        )
        remote_said = "; ".join(line for line in said if line)
        raise PushRejectedError(
            f"{self.remote.spec} refused the provenance refs: {'; '.join(reasons)}"
            + (f" (the remote said: {remote_said})" if remote_said else "")
            + ". Your local records are intact; ask whoever runs the remote to allow pushes "
            "to refs/provenance/* and refs/notes/*"
        )

    # -- shallow clones --------------------------------------------------------------------

    def _missing_commits(self) -> tuple[list[str], int]:
        """In a shallow clone: (annotated commits not present, commits annotated)."""
        shallow = self.git.run("rev-parse", "--is-shallow-repository").text.strip()
        if shallow != "true" or self.store.notes_ref is None:
            return [], 0
        with self.git.objects() as cat:
            tree = self.store.tip(cat, self.store.notes_ref)[1]
            entries = tuple(self.store.tree(cat, tree).values())
            commits = sorted(self._flatten(cat, entries, ""))
        if not commits:
            return [], 0
        check = self.git.run("cat-file", "--batch-check", input="\n".join(commits).encode() + b"\n")
        missing = [ln.split()[0] for ln in check.text.splitlines() if ln.endswith(" missing")]
        return missing, len(commits)


def _plan(local: str | None, remote: str | None, candidates: list[str]) -> str:
    """``none`` (remote has nothing new), ``fast-forward`` or ``merge``."""
    if remote is None or local == remote or remote in candidates:
        return "none"
    if local is None or local in candidates:
        return "fast-forward"
    return "merge"


def _cat_sort_uniq(cat: ObjectReader, *blobs: str) -> bytes:
    lines: set[str] = set()
    for blob in blobs:
        obj = cat.read(blob)
        text = obj.data.decode("utf-8", "surrogateescape") if obj is not None else ""
        lines.update(line for line in text.splitlines() if line.strip())
    return ("\n".join(sorted(lines)) + "\n").encode("utf-8", "surrogateescape")


def _porcelain(text: str) -> list[tuple[str, str, str]]:
    """``git push --porcelain`` status lines as (flag, destination ref, summary)."""
    statuses = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and len(parts[0]) == 1:
            statuses.append((parts[0], parts[1].rsplit(":", 1)[-1], parts[2]))
    return statuses
