"""``gitprov forget``: records removed for good, from every clone and remote that syncs.

Forgetting a session rewrites the records ref's history in one pass, in-process: every
records commit whose tree holds the record gets the same tree without it (only the root and
one ``xx/`` folder change; a folder left empty goes), every descendant gets the rewritten
parents, and a save that wrote the record no longer pins what it pinned (its snapshot, the
only other place its content lives; a commit another record pins stays pinned by that
record's own save). Everything else of a commit is kept byte for byte, so the rewrite is a
function of the commit and the forgotten ids alone: clones that rewrite the same history get
the same commits, and their histories still meet in a merge base.

A tombstone (:mod:`gitprov.model.tombstone`) is committed on top, the sessions' lines leave the
notes index (a commit on its tip: note lines hold no content, so the notes history stays),
and both refs move in one compare-and-swap. Nothing else is touched: not the user's refs or
reflogs, and not the old objects, which ``git gc`` prunes once nothing (reflogs included)
reaches them. :mod:`gitprov.sync.purge` rewrites with the tombstones a remote brings, and rewrites
the remote's history when it still holds what this clone forgot (then pushes with a lease).
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

from gitprov.errors import (
    CorruptRecordError,
    GitCommandError,
    GitProvError,
    RepositoryCorruptError,
    SessionNotFoundError,
)
from gitprov.git import Git
from gitprov.git.objects import BLOB_MODE, TREE_MODE, Entry, PackedObjects, format_tree, parse_tree
from gitprov.git.reader import ObjectReader
from gitprov.git.retry import retrying
from gitprov.model.document import load, validate_session_id
from gitprov.model.sections import now_utc
from gitprov.model.tombstone import MAX_REASON, Tombstone
from gitprov.refs import is_tracking_ref, tracking_prefix
from gitprov.state.environment import git_user
from gitprov.store import notes
from gitprov.store.records import (
    DIGESTS_DIR,
    FORGOTTEN_DIR,
    FORMAT_FILE,
    FORMAT_TEXT,
    RecordStore,
    fanout,
    record_path,
)


@dataclass(frozen=True)
class _Commit:
    raw: bytes
    tree: str
    parents: list[str]


def _parse_commit(sha: str, raw: bytes) -> _Commit:
    lines = raw.split(b"\n\n", 1)[0].split(b"\n")  # the header
    if not lines[0].startswith(b"tree "):
        raise RepositoryCorruptError(f"commit {sha} on the records ref cannot be parsed")
    parents = []
    for line in lines[1:]:
        if not line.startswith(b"parent "):
            break
        parents.append(line[7:].decode("ascii"))
    return _Commit(raw, lines[0][5:].decode("ascii"), parents)


def _with(commit: _Commit, tree: str, parents: list[str]) -> bytes:
    """``commit``'s object with another tree and parents, every other byte kept."""
    rest = commit.raw.split(b"\n", 1 + len(commit.parents))[-1]
    head = b"tree %s\n" % tree.encode() + b"".join(b"parent %s\n" % p.encode() for p in parents)
    return head + rest


