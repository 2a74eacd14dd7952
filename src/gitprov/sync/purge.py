"""Forgotten sessions across clones: before records merge, the tombstones of each side
purge the other side's records history (:mod:`gitprov.store.forget` rewrites it).

Tombstones are unioned like records; the remote's new ones rewrite this clone's history
without those records, and a remote whose history still holds what this clone forgot is
rewritten the same way, merged, and pushed with a lease on the value fetched (the one
forced push gitprov makes). Of the remote's ``forgotten/`` folder only what gitprov
writes is taken (:mod:`gitprov.store.untrusted`, :meth:`Tombstone.load`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

from gitprov.errors import CorruptRecordError
from gitprov.git.objects import Entry
from gitprov.git.reader import ObjectReader
from gitprov.model.tombstone import MAX_TOMBSTONE_BYTES, Tombstone
from gitprov.store.forget import Rewrite, Tombstones, with_tombstones
from gitprov.store.records import FORGOTTEN_DIR, RecordStore
from gitprov.store.untrusted import (
    BUCKET,
    LeftOut,
    bucket_problem,
    folder_problem,
    object_problem,
    object_sizes,
    root_problem,
    shown,
)


@dataclass
class Purge:
    """What the tombstones of both sides make of a records merge: the tips to merge (either
    rewritten without forgotten records), the merged ``forgotten/`` folder, the commits
    whose notes may hold a forgotten session's line, and what the remote's tombstones
    forgot here (``forgotten``) and this clone's purged from the remote's (``purged``)."""

    local: str | None
    remote: str | None
    folder: Entry | None = None
    noted_on: set[str] = field(default_factory=set)
    left_out: list[LeftOut] = field(default_factory=list)  # of the remote's tombstones
    forgotten: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)

    def tombstones(self, store: RecordStore, cat: ObjectReader) -> Tombstones | None:
        """The merged tombstones (``None``: neither side has any)."""
        return None if self.folder is None else Tombstones(store, cat, self.folder)


def apply_tombstones(
    store: RecordStore,
    cat: ObjectReader,
    tracking: str,
    tips: tuple[str | None, str | None],
    candidates: list[str],
    held: ExitStack,
) -> Purge:
    """Apply the tombstones of each side to the other side's records history (``tips``:
    local and remote; ``candidates``: their merge bases).

    A remote whose tip this clone already has brings nothing, and the local history
    holds no record that a local tombstone names, so only a remote with new commits is
    looked at. The remote's tombstones that this clone lacks rewrite the local history
    (all of it). Then the commits of the remote that the (now clean) local history
    does not reach are rewritten without the records of: the ids whose tombstones the
    remote lacks; the ids of its new tombstones (a remote may hold one but not the
    rewrite, a plain commit adding it); and forgotten ids its tip still holds (saved
    back by a clone that knows no tombstones). Then the push goes with a lease, and
    cleans the remote too. A clone with no records of its own takes the remote's
    history as it is, but for the last kind. The write lock and the packs of the
    rewrites are held in ``held`` until the refs moved.
    """
    local, remote = tips
    l_root, r_root = (store.root(cat, t)[1] for t in tips)
    ours, theirs = l_root.get(FORGOTTEN_DIR), r_root.get(FORGOTTEN_DIR)
    found = Purge(local, remote, ours)
    if remote is None or remote in (local, *candidates) or ours is theirs is None:
        return found
    offered, there = _tombstone_changes(store, cat, tracking, ours, theirs, found.left_out)
    mine = Tombstones(store, cat, ours)
    here = sorted(i for i in offered if i not in mine)
    stale = _stale(store, cat, l_root, r_root, lambda i: i in mine or i in offered)
    new = sorted({*there, *stale, *(here if local is not None else ())})
    found.folder = with_tombstones(store, cat, ours, offered) if offered else ours
    if not here and not new:
        return found
    held.enter_context(store.write_lock())  # a save now would only be merged again
    if here and local is not None:
        found.local, found.forgotten = _rewrite(store, cat, here, local, None, found, held)
    if new:
        known = ["--not", found.local] if found.local else []
        within = set(store.git.run("rev-list", remote, *known).text.split())
        found.remote, purged = _rewrite(store, cat, new, remote, within, found, held)
        if found.remote != remote:
            found.purged = purged
    return found


def _stale(
    store: RecordStore,
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
            ids = (file.removesuffix(".yaml") for file in store.folder(cat, entry))
            found += (i for i in ids if forgotten(i))
    return found


def _rewrite(
    store: RecordStore,
    cat: ObjectReader,
    ids: list[str],
    tip: str,
    within: set[str] | None,
    found: Purge,
    held: ExitStack,
) -> tuple[str, list[str]]:
    """``tip`` rewritten without the records of ``ids`` (its objects in one pack, kept
    until the refs moved), and the ids whose records it held; where their note lines
    may be goes into ``found``."""
    rewrite = Rewrite(store, ids)
    with store.batch() as batch:
        held.callback(batch.release)
        new = rewrite.run(tip, within)
    found.noted_on |= rewrite.noted_on(cat)
    return new, sorted(set(rewrite.records.values()))


def _tombstone_changes(
    store: RecordStore,
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
    mine = store.folder(cat, ours)
    if theirs is not None and (problem := root_problem(theirs)) is not None:
        left_out.append(LeftOut(where, problem))
        theirs = None
    other = store.folder(cat, theirs)
    offered: list[tuple[str, Entry]] = []
    there: list[str] = []
    for name in sorted(mine.keys() | other.keys()):
        if mine.get(name) == other.get(name):
            continue
        if name in other and (problem := folder_problem(other[name])) is not None:
            left_out.append(LeftOut(f"{where}/{shown(name)}", problem))
            other.pop(name)
        ours_files = store.folder(cat, mine.get(name))
        theirs_files = store.folder(cat, other.get(name))
        there += (n.removesuffix(".yaml") for n in ours_files if n not in theirs_files)
        for file, entry in theirs_files.items():
            if ours_files.get(file) == entry:
                continue
            problem = bucket_problem(name, entry)
            if problem is not None:
                left_out.append(LeftOut(f"{where}/{shown(f'{name}/{file}')}", problem))
            else:
                offered.append((name, entry))
    sizes = object_sizes(store.git, sorted({entry.sha for _, entry in offered}))
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
