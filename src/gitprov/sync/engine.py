"""Teams: the provenance refs of many clones meet on a git remote, nothing lost.

``fetch`` brings a remote's refs into the remote-tracking namespace (never onto the local
refs, :mod:`~gitprov.sync.transport`), the merge folds them into the local refs, ``push``
sends the local refs (never forced) and ``sync`` does all three until the push lands; one
flock (:mod:`~gitprov.sync.lock`) keeps two syncs of the same repository from
interleaving.

This module reads and writes; the merge's rules are pure functions of plain mappings
(:mod:`gitprov.sync.merge`). The trees are compared the way the refs are laid out: root
entry by root entry, and only the ``xx/`` fanout folders whose ids differ are read into
those mappings, so merging two 20k-record histories that differ by ten records reads a few
dozen trees. Both local refs then move in one compare-and-swap transaction.

Everything from a remote is hostile: of what it changed, the merge takes only what gitprov
itself writes and reads back (:mod:`gitprov.store.untrusted`, :func:`load`, and note lines
that are session entries). The rest is left out, listed once in ``MergeResult.left_out``
with the reason, and never enters a local ref's tree, so it is never pushed on; a
fast-forward that would bring it in becomes a commit of the clean tree instead.

Forgotten sessions (:mod:`gitprov.store.forget`) are the one exception to "nothing lost":
before the records merge, the tombstones of each side purge the other side's history
(:mod:`gitprov.sync.purge`), and a remote rewritten so is pushed with
``--force-with-lease`` on the value fetched: the one forced push gitprov makes. Tracking
refs are forced mirrors, so a rewritten remote is simply taken as it is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

from gitprov.errors import CorruptRecordError
from gitprov.git import Git
from gitprov.git.objects import BLOB_MODE, Entry
from gitprov.git.reader import ObjectReader
from gitprov.git.retry import Backoff, retry, retrying
from gitprov.model.digests import record_digests
from gitprov.model.document import load
from gitprov.refs import CONFIGURED, NotesRefOption, tracking_ref
from gitprov.store.forget import notes_without
from gitprov.store.records import (
    DIGESTS_DIR,
    FORGOTTEN_DIR,
    FORMAT_FILE,
    FORMAT_TEXT,
    RecordStore,
    fanout,
    index_paths,
)
from gitprov.store.untrusted import (
    BUCKET,
    MAX_INDEX_FOLDER,
    LeftOut,
    bucket_problem,
    index_problem,
    object_problem,
    object_sizes,
    root_problem,
    shown,
)
from gitprov.sync import merge, transport
from gitprov.sync.lock import LOCK_TIMEOUT, sync_lock
from gitprov.sync.purge import Purge, apply_tombstones
from gitprov.sync.remote import Remote
from gitprov.sync.transport import Moved

#: Fetch-merge-push rounds before ``sync`` gives up on a remote that keeps moving.
ATTEMPTS = 10

_HEX = re.compile(r"[0-9a-f]+")
_OTHER_FORMAT = f"not {FORMAT_TEXT.decode().strip()!r}, the records format of this gitprov"
_NOT_A_NOTE = "neither a note nor a fanout folder of notes"


@dataclass
class MergeResult:
    """What one merge of the remote-tracking refs into the local refs did."""

    incoming: int = 0  # records new or changed here
    outgoing: int = 0  # records the remote lacks (or has older)
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (id, remote copy's id)
    left_out: list[LeftOut] = field(default_factory=list)  # what the remote holds, not taken
    forgotten: list[str] = field(default_factory=list)  # ids the remote's tombstones forgot here
    purged: list[str] = field(default_factory=list)  # ids forgotten here, purged from the remote's


@dataclass
class SyncReport:
    """The outcome of ``sync``/``push`` (the CLI words it: :mod:`gitprov.cli.options`)."""

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


@dataclass
class _Bucket:
    """One ``xx/`` fanout tree of the records, by file name, on each side and merged."""

    local: dict[str, Entry]
    remote: dict[str, Entry]
    base: dict[str, Entry]
    merged: dict[str, Entry]


class _Records:
    """One side's records (session id -> blob id) for :func:`merge.merge_records`, each
    ``xx/`` folder read when a record in it is first asked for."""

    def __init__(self, files: Callable[[str], dict[str, Entry]]) -> None:
        self._files = files

    def get(self, session_id: str) -> str | None:
        entry = self._files(fanout(session_id)).get(f"{session_id}.yaml")
        return None if entry is None else entry.sha


@dataclass(frozen=True)
class _Union:
    """A records union: its root's entries, counts, conflict copies and what it left out."""

    root: list[Entry]
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
        #: told each step of a push or sync as it starts (the CLI's progress line)
        self.on_step: Callable[[str], object] = lambda doing: None

    # -- the commands --------------------------------------------------------------------

    def fetch(self) -> list[Moved]:
        """Fetch both refs into the remote-tracking namespace; how each tracking ref moved."""
        with sync_lock(self.git, self.lock_timeout, self.store.rules):
            return transport.fetch(self.git, self.remote, self.refs)

    def push(self, attempts: int = ATTEMPTS) -> SyncReport:
        """Push both refs; when the remote moved on, fetch, merge and push again."""
        with sync_lock(self.git, self.lock_timeout, self.store.rules):
            return self._rounds(attempts, fetch_first=False)

    def sync(self, attempts: int = ATTEMPTS) -> SyncReport:
        """Fetch, merge and push, again until the push lands or ``attempts`` run out."""
        with sync_lock(self.git, self.lock_timeout, self.store.rules):
            return self._rounds(attempts, fetch_first=True)

    def _rounds(self, attempts: int, fetch_first: bool) -> SyncReport:
        report = SyncReport(self.remote)

        def attempt() -> SyncReport:
            report.attempts += 1
            if fetch_first or report.attempts > 1:
                self.on_step("fetching")
                transport.fetch(self.git, self.remote, self.refs)
                self.on_step("merging")
                result = self._merge()
                report.merged = True
                report.incoming += result.incoming
                report.outgoing = result.outgoing
                report.conflicts += result.conflicts
                # once each, in order (a hostile remote can offer tens of thousands)
                report.left_out = list(dict.fromkeys([*report.left_out, *result.left_out]))
                report.forgotten = list(dict.fromkeys([*report.forgotten, *result.forgotten]))
                report.purged = result.purged
            self.on_step("pushing")
            report.pushed = transport.push(self.git, self.remote, self.refs, self._leases)
            self._leases = {}
            report.missing, report.annotated = self._missing_commits()
            return report

        return retry(
            attempt,
            Backoff(attempts=attempts, first=0.05, cap=2.0),
            f"{self.remote.shown} kept moving: the push lost {attempts} times to other clones' "
            f"pushes. Your records are intact and merged locally; run `gitprov sync` again",
        )

    def _tracking(self) -> list[str]:
        return [tracking_ref(ref, self.remote.name) for ref in self.refs]

    # -- merge ---------------------------------------------------------------------------

    def _merge(self) -> MergeResult:
        """Merge the fetched remote-tracking refs into the local refs, again when a
        concurrent save moved a local ref under us."""
        return retrying(self.store.ref, "merge the remote's records", self._merge_once)

    def _merge_once(self) -> MergeResult:
        result = MergeResult()
        updates: list[tuple[str, str, str | None]] = []
        pairs = list(zip(self.refs, self._tracking(), strict=True))
        self._leases = {}
        # the packs of rewrites keep their .keep (and saves wait) until the refs moved
        with ExitStack() as held, self.git.objects() as cat:
            tips = [
                (self.store.head(cat, ref), self._remote_tip(cat, tracking, result.left_out))
                for ref, tracking in pairs
            ]
            bases = self._merge_bases(tips)
            purge = apply_tombstones(self.store, cat, pairs[0][1], tips[0], bases[0], held)
            result.left_out += purge.left_out
            result.forgotten, result.purged = purge.forgotten, purge.purged
            fetched = tips[0][1]
            if fetched is not None and purge.remote != fetched:  # pushed with a lease on it
                self._leases[self.store.ref] = fetched
            if (purge.local, purge.remote) != tips[0]:
                bases[0] = self._merge_bases([(purge.local, purge.remote)])[0]
            for (ref, tracking), tip, candidates in zip(pairs, tips, bases, strict=True):
                local, remote = tip
                if ref == self.store.ref:
                    merging = (purge.local, purge.remote)
                    action = merge.plan(*merging, candidates)
                    base = self._records_base(cat, candidates, *merging)
                    new = self._merge_records(cat, tracking, base, merging, action, result, purge)
                    new = new or (purge.local if purge.local != local else None)
                else:
                    action = merge.plan(local, remote, candidates)
                    new = self._merge_notes(cat, tracking, candidates, tip, action, result, purge)
                if new is not None:
                    updates.append((ref, new, local))
            if updates:
                self.store.move(updates, f"gitprov: merge provenance from {self.remote.shown}")
        return result

    # -- the commits to merge ------------------------------------------------------------

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
    ) -> dict[str, Entry]:
        """The root of the best common records commit (empty: none).

        Saves pin the code commit they ran on as an extra parent, so the merge bases of two
        records tips can be code commits too; those are skipped (a code commit never
        descends from a records commit, so the best records base is among the candidates).
        """
        format_blob = self.store.blob_id(FORMAT_TEXT)
        for sha in candidates:
            root = self.store.root(cat, sha)[1]
            entry = root.get(FORMAT_FILE)
            if sha in (local, remote) or (entry is not None and entry.sha == format_blob):
                return root
        return {}

    def _merged(
        self,
        tree: str | list[Entry],
        tips: tuple[str | None, str],
        action: merge.Action,
        left_out: list[LeftOut],
        message: str,
    ) -> str:
        """The ref's new commit: the remote's own on a fast-forward that leaves nothing out,
        else one of ``tree`` (an id, or the entries of a new one) on both tips. The remote's
        commit is always a parent, so the next push fast-forwards it; what was left out
        stays in its history, never in a tree of ours."""
        local, remote = tips
        if action == "fast-forward" and not left_out:
            return remote
        parents = [local, remote] if local is not None else [remote]
        return self.store.write_commit(tree, parents, message)

    # -- records -------------------------------------------------------------------------

    def _merge_records(
        self,
        cat: ObjectReader,
        tracking: str,
        base: dict[str, Entry],
        tips: tuple[str | None, str | None],
        action: merge.Action,
        result: MergeResult,
        purge: Purge,
    ) -> str | None:
        """The records ref's new value (``None``: unchanged); counts go into ``result``
        (``base``: the root of the merge base)."""
        local, remote = tips
        if remote is None or local == remote:
            if remote is None and local is not None:  # all of ours are new to the remote
                result.outgoing = self._count(cat, self.store.root(cat, local)[1])
            return None
        roots = base, self.store.root(cat, local)[1], self.store.root(cat, remote)[1]
        union = self._union(cat, tracking, roots, purge)
        result.left_out += union.left_out
        if action == "none":
            result.outgoing = union.outgoing
            return None
        result.incoming = union.incoming
        result.outgoing = union.outgoing
        result.conflicts = union.conflicts
        count = union.incoming
        message = (
            f"gitprov: merge {count} record{'' if count == 1 else 's'} from {self.remote.shown}\n"
        )
        left_out = union.left_out + purge.left_out
        return self._merged(union.root, (local, remote), action, left_out, message)

    def _count(self, cat: ObjectReader, root: dict[str, Entry]) -> int:
        return sum(len(self.store.folder(cat, e)) for n, e in root.items() if BUCKET.fullmatch(n))

    def _union(
        self,
        cat: ObjectReader,
        tracking: str,
        roots: tuple[dict[str, Entry], dict[str, Entry], dict[str, Entry]],
        purge: Purge,
    ) -> _Union:
        """Three-way union of the records roots (base, local, remote) by
        :func:`merge.merge_records`, over the folders whose ids differ on the two sides.

        Of what the remote changed, only what :mod:`gitprov.store.untrusted` and
        :func:`load` accept is offered to the merge; what is refused and did not change
        since the base was named then, not again. Tombstones come from ``purge``.
        """
        b_root, l_root, r_root = roots
        opened: dict[str, _Bucket] = {}

        def bucket(name: str) -> _Bucket:
            if name not in opened:
                ours, theirs, old = (
                    self.store.folder(cat, r.get(name)) for r in (l_root, r_root, b_root)
                )
                opened[name] = _Bucket(ours, theirs, old, merged=dict(ours))
            return opened[name]

        left_out: list[LeftOut] = []
        theirs: dict[str, str] = {}  # session id -> blob, of the remote's well-formed records
        for name in sorted(l_root.keys() | r_root.keys()):
            ours, remote_entry, old = l_root.get(name), r_root.get(name), b_root.get(name)
            if ours == remote_entry or name in (FORGOTTEN_DIR, DIGESTS_DIR):
                continue
            if remote_entry is not None and merge.three_way(old, ours, remote_entry) != "ours":
                problem = root_problem(remote_entry)
                if problem is None and name == FORMAT_FILE:  # ours is added when missing
                    ok = remote_entry.sha == self.store.blob_id(FORMAT_TEXT)
                    problem = None if ok else _OTHER_FORMAT
                if problem is not None:
                    left_out.append(LeftOut(f"{tracking}:{shown(name)}", problem))
                elif remote_entry.is_tree and (ours is None or ours.is_tree):
                    files = bucket(name)
                    for file, entry in files.remote.items():
                        problem = bucket_problem(name, entry)
                        if problem is None:
                            theirs[file.removesuffix(".yaml")] = entry.sha
                        elif (
                            merge.three_way(files.base.get(file), files.local.get(file), entry)
                            != "ours"
                        ):
                            where = f"{tracking}:{shown(f'{name}/{file}')}"
                            left_out.append(LeftOut(where, problem))
            if ours is not None and ours.is_tree:
                bucket(name)  # opened, so that what the remote lacks of it is counted
        ours_side = _Records(lambda name: bucket(name).local)
        base_side = _Records(lambda name: bucket(name).base)
        offered = merge.offered(base_side, ours_side, theirs)
        refused, contents = self._vet_records(cat, tracking, [(i, theirs[i]) for i in offered])
        forgotten = purge.tombstones(self.store, cat)
        merged = merge.merge_records(
            base_side,
            ours_side,
            theirs,
            remote=self.remote.name,
            contents=contents,
            blob_id=self.store.blob_id,
            refused=refused,
            forgotten=forgotten if forgotten is not None else (),
        )
        for session_id, why in merged.left_out:
            where = f"{tracking}:{fanout(session_id)}/{session_id}.yaml"
            left_out.append(LeftOut(where, why))
        for data in merged.blobs.values():
            self.store.write_blob(data)
        for session_id, blob in merged.changes.items():
            name = f"{session_id}.yaml"
            bucket(fanout(session_id)).merged[name] = Entry(BLOB_MODE, name, blob)
        incoming = outgoing = 0
        root = dict(l_root)
        for name, files in opened.items():
            if files.merged:  # a remote folder whose every record was left out adds none
                root[name] = self.store.write_folder(name, files.merged.values())
            incoming += sum(files.local.get(n) != e for n, e in files.merged.items())
            outgoing += sum(files.remote.get(n) != e for n, e in files.merged.items())
        if FORMAT_FILE not in root:
            root[FORMAT_FILE] = Entry(BLOB_MODE, FORMAT_FILE, self.store.write_blob(FORMAT_TEXT))
        if purge.folder is not None:
            root[FORGOTTEN_DIR] = purge.folder
        copies = [  # a conflict copy is indexed under its own id
            path
            for session_id, copy in merged.conflicts
            for path in _index_paths(merged.blobs[merged.changes[copy]], copy)
        ]
        folders = [r.get(DIGESTS_DIR) for r in roots]
        index = self._index_union(cat, tracking, folders, left_out, copies)
        if index is not None:
            root[DIGESTS_DIR] = index
        return _Union(list(root.values()), incoming, outgoing, merged.conflicts, left_out)

    def _index_union(
        self,
        cat: ObjectReader,
        tracking: str,
        folders: list[Entry | None],
        left_out: list[LeftOut],
        added: list[str],
    ) -> Entry | None:
        """Our ``digests/`` folder with the remote's entries it lacks and the entries
        ``added`` (``None``: ours as it is), by :func:`merge.merge_index`; ``folders``:
        base, ours, theirs.

        Only the folders the remote changed since the base and that differ from ours are
        read, so what it holds unchanged (taken, or named, before) is not looked at again;
        what is not the layout gitprov writes goes into ``left_out`` unread below, and so
        does a folder over :data:`MAX_INDEX_FOLDER` entries.
        """
        old, ours, theirs = folders
        where = f"{tracking}:{DIGESTS_DIR}"
        if theirs is None or theirs in (ours, old):
            return self.store.with_index(cat, ours, added) if added else None
        if (problem := root_problem(theirs)) is not None:
            left_out.append(LeftOut(where, problem))
            return self.store.with_index(cat, ours, added) if added else None
        empty = self.store.blob_id(b"")
        offered: dict[str, Entry] = {}
        have: set[str] = set()
        todo: list[tuple[str, Entry | None, Entry | None, Entry]] = [("", old, ours, theirs)]
        while todo:
            prefix, base, mine, other = todo.pop()
            files = self.store.folder(cat, other)
            if len(files) > MAX_INDEX_FOLDER:
                what = f"{len(files)} entries, over the {MAX_INDEX_FOLDER}-entry limit"
                left_out.append(LeftOut(f"{where}/{shown(prefix)}", what))
                continue
            mine_files, base_files = self.store.folder(cat, mine), self.store.folder(cat, base)
            for name, entry in files.items():
                here = mine_files.get(name)
                if entry in (here, base_files.get(name)):
                    continue
                path = prefix + name
                if path.count("/") < 3 and index_problem(path, entry, empty) is None:
                    todo.append((f"{path}/", base_files.get(name), here, entry))
                else:
                    offered[path] = entry
                    if here is not None:
                        have.add(path)
        merged = merge.merge_index(have, offered, empty=empty)
        left_out += (LeftOut(f"{where}/{shown(path)}", why) for path, why in merged.left_out)
        paths = [*merged.changes, *added]
        return self.store.with_index(cat, ours, paths) if paths else None

    def _vet_records(
        self, cat: ObjectReader, tracking: str, offered: list[tuple[str, str]]
    ) -> tuple[dict[str, str], dict[str, bytes]]:
        """Of the remote's records ``offered`` (id, blob): why each one that is not a file
        within the size limit that :func:`load` reads is refused, and the bytes of the
        others."""
        sizes = object_sizes(self.git, sorted({blob for _, blob in offered}))
        refused: dict[str, str] = {}
        contents: dict[str, bytes] = {}
        for session_id, blob in offered:
            kind, size = sizes.get(blob, ("", None))
            problem = object_problem(kind, size)
            if problem is None:
                obj = cat.read(blob)
                data = obj.data if obj else b""
                try:
                    load(data, session_id, f"{tracking}:{fanout(session_id)}/{session_id}.yaml")
                except CorruptRecordError as exc:
                    problem = str(exc)
                else:
                    contents[blob] = data
            if problem is not None:
                refused[session_id] = problem
        return refused, contents

    # -- notes ---------------------------------------------------------------------------

    def _merge_notes(
        self,
        cat: ObjectReader,
        tracking: str,
        candidates: list[str],
        tips: tuple[str | None, str | None],
        action: merge.Action,
        result: MergeResult,
        purge: Purge,
    ) -> str | None:
        """The notes ref's new value (``None``: unchanged), without the lines of forgotten
        sessions on the notes it changed or where ``purge`` says they may be."""
        local, remote = tips
        new = None
        changed: set[str] = set()
        if action != "none" and remote is not None:
            new, changed = self._notes_union(cat, tracking, candidates, tips, action, result)
        forgotten = purge.tombstones(self.store, cat)
        tip = new or local
        if forgotten is None or tip is None:
            return new
        tree = self.store.root(cat, tip)[0]
        cleaned = notes_without(
            self.store, cat, tree, purge.noted_on | changed, forgotten.__contains__
        )
        if cleaned is None:
            return new
        message = "gitprov: forget the notes of forgotten sessions\n"
        return self.store.write_commit(cleaned, [tip], message)

    def _notes_union(
        self,
        cat: ObjectReader,
        tracking: str,
        candidates: list[str],
        tips: tuple[str | None, str | None],
        action: merge.Action,
        result: MergeResult,
    ) -> tuple[str, set[str]]:
        """The notes merged (:func:`merge.merge_notes`), and the commits whose notes the
        remote changed."""
        local, remote = tips
        assert remote is not None
        base = self.store.root(cat, candidates[0] if candidates else None)[1]
        tree, ours = self.store.root(cat, local)
        theirs = self.store.root(cat, remote)[1]
        left_out: list[LeftOut] = []
        changes = self._note_changes(cat, tracking, (base, ours, theirs), left_out)
        result.left_out += left_out
        if action == "merge" or left_out:  # a clean fast-forward needs no tree of ours
            for commit, blob in sorted(changes.items()):
                tree = self.store.put_note(cat, tree, commit, blob)
        message = f"gitprov: merge notes from {self.remote.shown}\n"
        new = self._merged(tree or [], (local, remote), action, left_out, message)
        return new, set(changes)

    def _note_changes(
        self,
        cat: ObjectReader,
        tracking: str,
        roots: tuple[dict[str, Entry], dict[str, Entry], dict[str, Entry]],
        left_out: list[LeftOut],
    ) -> dict[str, str]:
        """What to set in the local notes tree (commit -> note blob) to merge in the
        remote's notes.

        The trees (``roots``: base, local, remote) may use any fanout, so notes are
        compared per group of root entries sharing their first two hex digits; equal groups
        are skipped unread. Of the remote's, only notes (within the size limit) are
        offered to the merge; the rest goes into ``left_out``.
        """
        for name, entry in sorted(roots[2].items()):
            changed = merge.three_way(roots[0].get(name), roots[1].get(name), entry) != "ours"
            if changed and not _HEX.fullmatch(name):
                left_out.append(LeftOut(f"{tracking}:{shown(name)}", _NOT_A_NOTE))
        groups = [_note_groups(root) for root in roots]
        base: dict[str, str] = {}
        ours: dict[str, str] = {}
        theirs: dict[str, str] = {}
        for key in sorted(groups[1].keys() | groups[2].keys()):
            if groups[1].get(key) == groups[2].get(key):
                continue
            strays: tuple[dict[str, Entry], dict[str, Entry]] = ({}, {})
            base |= self._flatten(cat, groups[0].get(key, ()), strays[0])
            ours |= self._flatten(cat, groups[1].get(key, ()))
            theirs |= self._flatten(cat, groups[2].get(key, ()), strays[1])
            for path, entry in sorted(strays[1].items()):
                if strays[0].get(path) != entry:
                    left_out.append(LeftOut(f"{tracking}:{shown(path)}", _NOT_A_NOTE))
        offered = merge.offered(base, ours, theirs)
        sizes = object_sizes(self.git, sorted({theirs[commit] for commit in offered}))
        refused: dict[str, str] = {}
        contents: dict[str, bytes] = {}
        for commit in offered:
            kind, size = sizes.get(theirs[commit], ("", None))
            problem = object_problem(kind, size)
            if problem is not None:
                refused[commit] = problem
                continue
            for blob in (theirs[commit], ours.get(commit)):
                if blob is not None:
                    obj = cat.read(blob)
                    contents[blob] = obj.data if obj is not None else b""
        merged = merge.merge_notes(
            base, ours, theirs, contents=contents, blob_id=self.store.blob_id, refused=refused
        )
        left_out += (LeftOut(f"{tracking} (note on {c})", why) for c, why in merged.left_out)
        for data in merged.blobs.values():
            self.store.write_blob(data)
        return merged.changes

    def _flatten(
        self, cat: ObjectReader, entries: tuple[Entry, ...], strays: dict[str, Entry] | None = None
    ) -> dict[str, str]:
        """Notes under ``entries`` (a fanout subtree of any depth): commit -> note blob.
        What is neither a note nor a fanout folder goes into ``strays`` (path -> entry)."""
        found: dict[str, str] = {}
        width = hashlib.new(self.git.object_format).digest_size * 2
        todo = [("", entry) for entry in entries]
        while todo:
            folder, entry = todo.pop()
            path = folder + entry.name
            name = path.replace("/", "")
            if entry.is_tree and BUCKET.fullmatch(entry.name) and len(name) < width:
                todo += [(f"{path}/", e) for e in self.store.folder(cat, entry).values()]
            elif entry.mode == BLOB_MODE and len(name) == width and _HEX.fullmatch(name):
                found[name] = entry.sha
            elif strays is not None:
                strays[path] = entry
        return found

    # -- shallow clones --------------------------------------------------------------------

    def _missing_commits(self) -> tuple[list[str], int]:
        """In a shallow clone: (annotated commits not present, commits annotated)."""
        shallow = self.git.run("rev-parse", "--is-shallow-repository").text.strip()
        if shallow != "true" or self.store.notes_ref is None:
            return [], 0
        with self.git.objects() as cat:
            entries = tuple(self.store.root(cat, self.store.notes_ref)[1].values())
            commits = sorted(self._flatten(cat, entries))
        if not commits:
            return [], 0
        check = self.git.run("cat-file", "--batch-check", input="\n".join(commits).encode() + b"\n")
        missing = [ln.split()[0] for ln in check.text.splitlines() if ln.endswith(" missing")]
        return missing, len(commits)


def _index_paths(data: bytes, session_id: str) -> list[str]:
    """Where the digests that the record ``data`` lists are indexed for ``session_id``."""
    try:
        return index_paths(record_digests(load(data, session_id, session_id)), session_id)
    except CorruptRecordError:
        return []


def _note_groups(root: dict[str, Entry]) -> dict[str, tuple[Entry, ...]]:
    """A notes tree's root entries with hex names, grouped by their first two digits."""
    grouped: dict[str, list[Entry]] = {}
    for name, entry in sorted(root.items()):
        if _HEX.fullmatch(name):
            grouped.setdefault(name[:2], []).append(entry)
    return {key: tuple(entries) for key, entries in grouped.items()}