class Rewrite:
    """Records histories rewritten without the records of ``forgotten`` ids.

    Run it inside ``store.objects.batch()``: what it writes goes out as one pack. Commits
    are read in-process (from the packs first); the root trees, thousands of deltas that
    git's delta cache resolves far faster, stream out of one ``cat-file --batch``, each
    read once; only the ``xx/`` folders of the forgotten ids are opened, once each.
    """

    def __init__(self, store: RecordStore, forgotten: Iterable[str]) -> None:
        self.store = store
        self.git = store.git
        self._names: dict[str, set[str]] = {}  # xx -> file names of forgotten ids
        for session_id in forgotten:
            self._names.setdefault(fanout(session_id), set()).add(f"{session_id}.yaml")
        self.mapped: dict[str, str] = {}  # records commit -> rewritten (itself if unchanged)
        self.rewritten = 0
        self.records: dict[str, str] = {}  # blob of a forgotten record found -> its id
        self._buckets: dict[str, str | None] = {}  # old xx/ tree -> new (None: now empty)
        self._held: dict[str, dict[str, str]] = {}  # xx/ tree -> forgotten name -> blob
        self._pins: set[str] = set()  # extra parents that are not records commits
        self._kept: set[str] = set()
        self._dropped: set[str] = set()

    @property
    def unpinned(self) -> list[str]:
        """Commits that forgotten saves pinned and no save pins any longer."""
        return sorted(self._dropped - self._kept)

    def run(self, tip: str, within: Collection[str] | None = None) -> str:
        """The rewritten ``tip``. ``within``: the only commits that may hold a forgotten
        record (the others are known clean, as what a clean ref reaches is)."""
        if not self._names:
            return tip
        commits = self._walk(tip, within)
        order = _parents_first(commits)
        folders, roots = self._roots([commits[sha].tree for sha in reversed(order)])
        for sha in order:
            commit = commits[sha]
            first = commit.parents[0] if commit.parents else None
            held = self._holds(folders.get(commit.tree, {}))
            before = folders.get(commits[first].tree, {}) if first in commits else {}
            touched = held != self._holds(before)
            parents: list[str] = []
            for i, parent in enumerate(commit.parents):
                if i and parent in self._pins:
                    (self._dropped if touched else self._kept).add(parent)
                    if touched:
                        continue
                new = self.mapped.get(parent, parent)
                if new not in parents:
                    parents.append(new)
            tree = roots.get(commit.tree, commit.tree)
            if tree == commit.tree and parents == commit.parents:
                self.mapped[sha] = sha
            else:
                self.mapped[sha] = self.store.objects.write("commit", _with(commit, tree, parents))
                self.rewritten += 1
        new = self.mapped.get(tip, tip)
        kept = self._copies_pins(commits[tip].tree) if self.unpinned and tip in commits else []
        if kept:  # one commit, the same in every clone (fixed date), re-pins them
            self._kept.update(kept)
            message = "gitprov: keep the pins of conflict copies of forgotten sessions\n"
            new = self.store.objects.commit(
                roots.get(commits[tip].tree, commits[tip].tree), [new, *kept], message, when=0
            )
        return new

    def _copies_pins(self, root_tree: str) -> list[str]:
        """The dropped pins that a kept record still names: a sync conflict copy
        (``<id>+<remote>-<blob>``) of a forgotten id holds the other clone's version, whose
        snapshot (or code commit) only that clone's save of the id pinned."""
        forgotten = {name.removesuffix(".yaml") for names in self._names.values() for name in names}
        dropped = set(self.unpinned)
        found: list[str] = []
        with self.git.local_objects() as cat:
            for bucket in self.store.tree(cat, root_tree).values():
                if not bucket.is_tree or len(bucket.name) != 2:
                    continue
                for name, entry in self.store.tree(cat, bucket.sha).items():
                    copy = name.removesuffix(".yaml")
                    if "+" not in copy or copy.split("+", 1)[0] not in forgotten:
                        continue
                    obj = cat.read(entry.sha)
                    try:
                        record = load(obj.data if obj else b"", copy, entry.sha)
                    except CorruptRecordError:
                        continue
                    git = record.get("git") or {}
                    for key in ("snapshot", "commit"):
                        sha = git.get(key)
                        if sha in dropped and sha not in found and cat.read(str(sha)):
                            found.append(str(sha))
        return found

    def clean(self, root: dict[str, Entry]) -> dict[str, Entry]:
        """A records root (of a commit :meth:`run` walked) as the rewrite left it."""
        out = dict(root)
        for name in self._names:
            entry = out.get(name)
            if entry is None or not entry.is_tree:
                continue
            new = self._buckets.get(entry.sha, entry.sha)
            if new is None:
                del out[name]
            else:
                out[name] = Entry(TREE_MODE, name, new)
        return out

    def noted_on(self, cat: ObjectReader) -> set[str]:
        """The commits the forgotten records ran on: where their note lines are."""
        found = set()
        for blob, session_id in sorted(self.records.items()):
            obj = cat.read(blob)
            try:
                record = load(obj.data if obj else b"", session_id, blob)
            except CorruptRecordError:
                continue
            commit = (record.get("git") or {}).get("commit")
            if isinstance(commit, str):
                found.add(commit)
        return found

    # -- the walk ------------------------------------------------------------------------

    def _walk(self, tip: str, within: Collection[str] | None) -> dict[str, _Commit]:
        """Every records commit ``tip`` reaches (within ``within``), read in-process:
        first-parent chains, then the chains of the extra parents that are records
        commits (a merge's remote side), found by one ``--batch-check`` per round."""
        commits: dict[str, _Commit] = {}
        records: dict[str, bool] = {}  # extra parent -> is a records commit
        format_id = self.store.blob_id(FORMAT_TEXT)
        heads = [tip]
        packs = PackedObjects(self.git.objects_dir, self.store.objects.hash_len)
        with ExitStack() as stack:
            stack.callback(packs.close)
            cat = stack.enter_context(self.git.local_objects())
            while heads:
                extra: set[str] = set()
                for sha in heads:
                    while sha not in commits and (within is None or sha in within):
                        obj = packs.read(sha) or cat.read(sha)  # packs first: most are there
                        if obj is None or obj.type != "commit":
                            raise RepositoryCorruptError(
                                f"commit {sha}, reached from {self.store.ref}, is missing; "
                                f"nothing was rewritten. `git fsck --full` names the damage"
                            )
                        commit = commits[sha] = _parse_commit(sha, obj.data)
                        extra.update(commit.parents[1:])
                        if not commit.parents:
                            break
                        sha = commit.parents[0]
                new = sorted(p for p in extra if p not in records and p not in commits)
                found = self._lookup([f"{p}:{FORMAT_FILE}" for p in new])
                for parent, entry in zip(new, found, strict=True):
                    records[parent] = entry == ("blob", format_id)
                heads = [p for p in new if records[p]]
        self._pins = {p for p, is_records in records.items() if not is_records}
        return commits

    def _lookup(self, names: list[str]) -> list[tuple[str, str] | None]:
        """(type, id) of each of ``names`` (``<rev>:<path>``), or ``None`` where there is
        none, through one ``cat-file --batch-check``."""
        if not names:
            return []
        listing = self.git.run(
            "cat-file",
            "--batch-check=%(objecttype) %(objectname)",
            "--buffer",
            input="".join(f"{name}\n" for name in names).encode(),
        )
        out: list[tuple[str, str] | None] = []
        for line in listing.text.splitlines():
            kind, _, sha = line.partition(" ")
            out.append(None if line.endswith(" missing") else (kind, sha))
        if len(out) != len(names):
            raise GitCommandError(f"cat-file answered {len(out)} of {len(names)} lookups")
        return out

    def _forget_in(self, cat: ObjectReader, name: str, folder: str) -> None:
        files = self.store.tree(cat, folder)
        held = {n: files.pop(n).sha for n in sorted(self._names[name] & files.keys())}
        self._held[folder] = held
        self.records.update((blob, n.removesuffix(".yaml")) for n, blob in held.items())
        if held:
            self._buckets[folder] = self.store.objects.tree(list(files.values())) if files else None

    def _holds(self, folders: dict[str, str]) -> dict[str, str]:
        """The forgotten records (name -> blob) a root with these folders holds."""
        return {n: b for folder in folders.values() for n, b in self._held[folder].items()}

    def _roots(self, trees: list[str]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
        """Each root tree's ``xx/`` folders of the forgotten ids (root -> xx -> folder
        id), and the new id of each root that held a forgotten record.

        Every root is read once, streamed through one ``cat-file --batch``; one laid out
        exactly as gitprov writes them (:func:`_layout`) is searched and edited as bytes,
        any other is parsed and written anew. ``trees`` come newest first, and the new
        roots are written in that order: each one entry away from the one before, the
        pack stores all but the newest as small deltas.
        """
        folders: dict[str, dict[str, str]] = {}
        roots: dict[str, str] = {}
        layout = _layout(self.store.objects.hash_len)
        with self.git.local_objects() as cat:
            for tree, data in self._read(list(dict.fromkeys(trees))):
                exact = layout.fullmatch(data) is not None
                found = folders[tree] = self._folders(tree, data, exact)
                swaps: dict[str, tuple[str, str | None]] = {}
                for name, folder in found.items():
                    if folder not in self._held:
                        self._forget_in(cat, name, folder)
                    if folder in self._buckets:
                        swaps[name] = (folder, self._buckets[folder])
                if swaps:
                    roots[tree] = self.store.objects.write("tree", self._swap(data, swaps, exact))
        return folders, roots

    def _folders(self, tree: str, data: bytes, exact: bool) -> dict[str, str]:
        """The ``xx/`` folders of the forgotten ids in the raw root tree ``data``."""
        if exact:
            found = {}
            for name in self._names:
                at = data.find(b"%s %s\0" % (TREE_MODE.encode(), name.encode()))
                if at >= 0:
                    at += len(TREE_MODE) + len(name) + 2
                    found[name] = data[at : at + self.store.objects.hash_len].hex()
            return found
        entries = self._parse(tree, data)
        return {n: entries[n].sha for n in self._names if n in entries and entries[n].is_tree}

    def _parse(self, tree: str, data: bytes) -> dict[str, Entry]:
        try:
            return parse_tree(data, self.store.objects.hash_len)
        except ValueError as exc:
            raise RepositoryCorruptError(
                f"tree {tree} of {self.store.ref} cannot be parsed ({exc}); nothing was "
                f"rewritten. `git fsck --full` names the damage"
            ) from exc

    def _swap(self, data: bytes, swaps: dict[str, tuple[str, str | None]], exact: bool) -> bytes:
        """A raw root tree with folders replaced (``None``: removed): their bytes edited
        in place in a root laid out as gitprov writes them, else the tree written anew."""
        if not exact:
            entries = parse_tree(data, self.store.objects.hash_len)
            for name, (_, new) in swaps.items():
                entries.pop(name)
                if new is not None:
                    entries[name] = Entry(TREE_MODE, name, new)
            return format_tree(list(entries.values()), self.store.objects.hash_len)
        for name, (old, new) in swaps.items():
            entry = b"%s %s\0%s" % (TREE_MODE.encode(), name.encode(), bytes.fromhex(old))
            at = data.find(entry)
            keep = b"" if new is None else entry[: -len(bytes.fromhex(old))] + bytes.fromhex(new)
            data = data[:at] + keep + data[at + len(entry) :]
        return data

    def _read(self, shas: list[str]) -> Iterator[tuple[str, bytes]]:
        """(id, data) of each of ``shas``, streamed from one ``cat-file --batch`` (a thread
        feeds it the ids, so neither side waits on a full pipe)."""
        if not shas:
            return
        started = self.git.start("cat-file", "--batch", stdin=True)
        proc = started.proc
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        def feed() -> None:
            with contextlib.suppress(BrokenPipeError):
                stdin.write("".join(f"{sha}\n" for sha in shas).encode())
                stdin.flush()

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            for sha in shas:
                header = stdout.readline().split()
                if len(header) != 3 or header[1] != b"tree":
                    raise RepositoryCorruptError(f"tree {sha} of {self.store.ref} is missing")
                size = int(header[2])
                yield sha, stdout.read(size + 1)[:size]
        finally:
            feeder.join()
            self.git.finish(started)


@functools.cache
def _layout(hash_len: int) -> re.Pattern[bytes]:
    """A records root tree exactly as gitprov writes one, entries in git's order: ``xx/``
    folders (digits first), ``FORMAT``, more ``xx/`` folders, maybe ``digests/`` (after
    ``df/``) and more, maybe ``forgotten/``. Anything but the ``xx/`` folders is kept as it
    is, ``digests/`` included: its entries name only ids, which tombstones keep too."""
    sha = b".{%d}" % hash_len
    folder = b"(?:40000 [0-9a-f]{2}\x00%s)*" % sha
    return re.compile(
        b"%s100644 FORMAT\x00%s%s(?:40000 %s\x00%s%s)?(?:40000 %s\x00%s)?"
        % (
            folder,
            sha,
            folder,
            DIGESTS_DIR.encode(),
            sha,
            folder,
            FORGOTTEN_DIR.encode(),
            sha,
        ),
        re.DOTALL,
    )


def _parents_first(commits: dict[str, _Commit]) -> list[str]:
    """The commits, each after its parents among them (iterative: histories are deep)."""
    order: list[str] = []
    seen: set[str] = set()
    for start in commits:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(commits[start].parents))]
        while stack:
            sha, parents = stack[-1]
            for parent in parents:
                if parent in commits and parent not in seen:
                    seen.add(parent)
                    stack.append((parent, iter(commits[parent].parents)))
                    break
            else:
                stack.pop()
                order.append(sha)
    return order


