"""Teams: the provenance refs of many clones meet on a git remote, nothing lost.

``fetch`` brings a remote's refs into the remote-tracking namespace (never onto the local
refs), ``merge`` folds them into the local refs, ``push`` sends the local refs (never
forced) and ``sync`` does all three until the push lands.

The merge is a union, computed the way the refs are laid out: the root trees are compared
entry by entry and only the ``xx/`` fanout buckets whose ids differ are opened, so merging
two 20k-record histories that differ by ten records reads a few dozen trees. A record
changed on one side only (a re-save) takes that side's version; the same session id saved
with different content on both sides keeps both, the remote's under a distinct, still valid
id (:func:`conflict_id`), which its record names as its ``session_id`` and the id it
conflicts with as ``conflict_of``. Notes merge as ``git notes merge -s cat_sort_uniq``
would. Both local refs then move in one compare-and-swap transaction, and one flock in the
common git dir keeps two syncs of the same repository from interleaving.

Everything from a remote is hostile: of what it changed, the merge takes only what gitprov
itself writes and reads back (:mod:`gitprov.sync.untrusted`, :func:`schema.load`, and note lines
that are session entries). The rest is left out, listed once in ``MergeResult.left_out``
with the reason, and never enters a local ref's tree, so it is never pushed on; a
fast-forward that would bring it in becomes a commit of the clean tree instead.

Forgotten sessions (:mod:`gitprov.store.forget`) are the one exception to "nothing lost":
tombstones are unioned like records, a remote's new tombstones first rewrite the local
history without those records, and a remote whose history still holds what this clone
forgot is rewritten the same way, merged, and pushed with ``--force-with-lease`` on the
value fetched: the one forced push gitprov makes. Tracking refs are forced mirrors, so a
rewritten remote is simply taken as it is.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from gitprov.errors import (
    CorruptRecordError,
    GitCommandError,
    GitProvError,
    PushRejectedError,
    RemoteError,
    RemoteMovedError,
    SyncBusyError,
)
from gitprov.git import Git
from gitprov.git.objects import BLOB_MODE, TREE_MODE, Entry
from gitprov.git.reader import ObjectReader
from gitprov.git.retry import Backoff, retry, retrying
from gitprov.git.writing import WriteRules, hold_flock
from gitprov.record.document import dump, load, validate_session_id
from gitprov.record.redact import redact_text
from gitprov.record.tombstone import MAX_TOMBSTONE_BYTES, Tombstone
from gitprov.refs import CONFIGURED, SYNC_LOCK, NotesRefOption, fetch_refspecs, tracking_ref
from gitprov.state.status import scrub_url
from gitprov.store import notes
from gitprov.store.forget import Rewrite, Tombstones, notes_without, with_tombstones
from gitprov.store.records import (
    FORGOTTEN_DIR,
    FORMAT_FILE,
    FORMAT_TEXT,
    RecordStore,
    fanout,
)
from gitprov.sync.untrusted import (
    BUCKET,
    LeftOut,
    bucket_problem,
    folder_problem,
    object_problem,
    root_problem,
    shown,
)

#: Fetch-merge-push rounds before ``sync`` gives up on a remote that keeps moving.
ATTEMPTS = 10
#: How long a sync waits for another sync of the same repository to finish.
LOCK_TIMEOUT = 60.0

_HEX = re.compile(r"[0-9a-f]+")
_OTHER_FORMAT = f"not {FORMAT_TEXT.decode().strip()!r}, the records format of this gitprov"
_NOT_A_NOTE = "neither a note nor a fanout folder of notes"

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
    its remote-tracking namespace (``name``).

    Only git is given ``spec``, which may hold credentials (``https://oauth2:TOKEN@...``);
    commit messages, reports and errors name the remote as :attr:`shown`.
    """

    spec: str
    name: str

    @property
    def shown(self) -> str:
        """``spec`` without credentials (:func:`scrub_url`)."""
        return scrub_url(self.spec)


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

    A URL or path gets the namespace ``url-<12 hex of its SHA-1>``: stable, a valid ref
    component whatever the URL holds, and no credential of it readable in a ref name. A
    relative path is taken from ``cwd`` (``-C``).
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


def sync_lock(
    git: Git, timeout: float = LOCK_TIMEOUT, rules: WriteRules | None = None
) -> AbstractContextManager[None]:
    """Hold the repository's sync lock (``<common git dir>/gitprov-sync.lock``), an flock
    the kernel drops when its holder exits or is killed, so a sync killed half-way never
    leaves the repository locked. Created with the repository's shared modes, so a
    teammate's sync can take it too."""
    return hold_flock(
        git.common_dir / SYNC_LOCK,
        rules or WriteRules.of(git),
        timeout,
        lambda path: SyncBusyError(
            f"another gitprov sync, fetch or push is running in this repository (it holds "
            f"{path}); waited {timeout:g}s. Let it finish and run again, or wait longer "
            f"with --lock-timeout"
        ),
    )


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
    left_out: list[LeftOut] = field(default_factory=list)  # what the remote holds, not taken
    forgotten: list[str] = field(default_factory=list)  # ids the remote's tombstones forgot here
    purged: list[str] = field(default_factory=list)  # ids forgotten here, purged from the remote's