# -- tombstones in a records tree --------------------------------------------------------


class Tombstones:
    """The tombstones of one ``forgotten/`` folder, looked up by id (two small trees)."""

    def __init__(self, store: RecordStore, cat: ObjectReader, folder: Entry | None) -> None:
        self._read = functools.partial(store.tree, cat)
        self._folder = self._read(folder.sha) if folder is not None and folder.is_tree else {}

    def __contains__(self, session_id: object) -> bool:
        if not isinstance(session_id, str):
            return False
        bucket = self._folder.get(fanout(session_id))
        return (
            bucket is not None and bucket.is_tree and f"{session_id}.yaml" in self._read(bucket.sha)
        )


def with_tombstones(
    store: RecordStore, cat: ObjectReader, folder: Entry | None, added: dict[str, Entry]
) -> Entry:
    """The ``forgotten/`` folder ``folder`` with the tombstone files ``added`` (by id);
    where both hold one for the same id, the one whose blob id sorts first, so that every
    clone keeps the same."""
    root = store.tree(cat, folder.sha) if folder is not None and folder.is_tree else {}
    by_bucket: dict[str, list[Entry]] = {}
    for session_id, entry in sorted(added.items()):
        by_bucket.setdefault(fanout(session_id), []).append(entry)
    for name, entries in by_bucket.items():
        bucket = root.get(name)
        files = store.tree(cat, bucket.sha) if bucket is not None and bucket.is_tree else {}
        for entry in entries:
            if entry.name not in files or entry.sha < files[entry.name].sha:
                files[entry.name] = entry
        root[name] = Entry(TREE_MODE, name, store.objects.tree(list(files.values())))
    return Entry(TREE_MODE, FORGOTTEN_DIR, store.objects.tree(list(root.values())))


# -- the notes index ---------------------------------------------------------------------


def notes_without(
    store: RecordStore,
    cat: ObjectReader,
    root: str | None,
    commits: Collection[str],
    forgotten: Callable[[str], bool],
) -> str | None:
    """The notes tree ``root`` without the lines of forgotten sessions in the notes on
    ``commits`` (a note left empty goes); ``None`` when none held one. Only trees of
    ``root`` are read, so it works inside a batch."""
    if root is None or not commits:
        return None
    read_tree = functools.partial(store.tree, cat)
    edits: dict[tuple[str, ...], dict[str, str | None]] = {}  # folder -> name -> new blob
    for commit in sorted(commits):
        found = notes.find(read_tree, root, commit)
        obj = cat.read(found[1]) if found is not None else None
        if found is None or obj is None:
            continue
        kept = []
        for line in obj.data.decode("utf-8", "surrogateescape").splitlines():
            entry = notes.parse_line(line) if line.strip() else None
            if line.strip() and (entry is None or not forgotten(entry["session_id"])):
                kept.append(line)
        data = ("\n".join(kept) + "\n").encode("utf-8", "surrogateescape") if kept else None
        if data == obj.data:
            continue
        dirs = tuple(found[0])
        name = commit[sum(map(len, dirs)) :]
        edits.setdefault(dirs, {})[name] = None if data is None else store.objects.blob(data)
    if not edits:
        return None

    def rebuild(tree: str, path: tuple[str, ...]) -> str | None:
        entries = read_tree(tree)
        for name, blob in edits.get(path, {}).items():
            if blob is None:
                entries.pop(name, None)
            else:
                entries[name] = Entry(BLOB_MODE, name, blob)
        for name, entry in list(entries.items()):
            below = (*path, name)
            if entry.is_tree and any(p[: len(below)] == below for p in edits):
                new = rebuild(entry.sha, below)
                if new is None:
                    del entries[name]
                else:
                    entries[name] = Entry(TREE_MODE, name, new)
        if not entries and path:
            return None
        return store.objects.tree(list(entries.values()))

    return rebuild(root, ())