@dataclass
class SyncReport:
    """The outcome of ``sync``/``push``, with the lines the CLI prints."""

    remote: Remote
    attempts: int = 0
    merged: bool = False
    incoming: int = 0
    outgoing: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)  # named once, never pushed on
    pushed: list[Moved] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # commits that sessions ran on, absent
    annotated: int = 0
    forgotten: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        where = self.remote.shown
        out = []
        if self.merged:
            out.append(
                f"{where}: {_n(self.incoming)} in, {_n(self.outgoing)} out"
                f" ({self.attempts} attempt{'s' if self.attempts > 1 else ''})"
            )
        if self.forgotten:
            out.append(
                f"forgot here what {where} has tombstones for (this clone's history "
                f"rewritten): session {', '.join(self.forgotten)}"
            )
        if self.purged:
            out.append(
                f"rewrote {where}'s records history without the forgotten sessions it still "
                f"held (pushed with a lease on the value fetched): session "
                f"{', '.join(self.purged)}"
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


@dataclass
class _Bucket:
    """One ``xx/`` fanout tree of the records, by file name, on each side and merged."""

    local: dict[str, Entry]
    remote: dict[str, Entry]
    base: dict[str, Entry]
    merged: dict[str, Entry]


@dataclass
class _Purge:
    """What the tombstones of both sides make of a records merge: the tips to merge (either
    rewritten without forgotten records), the merged ``forgotten/`` folder, and the commits
    whose notes may hold a forgotten session's line."""

    local: str | None
    remote: str | None
    folder: Entry | None = None
    noted_on: set[str] = field(default_factory=set)
    left_out: list[LeftOut] = field(default_factory=list)  # of the remote's tombstones

    def forgotten(self, store: RecordStore, cat: ObjectReader) -> Tombstones | None:
        return None if self.folder is None else Tombstones(store, cat, self.folder)


@dataclass(frozen=True)
class _Union:
    """A records union: its tree, counts, conflict copies and what it left out."""

    tree: str
    incoming: int
    outgoing: int
    conflicts: list[tuple[str, str]]
    left_out: list[LeftOut]


class Sync:
    """Fetch, merge and push the provenance refs of ``git`` with one remote."""

    def __init__(
        self,
        git: Git,
        remote: Remote,
        *,
        ref: str | None = None,
        notes_ref: NotesRefOption = CONFIGURED,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self.git = git
        self.remote = remote
        self.store = RecordStore(git, ref, notes_ref)
        self.refs = [self.store.ref] + ([self.store.notes_ref] if self.store.notes_ref else [])
        self.lock_timeout = lock_timeout
        #: ref -> the remote's value it was rewritten from: pushed with a lease on it
        self._leases: dict[str, str] = {}

    # -- the commands --------------------------------------------------------------------

    def fetch(self) -> list[Moved]:
        """Fetch both refs into the remote-tracking namespace; how each tracking ref moved."""
        with sync_lock(self.git, self.lock_timeout, self.store.writer.rules):
            return self._fetch()

    def merge(self) -> MergeResult:
        """Merge the (already fetched) remote-tracking refs into the local refs."""
        with sync_lock(self.git, self.lock_timeout, self.store.writer.rules):
            return self._merge()

    def push(self, attempts: int = ATTEMPTS) -> SyncReport:
        """Push both refs; when the remote moved on, fetch, merge and push again."""
        with sync_lock(self.git, self.lock_timeout, self.store.writer.rules):
            return self._rounds(attempts, fetch_first=False)

    def sync(self, attempts: int = ATTEMPTS) -> SyncReport:
        """Fetch, merge and push, again until the push lands or ``attempts`` run out."""
        with sync_lock(self.git, self.lock_timeout, self.store.writer.rules):
            return self._rounds(attempts, fetch_first=True)

    def _rounds(self, attempts: int, fetch_first: bool) -> SyncReport:
        report = SyncReport(self.remote)

        def attempt() -> SyncReport:
            report.attempts += 1
            if fetch_first or report.attempts > 1:
                self._fetch()
                result = self._merge()
                report.merged = True
                report.incoming += result.incoming
                report.outgoing = result.outgoing
                report.conflicts += result.conflicts
                report.left_out += (i for i in result.left_out if i not in report.left_out)
                report.forgotten += (i for i in result.forgotten if i not in report.forgotten)
                report.purged = result.purged
            pushed = self._push()
            if pushed is None:
                raise RemoteMovedError(f"{self.remote.shown} moved on since the fetch")
            report.pushed = pushed
            report.missing, report.annotated = self._missing_commits()
            return report

        return retry(
            attempt,
            Backoff(attempts=attempts, first=0.05, cap=2.0),
            f"{self.remote.shown} kept moving: the push lost {attempts} times to other clones' "
            f"pushes. Your records are intact and merged locally; run `gitprov sync` again",
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
        specs = [spec for ref in self.refs for spec in fetch_refspecs(ref, self.remote.name)]
        args = ["fetch", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules"]
        result = self.git.run(*args, self.remote.spec, *specs, ok=(0, 1, 128))
        if result.returncode != 0:  # a rewritten remote is taken as it is: the specs force
            raise self._remote_error("fetch", result.stderr.decode(errors="replace"))
        after = self._values(tracking)
        return [Moved(ref, before.get(ref), after.get(ref)) for ref in tracking]

    def _remote_error(self, verb: str, stderr: str) -> GitProvError:
        """A failed network command as a clear error; local refs were not touched."""
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        fatal = [line.removeprefix("fatal: ") for line in lines if line.startswith("fatal: ")]
        reason = redact_text((fatal or lines or ["no message"])[0])
        named = self.remote.shown
        if self.remote.name == self.remote.spec:
            url = self.git.run("remote", "get-url", self.remote.spec, ok=(0, 2, 128)).text.strip()
            named = f"{named} ({scrub_url(url)})" if url else named
        if any(p in stderr.lower() for p in _UNREACHABLE):
            return RemoteError(
                f"cannot reach remote {named}: {reason}. Check its URL (`git remote -v`), "
                f"the network and your credentials; nothing was changed locally"
            )
        return GitCommandError(f"`git {verb}` to {named} failed: {reason}", 1, redact_text(stderr))

    # -- merge ---------------------------------------------------------------------------

    def _merge(self) -> MergeResult:
        """Merge, again when a concurrent save moved a local ref under us."""
        return retrying(self.store.ref, "merge the remote's records", self._merge_once)

    def _merge_once(self) -> MergeResult:
        result = MergeResult()
        updates: list[tuple[str, str, str | None]] = []
        pairs = list(zip(self.refs, self._tracking(), strict=True))
        self._leases = {}
        # the packs of rewrites keep their .keep (and saves wait) until the refs moved
        with ExitStack() as held, self.git.objects() as cat:
            tips = [
                (self.store.tip(cat, ref)[0], self._remote_tip(cat, tracking, result.left_out))
                for ref, tracking in pairs
            ]
            bases = self._merge_bases(tips)
            purge = self._purge(cat, pairs[0][1], tips[0], bases[0], result, held)
            if (purge.local, purge.remote) != tips[0]:
                bases[0] = self._merge_bases([(purge.local, purge.remote)])[0]
            for (ref, tracking), tip, candidates in zip(pairs, tips, bases, strict=True):
                local, remote = tip
                if ref == self.store.ref:
                    merging = (purge.local, purge.remote)
                    action = _plan(*merging, candidates)
                    base = self._records_base(cat, candidates, *merging)
                    new = self._merge_records(cat, tracking, base, merging, action, result, purge)
                    new = new or (purge.local if purge.local != local else None)
                else:
                    action = _plan(local, remote, candidates)
                    new = self._merge_notes(cat, tracking, candidates, tip, action, result, purge)
                if new is not None:
                    updates.append((ref, new, local))
            if updates:
                self.store.move(updates, f"gitprov: merge provenance from {self.remote.shown}")
        return result

    # -- forgetting ----------------------------------------------------------------------

    def _purge(
        self,
        cat: ObjectReader,
        tracking: str,
        tips: tuple[str | None, str | None],
        candidates: list[str],
        result: MergeResult,
        held: ExitStack,
    ) -> _Purge:
        """Apply the tombstones of each side to the other side's records history.

        A remote whose tip this clone already has brings nothing, and the local history
        holds no record that a local tombstone names, so only a remote with new commits is
        looked at. The remote's tombstones that this clone lacks rewrite the local history
        (all of it). Then the commits of the remote that the (now clean) local history
        does not reach are rewritten without the records of: the ids whose tombstones the
        remote lacks; the ids of its new tombstones (a remote may hold one but not the
        rewrite, a plain commit adding it); and forgotten ids its tip still holds (saved
        back by a clone that knows no tombstones). Then the push goes with a lease, and
        cleans the remote too. A clone with no records of its own takes the remote's
        history as it is, but for the last kind.
        """
        local, remote = tips
        l_root, r_root = (
            self.store.tree(cat, self.store.tip(cat, t)[1] if t else None) for t in tips
        )
        ours, theirs = l_root.get(FORGOTTEN_DIR), r_root.get(FORGOTTEN_DIR)
        purge = _Purge(local, remote, ours)
        if remote is None or remote in (local, *candidates) or ours is theirs is None:
            return purge
        offered, there = self._tombstone_changes(cat, tracking, ours, theirs, purge.left_out)
        result.left_out += purge.left_out
        mine = Tombstones(self.store, cat, ours)
        here = sorted(i for i in offered if i not in mine)
        stale = self._stale(cat, l_root, r_root, lambda i: i in mine or i in offered)
        new = sorted({*there, *stale, *(here if local is not None else ())})
        purge.folder = with_tombstones(self.store, cat, ours, offered) if offered else ours
        if not here and not new:
            return purge
        held.enter_context(self.store.write_lock())  # a save now would only be merged again
        if here and local is not None:
            purge.local, result.forgotten = self._rewrite(cat, here, local, None, purge, held)
        if new:
            known = ["--not", purge.local] if purge.local else []
            within = set(self.git.run("rev-list", remote, *known).text.split())
            purge.remote, found = self._rewrite(cat, new, remote, within, purge, held)
            if purge.remote != remote:
                self._leases[self.store.ref] = remote
                result.purged = found
        return purge

    def _stale(
        self,
        cat: ObjectReader,
        l_root: dict[str, Entry],
        r_root: dict[str, Entry],
        forgotten: Callable[[str], bool],
    ) -> list[str]:
        """The forgotten ids whose records the remote's tree holds, in the folders that
        differ from this clone's (the only ones a record can have come back in)."""
        found: list[str] = []
        for name, entry in r_root.items():
            if BUCKET.fullmatch(name) and entry.is_tree and l_root.get(name) != entry:
                ids = (file.removesuffix(".yaml") for file in self._files(cat, entry))
                found += (i for i in ids if forgotten(i))
        return found

    def _rewrite(
        self,
        cat: ObjectReader,
        ids: list[str],
        tip: str,
        within: set[str] | None,
        purge: _Purge,
        held: ExitStack,
    ) -> tuple[str, list[str]]:
        """``tip`` rewritten without the records of ``ids`` (its objects in one pack, kept
        until the refs moved), and the ids whose records it held; where their note lines
        may be goes into ``purge``."""
        rewrite = Rewrite(self.store, ids)
        with self.store.writer.batch() as batch:
            held.callback(batch.release)
            new = rewrite.run(tip, within)
        purge.noted_on |= rewrite.noted_on(cat)
        return new, sorted(set(rewrite.records.values()))

    def _tombstone_changes(
        self,
        cat: ObjectReader,
        tracking: str,
        ours: Entry | None,
        theirs: Entry | None,
        left_out: list[LeftOut],
    ) -> tuple[dict[str, Entry], list[str]]:
        """The remote's tombstones that differ from this clone's, as far as they are what
        gitprov writes (id -> entry; the rest into ``left_out``), and the ids of this
        clone's tombstones that the remote lacks. Only folders that differ are opened."""
        where = f"{tracking}:{FORGOTTEN_DIR}"
        mine = self._files(cat, ours)
        if theirs is not None and (problem := root_problem(theirs)) is not None:
            left_out.append(LeftOut(where, problem))
            theirs = None
        other = self._files(cat, theirs)
        offered: list[tuple[str, Entry]] = []
        there: list[str] = []
        for name in sorted(mine.keys() | other.keys()):
            if mine.get(name) == other.get(name):
                continue
            if name in other and (problem := folder_problem(other[name])) is not None:
                left_out.append(LeftOut(f"{where}/{shown(name)}", problem))
                other.pop(name)
            ours_files, theirs_files = (
                self._files(cat, mine.get(name)),
                self._files(cat, other.get(name)),
            )
            there += (n.removesuffix(".yaml") for n in ours_files if n not in theirs_files)
            for file, entry in theirs_files.items():
                if ours_files.get(file) == entry:
                    continue
                problem = bucket_problem(name, entry)
                if problem is not None:
                    left_out.append(LeftOut(f"{where}/{shown(f'{name}/{file}')}", problem))
                else:
                    offered.append((name, entry))
        sizes = self._object_sizes(sorted({entry.sha for _, entry in offered}))
        valid: dict[str, Entry] = {}
        for name, entry in offered:
            session_id, path = entry.name.removesuffix(".yaml"), f"{where}/{name}/{entry.name}"
            kind, size = sizes.get(entry.sha, ("", None))
            problem = object_problem(kind, size, MAX_TOMBSTONE_BYTES)
            if problem is None:
                obj = cat.read(entry.sha)
                try:
                    Tombstone.load(obj.data if obj else b"", session_id, path)
                except CorruptRecordError as exc:
                    problem = str(exc)
            if problem is not None:
                left_out.append(LeftOut(path, problem))
            else:
                valid[session_id] = entry
        return valid, sorted(there)

    def _remote_tip(self, cat: ObjectReader, tracking: str, left_out: list[LeftOut]) -> str | None:
        """The commit a remote-tracking ref names; one naming anything else is left out."""
        obj = cat.read(tracking)
        if obj is not None and obj.type != "commit":
            left_out.append(LeftOut(tracking, f"points at a {obj.type}, not a commit"))
            return None
        return None if obj is None else obj.sha

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

    def _merged(
        self,
        tree: str,
        tips: tuple[str | None, str],
        action: str,
        left_out: list[LeftOut],
        message: str,
    ) -> str:
        """The ref's new commit: the remote's own on a fast-forward that leaves nothing out,
        else one of ``tree`` on both tips. The remote's commit is always a parent, so the
        next push fast-forwards it; what was left out stays in its history, never in a tree
        of ours."""
        local, remote = tips
        if action == "fast-forward" and not left_out:
            return remote
        parents = [local, remote] if local is not None else [remote]
        return self.store.writer.commit(tree, parents, message)

    def _merge_records(
        self,
        cat: ObjectReader,
        tracking: str,
        base: str | None,
        tips: tuple[str | None, str | None],
        action: str,
        result: MergeResult,
        purge: _Purge,
    ) -> str | None:
        """The records ref's new value (``None``: unchanged); counts go into ``result``."""
        local, remote = tips
        result.action = action
        if remote is None or local == remote:
            if remote is None and local is not None:  # all of ours are new to the remote
                result.outgoing = self._count(cat, self.store.tip(cat, local)[1])
            return None
        local_tree = self.store.tip(cat, local)[1] if local else None
        remote_tree = self.store.tip(cat, remote)[1]
        union = self._union(cat, tracking, base, local_tree, remote_tree, purge)
        result.left_out += union.left_out
        if action == "none":
            result.outgoing = union.outgoing
            return None
        result.incoming = union.incoming
        result.outgoing = union.outgoing
        result.conflicts = union.conflicts
        message = f"gitprov: merge {_n(union.incoming)} from {self.remote.shown}\n"
        left_out = union.left_out + purge.left_out
        return self._merged(union.tree, (local, remote), action, left_out, message)

    def _count(self, cat: ObjectReader, tree: str | None) -> int:
        root = self.store.tree(cat, tree)
        return sum(len(self._files(cat, e)) for n, e in root.items() if BUCKET.fullmatch(n))

    def _files(self, cat: ObjectReader, entry: Entry | None) -> dict[str, Entry]:
        """A fanout bucket's entries by name; empty when it is absent or not a folder."""
        if entry is None or not entry.is_tree:
            return {}
        return self.store.tree(cat, entry.sha)

    def _union(
        self,
        cat: ObjectReader,
        tracking: str,
        base: str | None,
        local: str | None,
        remote: str | None,
        purge: _Purge,
    ) -> _Union:
        """Three-way union of records trees.

        Per file: one side unchanged since the base -> the other side's version; both
        changed the same way -> that; both changed differently -> ours under the id, theirs
        as a copy under :func:`conflict_id`. Nothing of ours is ever deleted, and nothing of
        the remote's is taken that :mod:`gitprov.sync.untrusted` or :func:`schema.load` refuses;
        what is refused and did not change since the base was named then, not again.
        Tombstones come from ``purge``, and no record they name is taken.
        """
        b_root, l_root, r_root = (self.store.tree(cat, t) for t in (base, local, remote))
        forgotten = purge.forgotten(self.store, cat)
        opened: dict[str, _Bucket] = {}

        def bucket(name: str) -> _Bucket:
            if name not in opened:
                ours, theirs, old = (
                    self._files(cat, r.get(name)) for r in (l_root, r_root, b_root)
                )
                opened[name] = _Bucket(ours, theirs, old, merged=dict(ours))
            return opened[name]

        left_out: list[LeftOut] = []
        offered: list[tuple[str, Entry]] = []  # (bucket, entry) the remote changed
        for name in sorted(l_root.keys() | r_root.keys()):
            ours, theirs, old = l_root.get(name), r_root.get(name), b_root.get(name)
            if ours == theirs or name == FORGOTTEN_DIR:
                continue
            problem = None
            if theirs is not None and theirs != old:
                problem = root_problem(theirs)
                if problem is None and name == FORMAT_FILE:  # ours is added when missing
                    problem = None if theirs.sha == self._blob_id(FORMAT_TEXT) else _OTHER_FORMAT
                if problem is not None:
                    left_out.append(LeftOut(f"{tracking}:{shown(name)}", problem))
                elif theirs.is_tree and (ours is None or ours.is_tree):
                    files = bucket(name)
                    for file, entry in files.remote.items():
                        if entry in (files.local.get(file), files.base.get(file)):
                            continue
                        problem = bucket_problem(name, entry)
                        if problem is not None:
                            where = f"{tracking}:{shown(f'{name}/{file}')}"
                            left_out.append(LeftOut(where, problem))
                        else:
                            offered.append((name, entry))
            if ours is not None and ours.is_tree:
                bucket(name)  # opened, so that what the remote lacks of it is counted
        theirs_kept: list[Entry] = []
        for name, entry in self._readable(cat, tracking, offered, left_out):
            if forgotten is not None and entry.name.removesuffix(".yaml") in forgotten:
                continue  # a stale copy of a forgotten record: never taken back
            files = opened[name]
            mine, was = files.local.get(entry.name), files.base.get(entry.name)
            if mine is None or mine == was:
                files.merged[entry.name] = entry
            else:
                theirs_kept.append(entry)
        conflicts = []
        for entry in theirs_kept:
            session_id = entry.name.removesuffix(".yaml")
            for digits in (8, 16, len(entry.sha)):  # longer only if 8 hex digits ever collide
                copy = conflict_id(session_id, self.remote.name, entry.sha, digits)
                where = f"{tracking}:{fanout(session_id)}/{entry.name}"
                kept = Entry(BLOB_MODE, f"{copy}.yaml", self._as_copy(cat, where, entry, copy))
                files = bucket(fanout(copy))
                if files.merged.get(kept.name) in (None, kept):
                    break
            if files.merged.get(kept.name) != kept:
                files.merged[kept.name] = kept
                conflicts.append((session_id, copy))
        incoming = outgoing = 0
        root = dict(l_root)
        writer = self.store.writer
        for name, files in opened.items():
            if files.merged:  # a remote folder whose every record was left out adds none
                root[name] = Entry(TREE_MODE, name, writer.tree(list(files.merged.values())))
            incoming += sum(files.local.get(n) != e for n, e in files.merged.items())
            outgoing += sum(files.remote.get(n) != e for n, e in files.merged.items())
        if FORMAT_FILE not in root:
            root[FORMAT_FILE] = Entry(BLOB_MODE, FORMAT_FILE, writer.blob(FORMAT_TEXT))
        if purge.folder is not None:
            root[FORGOTTEN_DIR] = purge.folder
        tree = writer.tree(list(root.values()))
        return _Union(tree, incoming, outgoing, conflicts, left_out)

    def _object_sizes(self, shas: list[str]) -> dict[str, tuple[str, int]]:
        """(type, size) of each of ``shas`` present, read without reading the objects (one
        ``cat-file --batch-check``): a record is measured before it is read."""
        if not shas:
            return {}
        listing = self.git.run("cat-file", "--batch-check", input="\n".join(shas).encode() + b"\n")
        found = {}
        for line in listing.text.splitlines():
            parts = line.split()  # "<sha> <type> <size>", or "<sha> missing"
            if len(parts) == 3 and parts[2].isdigit():
                found[parts[0]] = (parts[1], int(parts[2]))
        return found

    def _readable(
        self,
        cat: ObjectReader,
        tracking: str,
        offered: list[tuple[str, Entry]],
        left_out: list[LeftOut],
    ) -> list[tuple[str, Entry]]:
        """The records of ``offered`` that are files within the size limit and that
        :func:`schema.load` reads; the others go into ``left_out``."""
        sizes = self._object_sizes(sorted({entry.sha for _, entry in offered}))
        readable = []
        for name, entry in offered:
            where = f"{tracking}:{name}/{entry.name}"
            kind, size = sizes.get(entry.sha, ("", None))
            problem = object_problem(kind, size)
            if problem is None:
                obj = cat.read(entry.sha)
                try:
                    load(obj.data if obj else b"", entry.name.removesuffix(".yaml"), where)
                except CorruptRecordError as exc:
                    problem = str(exc)
            if problem is not None:
                left_out.append(LeftOut(where, problem))
            else:
                readable.append((name, entry))
        return readable

    def _as_copy(self, cat: ObjectReader, where: str, entry: Entry, copy: str) -> str:
        """The blob of the remote's record ``entry`` kept as the conflict copy ``copy``: its
        own id in ``session_id``, the id it conflicts with in ``conflict_of``.

        Only the leading ``session_id`` line is rewritten, so the rest stays byte for byte
        and one copy always makes one blob (never added twice); a record laid out otherwise
        goes through YAML, as deterministically.
        """
        session_id = entry.name.removesuffix(".yaml")
        ids = {"session_id": copy, "conflict_of": session_id}
        obj = cat.read(entry.sha)
        data = obj.data if obj is not None else b""
        first = dump({"session_id": session_id})
        if data.startswith(first) and b"\nconflict_of:" not in data:
            return self.store.writer.blob(dump(ids) + data[len(first) :])
        record = load(data, session_id, where)
        return self.store.writer.blob(dump(ids | {k: v for k, v in record.items() if k not in ids}))

    def _merge_notes(
        self,
        cat: ObjectReader,
        tracking: str,
        candidates: list[str],
        tips: tuple[str | None, str | None],
        action: str,
        result: MergeResult,
        purge: _Purge,
    ) -> str | None:
        """The notes ref's new value (``None``: unchanged), without the lines of forgotten
        sessions on the notes it changed or where ``purge`` says they may be."""
        local, remote = tips
        new = None
        changed: set[str] = set()
        if action != "none" and remote is not None:
            new, changed = self._notes_union(cat, tracking, candidates, tips, action, result)
        forgotten = purge.forgotten(self.store, cat)
        tip = new or local
        if forgotten is None or tip is None:
            return new
        tree = self.store.tip(cat, tip)[1]
        cleaned = notes_without(
            self.store, cat, tree, purge.noted_on | changed, forgotten.__contains__
        )
        if cleaned is None:
            return new
        message = "gitprov: forget the notes of forgotten sessions\n"
        return self.store.writer.commit(cleaned, [tip], message)

    def _notes_union(
        self,
        cat: ObjectReader,
        tracking: str,
        candidates: list[str],
        tips: tuple[str | None, str | None],
        action: str,
        result: MergeResult,
    ) -> tuple[str, set[str]]:
        """The notes merged as ``cat_sort_uniq`` would, and the commits whose notes the
        remote changed."""
        local, remote = tips
        assert remote is not None
        trees = (
            self.store.tip(cat, candidates[0])[1] if candidates else None,
            self.store.tip(cat, local)[1] if local else None,
            self.store.tip(cat, remote)[1],
        )
        left_out: list[LeftOut] = []
        changes = self._note_changes(cat, tracking, trees, left_out)
        result.left_out += left_out
        read_tree = functools.partial(self.store.tree, cat)
        root = trees[1]
        if action == "merge" or left_out:  # a clean fast-forward needs no tree of ours
            for commit, blob in sorted(changes.items()):
                root = notes.put(read_tree, self.store.writer, root, commit, blob)
        tree = root if root is not None else self.store.writer.tree([])
        message = f"gitprov: merge notes from {self.remote.shown}\n"
        return self._merged(tree, (local, remote), action, left_out, message), set(changes)

    def _note_changes(
        self,
        cat: ObjectReader,
        tracking: str,
        trees: tuple[str | None, str | None, str | None],
        left_out: list[LeftOut],
    ) -> dict[str, str]:
        """What to set in the local notes tree (commit -> note blob) to merge in the
        remote's notes as git would.

        ``git notes merge -s cat_sort_uniq``: per commit, a note changed on one side only
        takes that side's version, and two changed notes are concatenated, sorted and
        de-duplicated. Both trees (``trees``: base, local, remote) may use any fanout, so
        notes are compared per group of root entries sharing their first two hex digits;
        equal groups are skipped unread. Of the remote's, only notes are taken, and of a
        note only the lines that are session entries; the rest goes into ``left_out``.
        """
        roots = [self.store.tree(cat, t) for t in trees]
        for name, entry in sorted(roots[2].items()):
            if not _HEX.fullmatch(name) and entry not in (roots[0].get(name), roots[1].get(name)):
                left_out.append(LeftOut(f"{tracking}:{shown(name)}", _NOT_A_NOTE))
        groups = [_note_groups(root) for root in roots]
        offered: list[tuple[str, str, str | None, str | None]] = []  # commit, blob, mine, was
        for key in sorted(groups[1].keys() | groups[2].keys()):
            if groups[1].get(key) == groups[2].get(key):
                continue
            strays: tuple[dict[str, Entry], dict[str, Entry]] = ({}, {})
            old = self._flatten(cat, groups[0].get(key, ()), strays[0])
            ours = self._flatten(cat, groups[1].get(key, ()))
            theirs = self._flatten(cat, groups[2].get(key, ()), strays[1])
            for path, entry in sorted(strays[1].items()):
                if strays[0].get(path) != entry:
                    left_out.append(LeftOut(f"{tracking}:{shown(path)}", _NOT_A_NOTE))
            for commit, blob in theirs.items():
                mine, was = ours.get(commit), old.get(commit)
                if blob not in (mine, was):
                    offered.append((commit, blob, mine, was))
        sizes = self._object_sizes(sorted({blob for _, blob, _, _ in offered}))
        changes: dict[str, str] = {}
        for commit, blob, mine, was in offered:
            taken = self._note_lines(cat, f"{tracking} (note on {commit})", blob, sizes, left_out)
            if taken is None:
                continue
            if mine is None or mine == was:
                changes[commit] = taken
            else:
                changes[commit] = self.store.writer.blob(_cat_sort_uniq(cat, mine, taken))
        return changes

    def _note_lines(
        self,
        cat: ObjectReader,
        where: str,
        blob: str,
        sizes: dict[str, tuple[str, int]],
        left_out: list[LeftOut],
    ) -> str | None:
        """The remote's note ``blob`` as far as it holds session entries: itself, a blob of
        those lines only, or ``None`` (none); what else it holds goes into ``left_out``."""
        kind, size = sizes.get(blob, ("", None))
        problem = object_problem(kind, size)
        obj = cat.read(blob) if problem is None else None
        try:
            text = obj.data.decode("utf-8") if obj is not None else ""
        except UnicodeDecodeError:
            problem = "not UTF-8"
        if problem is not None:
            left_out.append(LeftOut(where, problem))
            return None
        kept: list[str] = []
        bad: list[str] = []
        for line in text.splitlines():
            if line.strip():
                (bad if notes.parse_line(line) is None else kept).append(line)
        if not bad:
            return blob if kept else None
        left_out.append(
            LeftOut(where, f"{len(bad)} line(s) not session entries, such as {bad[0][:60]!r}")
        )
        return self.store.writer.blob(("\n".join(kept) + "\n").encode()) if kept else None

    def _flatten(
        self, cat: ObjectReader, entries: tuple[Entry, ...], strays: dict[str, Entry] | None = None
    ) -> dict[str, str]:
        """Notes under ``entries`` (a fanout subtree of any depth): commit -> note blob.
        What is neither a note nor a fanout folder goes into ``strays`` (path -> entry)."""
        found: dict[str, str] = {}
        width = self.store.writer.hash_len * 2
        todo = [("", entry) for entry in entries]
        while todo:
            folder, entry = todo.pop()
            path = folder + entry.name
            name = path.replace("/", "")
            if entry.is_tree and BUCKET.fullmatch(entry.name) and len(name) < width:
                todo += [(f"{path}/", e) for e in self.store.tree(cat, entry.sha).values()]
            elif entry.mode == BLOB_MODE and len(name) == width and _HEX.fullmatch(name):
                found[name] = entry.sha
            elif strays is not None:
                strays[path] = entry
        return found

    # -- push ----------------------------------------------------------------------------

    def _push(self) -> list[Moved] | None:
        """Push the local refs that exist, all or none; never forced, but for a records
        ref the merge rewrote to purge forgotten sessions, which goes with a lease on the
        value it was rewritten from (:attr:`_leases`).

        Returns the refs the remote took (empty: it had them all), or ``None`` when it
        moved on since our fetch and the caller should fetch, merge and try again.
        """
        local = self._values(self.refs)
        present = [ref for ref in self.refs if ref in local]
        if not present:
            return []
        leases = [
            f"--force-with-lease={r}:{old}" for r, old in self._leases.items() if r in present
        ]
        args = ["push", "--porcelain", "--atomic", "--no-verify", *leases, self.remote.spec]
        result = self.git.run(*args, *(f"{ref}:{ref}" for ref in present), ok=(0, 1, 128))
        statuses = _porcelain(result.text)
        stderr = result.stderr.decode(errors="replace")
        if result.returncode == 0:
            self._leases = {}
            return [
                Moved(ref, summary.split("..")[0] if ".." in summary else None, local[ref])
                for flag, ref, summary in sorted(statuses, key=lambda s: self.refs.index(s[1]))
                if flag in ("*", " ", "+")
            ]
        rejected = [summary for flag, _, summary in statuses if flag == "!"]
        if not rejected:
            raise self._remote_error("push", stderr)
        reasons = list(dict.fromkeys(r for r in rejected if "atomic push failed" not in r))
        if all(any(m in r for m in _MOVED) for r in reasons):
            return None
        forced = [ref for flag, ref, summary in statuses if "needs force" in summary]
        if forced:  # git says so when the remote's ref names no commit: a hostile remote
            raise PushRejectedError(
                f"{' and '.join(forced)} on {self.remote.shown} are not commits this clone's "
                f"refs descend from, so only a forced push could replace them, and gitprov "
                f"never forces one. Your local records are intact and hold everything "
                f"readable from there; ask whoever runs the remote to delete those refs "
                f"(`git update-ref -d REF`), then sync again"
            )
        if any("shallow update not allowed" in r for r in reasons):
            raise PushRejectedError(
                f"{self.remote.shown} lacks history that the records pin, and this clone is "
                f"shallow, so it cannot send it. Run `git fetch --unshallow`, then push "
                f"again; your local records are intact"
            )
        said = (
            ln[len("remote:") :].strip() for ln in stderr.splitlines() if ln.startswith("remote:")
        )
        remote_said = redact_text("; ".join(line for line in said if line))
        raise PushRejectedError(
            f"{self.remote.shown} refused the provenance refs: {redact_text('; '.join(reasons))}"
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
            commits = sorted(self._flatten(cat, entries))
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


def _note_groups(root: dict[str, Entry]) -> dict[str, tuple[Entry, ...]]:
    """A notes tree's root entries with hex names, grouped by their first two digits."""
    grouped: dict[str, list[Entry]] = {}
    for name, entry in sorted(root.items()):
        if _HEX.fullmatch(name):
            grouped.setdefault(name[:2], []).append(entry)
    return {key: tuple(entries) for key, entries in grouped.items()}


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