# -- forget ------------------------------------------------------------------------------


@dataclass
class Forgotten:
    """What :func:`forget` did: ``ids`` forgotten now, ``already`` forgotten before (left
    as they were), the records commits rewritten, and the commits (snapshots, code) that
    forgotten saves pinned and nothing pins any longer."""

    ids: list[str] = field(default_factory=list)
    already: list[Tombstone] = field(default_factory=list)
    rewritten: int = 0
    unpinned: list[str] = field(default_factory=list)


def who(git: Git) -> str:
    """Who forgets: git's ``user.name <user.email>``, else the OS user."""
    user = git_user(git)
    name, email = (user["name"] or "").strip(), (user["email"] or "").strip()
    if name or email:
        return " ".join(part for part in (name, f"<{email}>" if email else "") if part)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _unknown(
    store: RecordStore, cat: ObjectReader, root: dict[str, Entry], ids: list[str]
) -> list[str]:
    """The ids with no record here, nor in any fetched copy of the records ref."""
    missing = []
    copies: list[str] | None = None
    for session_id in ids:
        bucket = root.get(fanout(session_id))
        if (
            bucket is not None
            and bucket.is_tree
            and f"{session_id}.yaml" in store.tree(cat, bucket.sha)
        ):
            continue
        if copies is None:
            prefix = tracking_prefix(store.ref)
            listed = store.git.run("for-each-ref", "--format=%(refname)", prefix).text.split()
            copies = [r for r in listed if is_tracking_ref(r, store.ref)]
        if not any(cat.read(f"{copy}:{record_path(session_id)}") for copy in copies):
            missing.append(session_id)
    return missing


def forget(store: RecordStore, ids: Sequence[str], reason: str, by: str | None = None) -> Forgotten:
    """Forget ``ids`` (see the module): their records leave every commit of the records
    ref, their pins and note lines go, a tombstone each is committed; both refs move in one
    compare-and-swap. An id with no record here or in a fetched copy raises
    :class:`SessionNotFoundError` and nothing is forgotten."""
    one = [ids] if isinstance(ids, str) else ids  # one id, not its characters
    wanted = list(dict.fromkeys(validate_session_id(i) for i in one))
    reason = " ".join(reason.split())
    if not reason:
        raise GitProvError("give the reason for forgetting (--reason TEXT): it is kept")
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 1] + "…"
    by = by or who(store.git)

    def attempt() -> Forgotten:
        result = Forgotten()
        with ExitStack() as stack:
            cat = stack.enter_context(store.git.local_objects())
            tip, tree = store.tip(cat, store.ref)
            root = store.tree(cat, tree)
            for session_id in wanted:
                tombstone = store.tombstone(cat, root, session_id)
                if tombstone is None:
                    result.ids.append(session_id)
                else:
                    result.already.append(tombstone)
            if not result.ids:
                return result
            missing = _unknown(store, cat, root, result.ids)
            if missing:
                raise SessionNotFoundError(
                    f"no session {', '.join(missing)} is recorded in {store.git.root} "
                    f"(ref {store.ref} or its fetched copies); nothing was forgotten. "
                    f"`gitprov list` shows the recorded ids"
                )
            batch = stack.enter_context(store.objects.batch())
            updates = _forgetting(store, cat, (tip, root), result, reason, by)
        try:
            store.move(updates, f"gitprov: forget session {', '.join(result.ids)}")
        finally:
            batch.release()
        return result

    with store.write_lock():
        return retrying(store.ref, "forget (nothing was forgotten)", attempt)


def _forgetting(
    store: RecordStore,
    cat: ObjectReader,
    tip: tuple[str | None, dict[str, Entry]],
    result: Forgotten,
    reason: str,
    by: str,
) -> list[tuple[str, str, str | None]]:
    """The ref updates (ref, new, old) that forget ``result.ids`` (filled in)."""
    commit, root = tip
    rewrite = Rewrite(store, result.ids)
    parent = rewrite.run(commit) if commit is not None else store._start(root)
    result.rewritten, result.unpinned = rewrite.rewritten, rewrite.unpinned
    root = rewrite.clean(root)
    when = now_utc()
    added = {
        session_id: Entry(
            BLOB_MODE,
            f"{session_id}.yaml",
            store.objects.blob(Tombstone(session_id, when, by, reason).dump()),
        )
        for session_id in result.ids
    }
    root[FORGOTTEN_DIR] = with_tombstones(store, cat, root.get(FORGOTTEN_DIR), added)
    message = f"gitprov: forget session {', '.join(result.ids)}\n"
    new = store.objects.commit(store.objects.tree(list(root.values())), [parent], message)
    updates = [(store.ref, new, commit)]
    if store.notes_ref is not None:
        notes_tip, notes_tree = store.tip(cat, store.notes_ref)
        forgotten = set(result.ids)
        cleaned = notes_without(
            store, cat, notes_tree, rewrite.noted_on(cat), forgotten.__contains__
        )
        if cleaned is not None:
            parents = [notes_tip] if notes_tip else []
            notes_message = f"gitprov: forget the notes of session {', '.join(result.ids)}\n"
            updates.append(
                (store.notes_ref, store.objects.commit(cleaned, parents, notes_message), notes_tip)
            )
    return updates
