"""Records on ``refs/provenance/sessions``, moved only by compare-and-swap.

The ref's tree holds ``FORMAT`` and ``<xx>/<session_id>.yaml`` (``xx``: first two hex digits
of the id's SHA-1), so a save rewrites one small fanout tree and the root, whatever the
number of records; beside them ``forgotten/`` (tombstones) and ``digests/`` (the index of
the content digests records list, :data:`DIGESTS_DIR`). Each save is one commit whose first
parent is the previous tip; the records ref and the notes index move in one
``git update-ref --stdin`` transaction with both old values checked, retried with jittered
back-off when another writer won.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TYPE_CHECKING, TypeAlias

from gitprov.errors import (
    ConcurrentUpdateError,
    CorruptRecordError,
    GitCommandError,
    RepositoryCorruptError,
    SessionExistsError,
    SessionNotFoundError,
    UnknownRevisionError,
    option,
)
from gitprov.git import Git
from gitprov.git.objects import (
    BLOB_MODE,
    TREE_MODE,
    Batch,
    Entry,
    ObjectWriter,
    commit_tree,
    object_id,
    parse_tree,
)
from gitprov.git.process import Started, zsplit
from gitprov.git.reader import ObjectReader
from gitprov.git.reffiles import read_ref_file
from gitprov.git.writing import WriteRules, hold_flock
from gitprov.model.document import validate_session_id
from gitprov.model.tombstone import Tombstone
from gitprov.refs import CONFIGURED, WRITE_LOCK, NotesRefOption, resolve
from gitprov.store.api import Note, Stored

if TYPE_CHECKING:
    from gitprov.store.forget import Forgotten
    from gitprov.store.untrusted import LeftOut

FORMAT_FILE = "FORMAT"
FORMAT_TEXT = b"gitprov-records 1\n"
#: The records tree's folder of tombstones, ``forgotten/<xx>/<session_id>.yaml``
#: (:mod:`gitprov.model.tombstone`).
FORGOTTEN_DIR = "forgotten"
#: The records tree's index of content digests, ``digests/<aa>/<hex>/<yy>/<session_id>``
#: (:func:`index_path`): ``hex`` the 64 hex digits of a ``sha256:`` digest a record lists in
#: ``run.inputs`` or ``run.outputs`` (:mod:`gitprov.model.digests`), ``aa`` its first two,
#: ``yy`` the session's :func:`fanout`; each entry is the empty file. ``SessionLog.which``
#: reads the few trees on one digest's path, never a listing of the records. The fanout by
#: session keeps a digest every run reads (a raw input) from making each save rewrite one
#: huge tree. An entry only points: readers check that the record lists the digest, so
#: entries are never removed (a re-save with other outputs leaves a stale one, harmless;
#: sync unions them; forget keeps them, as they name no more than the tombstone does).
DIGESTS_DIR = "digests"

_Paths: TypeAlias = "dict[str, _Paths | None]"


def exists_error(session_id: str, ref: str) -> SessionExistsError:
    return SessionExistsError(
        f"session {session_id} already has a record on {ref} (`gitprov show {session_id}`); "
        f"choose another id, or replace it on purpose ({option('replace', True)})"
    )


def fanout(session_id: str) -> str:
    import hashlib  # not at start-up: a warm read finds records through the index

    return hashlib.sha1(session_id.encode("utf-8"), usedforsecurity=False).hexdigest()[:2]


def record_path(session_id: str) -> str:
    return f"{fanout(session_id)}/{session_id}.yaml"


def tombstone_path(session_id: str) -> str:
    return f"{FORGOTTEN_DIR}/{record_path(session_id)}"


def index_path(hex_digest: str, session_id: str) -> str:
    """Where ``session_id``'s entry for the digest ``sha256:<hex_digest>`` lies in
    :data:`DIGESTS_DIR`."""
    return f"{hex_digest[:2]}/{hex_digest}/{fanout(session_id)}/{session_id}"


def index_paths(digests: Iterable[str], session_id: str) -> list[str]:
    """The :func:`index_path` of each of ``digests`` (``sha256:<hex>``; anything else is a
    ``ValueError``) for ``session_id``."""
    from gitprov.model.digests import digest_hex  # a writer's: not at a reader's start-up

    paths = []
    for digest in digests:
        hex_digest = digest_hex(digest)
        if hex_digest is None:
            raise ValueError(f"{digest!r} is not a sha256:<64 hex> digest")
        paths.append(index_path(hex_digest, session_id))
    return paths


def _stored(cat: ObjectReader, where: str) -> Stored | None:
    obj = cat.read(where)
    return Stored(where, obj.data) if obj is not None and obj.type == "blob" else None


#: How long a save waits for the write lock (each holder keeps it for milliseconds).
WRITE_LOCK_SECONDS = 30.0


class PendingSave:
    """One save whose processes are already running (from :meth:`RecordStore.saving`)."""

    def __init__(
        self,
        store: RecordStore,
        session_id: str,
        cat: ObjectReader,
        mover: Started,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.cat: ObjectReader | None = cat
        self.mover: Started | None = mover

    def prefetch(self) -> None:
        """Read what the save will need of the records and notes trees, so that it overlaps
        with other work (``git status``); a packed tree starts ``cat-file`` here too."""
        if self.cat is not None:
            store = self.store
            for ref in (store.ref, store.notes_ref):
                if ref is not None:
                    root = store.tree(self.cat, store.tip(self.cat, ref)[1])
                    bucket = root.get(fanout(self.session_id)) if ref == store.ref else None
                    if bucket is not None:
                        self.cat.read(bucket.sha)

    def save(
        self,
        data: bytes,
        *,
        note: Note | None = None,
        pins: Sequence[str] = (),
        replace: bool = True,
        digests: Sequence[str] = (),
    ) -> str:
        """Store ``data``; return the new commit on the ref.

        ``digests`` (``sha256:<hex>``, :func:`gitprov.model.digests.record_digests` of
        the record) are indexed under :data:`DIGESTS_DIR` in the same commit. ``pins``
        become extra parents of the save's commit, keeping those commits reachable from the
        ref (and so from gc and from a push of the ref). Without ``replace``, an id that
        already has a record raises :class:`SessionExistsError`. Saves of one repository
        queue on :data:`WRITE_LOCK`; a compare-and-swap lost to another kind of writer is
        retried, with fresh processes (:func:`~gitprov.git.retry.retrying`).
        The new objects' pack keeps its ``.keep`` until the refs point at it.
        """
        store, session_id = self.store, self.session_id

        def attempt() -> str:
            cat, self.cat = self.cat, None
            with ExitStack() as stack:
                if cat is None:  # the ref moved: nothing read before may be trusted
                    cat = stack.enter_context(store.git.local_objects())
                batch = stack.enter_context(store.objects.batch())
                blob = store.objects.blob(data)
                updates = store.updates(cat, session_id, blob, note, pins, replace, digests)
            mover, self.mover = self.mover, None
            try:
                store.move(updates, f"gitprov: save session {session_id}", mover)
            finally:
                batch.release()
            return updates[0][1]

        from gitprov.git.retry import retrying  # a writer's: not at a reader's start-up

        with store.write_lock():
            return retrying(store.ref, f"save session {session_id}", attempt)


class RecordStore:
    """Reads and writes records of one repository under ``ref`` (and ``notes_ref``),
    chosen by :func:`gitprov.refs.resolve` (the options, else the repository's config,
    else the defaults)."""

    def __init__(
        self,
        git: Git,
        ref: str | None = None,
        notes_ref: NotesRefOption = CONFIGURED,
        rules: WriteRules | None = None,
    ) -> None:
        self.git = git
        self.ref, self.notes_ref = resolve(git, ref, notes_ref)
        #: Where records and a save's other objects (a dirty run's snapshot) are written:
        #: the save's own pack, so they go out, and are kept, with the record.
        self.objects = ObjectWriter(git.objects_dir, git.object_format, rules or WriteRules.of(git))
        self._trees: dict[str, dict[str, Entry]] = {}  # parsed trees, by id (immutable)

    def forget(self, ids: Sequence[str], reason: str) -> Forgotten:
        """Forget ``ids`` for good (:func:`gitprov.store.forget.forget`)."""
        from gitprov.store.forget import forget

        return forget(self, ids, reason)

    # -- writing -------------------------------------------------------------------------

    def write_lock(self) -> AbstractContextManager[None]:
        """Hold the repository's write lock (:data:`WRITE_LOCK`): concurrent
        gitprov writers queue instead of racing (each lost race would leave a pack of
        garbage behind). Compare-and-swap still guards against every other writer."""
        return hold_flock(
            self.git.common_dir / WRITE_LOCK,
            self.objects.rules,
            WRITE_LOCK_SECONDS,
            lambda path: ConcurrentUpdateError(
                f"another gitprov save held {path} for {WRITE_LOCK_SECONDS:g}s; if it is "
                f"stuck, stop it, then run `gitprov recover`"
            ),
        )

    def save(
        self,
        session_id: str,
        data: bytes,
        *,
        note: Note | None = None,
        pins: Sequence[str] = (),
        replace: bool = True,
        digests: Sequence[str] = (),
    ) -> str:
        """Store ``data`` as ``session_id``'s record; return the new commit on the ref."""
        with self.saving(session_id) as pending:
            return pending.save(data, note=note, pins=pins, replace=replace, digests=digests)

    @contextmanager
    def saving(self, session_id: str) -> Iterator[PendingSave]:
        """Start ``update-ref`` now, so that it comes up while the caller is still
        capturing the tree; then call ``save`` on what this yields.

        ``update-ref --stdin`` locks and checks nothing until it is handed the updates,
        so starting it early changes nothing about the compare-and-swap.
        """
        validate_session_id(session_id)
        mover = self.git.start(
            "update-ref", "-m", f"gitprov: save session {session_id}", "--stdin", stdin=True
        )
        pending: PendingSave | None = None
        try:
            with self.git.local_objects() as cat:
                pending = PendingSave(self, session_id, cat, mover)
                yield pending
        finally:
            if pending is None or pending.mover is not None:
                self.git.finish(mover, input=b"")  # no updates: it exits untouched

    def updates(
        self,
        cat: ObjectReader,
        session_id: str,
        blob: str,
        note: Note | None,
        pins: Sequence[str],
        replace: bool = True,
        digests: Sequence[str] = (),
    ) -> list[tuple[str, str, str | None]]:
        """(ref, new, old) for the records ref and, with a note, the notes ref."""
        updates = [self._record_update(cat, session_id, blob, pins, replace, digests)]
        if note is not None and self.notes_ref is not None:
            updates.append(self._note_update(cat, session_id, note))
        return updates

    def tip(self, cat: ObjectReader, ref: str) -> tuple[str | None, str | None]:
        """(commit, tree) of ``ref``, or ``(None, None)`` when it does not exist yet."""
        obj = cat.read(ref)
        if obj is None:  # absent, or naming an object that is missing
            named = self._ref_value(ref)
            if named is None:
                return None, None
            obj = cat.read(named)  # another writer may have created it meanwhile
            if obj is None:
                raise RepositoryCorruptError(
                    f"{ref} points at {named}, which is missing in {self.git.root}; nothing "
                    f"was written. `git fsck --full` names the damage; restore the object "
                    f"from a clone (`git fetch` from a teammate)"
                )
        if obj.type != "commit":
            raise GitCommandError(f"{ref} points at a {obj.type}, not a commit")
        return obj.sha, commit_tree(obj.data)

    def _ref_value(self, ref: str) -> str | None:
        """What ``ref`` names (``None``: it does not exist), told apart from a missing
        object; from the ref files, or git for anything else (reftable)."""
        known, sha = read_ref_file(self.git.common_dir, ref)
        if known:
            return sha
        listed = self.git.run("for-each-ref", "--format=%(objectname) %(refname)", ref)
        named = [
            line.split(" ", 1)[0] for line in listed.text.splitlines() if line.endswith(f" {ref}")
        ]
        return named[0] if named else None

    def tree(self, cat: ObjectReader, tree_id: str | None) -> dict[str, Entry]:
        """The entries of ``tree_id`` (a fresh dict, the caller's to change; empty for
        ``None``). A tree that cannot be read raises :class:`RepositoryCorruptError`: taking
        it as empty would write a tree without the records it held."""
        if tree_id is None:
            return {}
        parsed = self._trees.get(tree_id)
        if parsed is None:
            obj = cat.read(tree_id)
            if obj is None or obj.type != "tree":
                what = "missing" if obj is None else f"a {obj.type}, not a tree"
                raise RepositoryCorruptError(
                    f"tree {tree_id} (under {self.ref} or {self.notes_ref}) is {what} in "
                    f"{self.git.root}; nothing was written. `git fsck --full` names the "
                    f"damage; restore the object from a clone (`git fetch` from a teammate)"
                )
            if len(self._trees) >= 64:  # a save reads four trees; a store lives for a run
                self._trees.clear()
            try:
                parsed = parse_tree(obj.data, self.objects.hash_len)
            except ValueError as exc:
                raise RepositoryCorruptError(
                    f"tree {tree_id} (under {self.ref} or {self.notes_ref}) in "
                    f"{self.git.root} cannot be parsed ({exc}); nothing was written"
                ) from exc
            self._trees[tree_id] = parsed
        return dict(parsed)

    def _record_update(
        self,
        cat: ObjectReader,
        session_id: str,
        blob: str,
        pins: Sequence[str],
        replace: bool,
        digests: Sequence[str],
    ) -> tuple[str, str, str | None]:
        tip, tree = self.tip(cat, self.ref)
        root = self.tree(cat, tree)
        first = tip if tip is not None else self._start(root)
        bucket = fanout(session_id)
        forgotten = self.tombstone(cat, root, session_id)
        if forgotten is not None:
            raise forgotten.error()
        sub = self.tree(cat, root[bucket].sha if bucket in root else None)
        name = f"{session_id}.yaml"
        if not replace and name in sub and sub[name].sha != blob:
            raise exists_error(session_id, self.ref)
        sub[name] = Entry(BLOB_MODE, name, blob)
        root[bucket] = Entry(TREE_MODE, bucket, self.objects.tree(list(sub.values())))
        if digests:
            index = self.with_index(cat, root.get(DIGESTS_DIR), index_paths(digests, session_id))
            if index is not None:
                root[DIGESTS_DIR] = index
        new_tree = self.objects.tree(list(root.values()))
        parents = [first, *(p for p in pins if p != first)]
        commit = self.objects.commit(new_tree, parents, f"gitprov: save session {session_id}\n")
        return self.ref, commit, tip

    def tombstone(
        self, cat: ObjectReader, root: dict[str, Entry], session_id: str
    ) -> Tombstone | None:
        """``session_id``'s tombstone in the records tree ``root``: two small trees read,
        whatever the number of records and tombstones."""
        folder = root.get(FORGOTTEN_DIR)
        bucket = (
            self.tree(cat, folder.sha).get(fanout(session_id))
            if folder and folder.is_tree
            else None
        )
        entry = (
            self.tree(cat, bucket.sha).get(f"{session_id}.yaml")
            if bucket and bucket.is_tree
            else None
        )
        obj = cat.read(entry.sha) if entry else None
        if obj is None:
            return None
        return Tombstone.load(obj.data, session_id, f"{self.ref}:{tombstone_path(session_id)}")

    def _start(self, root: dict[str, Entry]) -> str:
        """The root commit of a new records ref: just ``FORMAT`` (added to ``root`` too).

        Saves then always have it (or a later save) as first parent, so
        ``git log --first-parent`` walks saves only, even when the first save pins a commit.
        It is the same commit in every repository (fixed date), so all clones' records share
        one root.
        """
        root[FORMAT_FILE] = Entry(BLOB_MODE, FORMAT_FILE, self.objects.blob(FORMAT_TEXT))
        tree = self.objects.tree([root[FORMAT_FILE]])
        return self.objects.commit(tree, [], "gitprov: start provenance records\n", when=0)

    def _note_update(
        self, cat: ObjectReader, session_id: str, note: Note
    ) -> tuple[str, str, str | None]:
        from gitprov.store import notes  # a save's: not what a reader imports

        assert self.notes_ref is not None
        tip, tree = self.tip(cat, self.notes_ref)
        read_tree = functools.partial(self.tree, cat)
        found = notes.find(read_tree, tree, note.commit) if tree else None
        existing = b""
        if found is not None:
            obj = cat.read(found[1])
            existing = obj.data if obj is not None else b""
        blob = self.objects.blob(notes.with_line(existing, session_id, note.line))
        new_tree = notes.put(read_tree, self.objects, tree, note.commit, blob)
        commit = self.objects.commit(
            new_tree, [tip] if tip else [], f"gitprov: note session {session_id}\n"
        )
        return self.notes_ref, commit, tip

    def move(
        self,
        updates: list[tuple[str, str, str | None]],
        message: str,
        started: Started | None = None,
    ) -> None:
        """Move every ref from its old value to its new one, all or none.

        ``started`` is an ``update-ref --stdin`` already running (see :meth:`saving`).
        """
        zero = "0" * (self.objects.hash_len * 2)
        lines = "".join(f"update {ref} {new} {old or zero}\n" for ref, new, old in updates)
        if started is None:
            self.git.run("update-ref", "-m", message, "--stdin", input=lines.encode())
        else:
            self.git.finish(started, input=lines.encode())

    # -- reading -------------------------------------------------------------------------

    def read(self, session_id: str) -> bytes:
        """The stored bytes of ``session_id``'s record."""
        validate_session_id(session_id)
        with self.git.local_objects() as cat:  # usually no process: a store is built per run
            root = self.tree(cat, self.tip(cat, self.ref)[1])
            bucket = root.get(fanout(session_id))
            entry = self.tree(cat, bucket.sha).get(f"{session_id}.yaml") if bucket else None
            obj = cat.read(entry.sha) if entry else None
        if obj is None or obj.type != "blob":
            raise SessionNotFoundError(
                f"no session {session_id} is recorded in {self.git.root} (ref {self.ref}); "
                f"`gitprov list` shows the recorded ids"
            )
        return obj.data

    def record_in(self, cat: ObjectReader, ref: str, session_id: str) -> Stored | None:
        """``session_id``'s record as stored in the records ref ``ref`` (this store's or a
        fetched copy of it), if that ref holds a file there."""
        return _stored(cat, f"{ref}:{record_path(session_id)}")

    def tombstone_in(self, cat: ObjectReader, ref: str, session_id: str) -> Stored | None:
        """``session_id``'s tombstone as stored in the records ref ``ref``, if any."""
        return _stored(cat, f"{ref}:{tombstone_path(session_id)}")

    def note_in(self, cat: ObjectReader, notes_ref: str, commit: str) -> bytes | None:
        """The note on ``commit`` in the notes ref ``notes_ref`` (this store's or a fetched
        copy), whatever its fan-out; ``None`` when there is none."""
        from gitprov.store import notes

        root = cat.read(f"{notes_ref}^{{tree}}")
        found = notes.find(functools.partial(self.tree, cat), root.sha, commit) if root else None
        if found is None:
            return None
        blob = cat.read(found[1])
        if blob is None or blob.type != "blob":
            what = "missing" if blob is None else f"a {blob.type}, not a file"
            raise CorruptRecordError(f"the provenance note on commit {commit} is {what}")
        return blob.data

    def indexed_in(
        self, cat: ObjectReader, ref: str, digest: str, skipped: list[LeftOut]
    ) -> list[str]:
        """The session ids the records ref ``ref`` (this store's or a fetched copy)
        indexes under ``digest``: four small trees read, then one per ``yy/`` folder on its
        path. What is not an index entry as gitprov writes it goes into ``skipped``."""
        from gitprov.model.digests import digest_hex
        from gitprov.store.untrusted import MAX_INDEX_FOLDER, LeftOut, index_problem, shown

        hex_digest = digest_hex(digest)
        assert hex_digest is not None
        entry = self.root(cat, ref)[1].get(DIGESTS_DIR)
        for name in (hex_digest[:2], hex_digest):
            entry = self.folder(cat, entry).get(name)
        empty = self.blob_id(b"")
        found: list[str] = []
        for yy, folder in sorted(self.folder(cat, entry).items()):
            path = f"{hex_digest[:2]}/{hex_digest}/{yy}"
            problem = index_problem(path, folder, empty)
            files = self.folder(cat, folder) if problem is None else {}
            if len(files) > MAX_INDEX_FOLDER:
                problem = f"{len(files)} entries, over the {MAX_INDEX_FOLDER}-entry limit"
            if problem is not None:
                skipped.append(LeftOut(f"{ref}:{DIGESTS_DIR}/{shown(path)}", problem))
                continue
            for name, item in sorted(files.items()):
                problem = index_problem(f"{path}/{name}", item, empty)
                if problem is None:
                    found.append(name)
                else:
                    where = f"{ref}:{DIGESTS_DIR}/{shown(f'{path}/{name}')}"
                    skipped.append(LeftOut(where, problem))
        return found

    def forgotten(self, session_id: str) -> Tombstone | None:
        """``session_id``'s tombstone on the ref, if it was forgotten (read in-process)."""
        with self.git.local_objects() as cat:
            return self.tombstone(cat, self.tree(cat, self.tip(cat, self.ref)[1]), session_id)

    def has(self, session_id: str) -> bool:
        """Whether ``session_id`` has a record on the ref (read in-process)."""
        with self.git.local_objects() as cat:
            root = self.tree(cat, self.tip(cat, self.ref)[1])
            bucket = root.get(fanout(session_id))
            return bucket is not None and f"{session_id}.yaml" in self.tree(cat, bucket.sha)

    def ids(self) -> list[str]:
        """Every stored session id, ascending."""
        try:
            result = self.git.run("ls-tree", "-r", "-z", "--name-only", self.ref, "--")
        except UnknownRevisionError:  # no records yet
            return []
        names = (p.decode("utf-8", "surrogateescape") for p in zsplit(result.stdout))
        return sorted(  # tombstones (forgotten/xx/id.yaml) are one folder deeper
            n.split("/", 1)[1][: -len(".yaml")]
            for n in names
            if n.count("/") == 1 and n.endswith(".yaml")
        )

    # -- for sync: trees read as mappings, written back ----------------------------------
    # gitprov.sync merges the trees of several commits (this store's refs, a remote's,
    # their merge bases) entry by entry; it reads and writes them through these only.

    @property
    def rules(self) -> WriteRules:
        """The repository's write rules, for a lock held beside the store's."""
        return self.objects.rules

    def head(self, cat: ObjectReader, ref: str) -> str | None:
        """The commit ``ref`` names (``None``: it does not exist yet)."""
        return self.tip(cat, ref)[0]

    def root(self, cat: ObjectReader, rev: str | None) -> tuple[str | None, dict[str, Entry]]:
        """(tree id, entries) of the root of the commit or ref ``rev``; ``(None, {})`` for
        ``None`` or a ref that does not exist."""
        tree = self.tip(cat, rev)[1] if rev is not None else None
        return tree, self.tree(cat, tree)

    def folder(self, cat: ObjectReader, entry: Entry | None) -> dict[str, Entry]:
        """The entries of the folder ``entry``; empty when it is absent or not a folder."""
        return self.tree(cat, entry.sha) if entry is not None and entry.is_tree else {}

    def blob_id(self, data: bytes) -> str:
        """The id a blob of ``data`` has (nothing written)."""
        return object_id("blob", data, self.git.object_format)

    def write_blob(self, data: bytes) -> str:
        return self.objects.blob(data)

    def write_folder(self, name: str, entries: Iterable[Entry]) -> Entry:
        """A new folder ``name`` holding ``entries``."""
        return Entry(TREE_MODE, name, self.objects.tree(list(entries)))

    def write_commit(self, root: str | Iterable[Entry], parents: list[str], message: str) -> str:
        """A commit of the tree ``root`` (an id, or the entries of a new one) on ``parents``."""
        tree = root if isinstance(root, str) else self.objects.tree(list(root))
        return self.objects.commit(tree, parents, message)

    def put_note(self, cat: ObjectReader, tree: str | None, commit: str, blob: str) -> str:
        """The notes tree ``tree`` with the note ``blob`` on ``commit`` (its fanout kept)."""
        from gitprov.store import notes

        return notes.put(functools.partial(self.tree, cat), self.objects, tree, commit, blob)

    def with_index(
        self, cat: ObjectReader, folder: Entry | None, paths: Iterable[str]
    ) -> Entry | None:
        """The :data:`DIGESTS_DIR` folder ``folder`` with the entries ``paths`` (each
        :func:`index_path`) added, each the empty file (``None``: it holds them all
        already). Only the trees on those paths are read and written."""
        wanted: _Paths = {}
        for path in paths:
            *folders, name = path.split("/")
            node = wanted
            for part in folders:
                below = node.setdefault(part, {})
                assert below is not None, f"{path} runs through an entry"
                node = below
            node[name] = None
        empty = self.objects.blob(b"")

        def added(entry: Entry | None, name: str, node: _Paths) -> Entry | None:
            files = self.folder(cat, entry)
            changed = False
            for child, below in node.items():
                if below is None:
                    new: Entry | None = Entry(BLOB_MODE, child, empty)
                    new = None if files.get(child) == new else new
                else:
                    new = added(files.get(child), child, below)
                if new is not None:
                    files[child], changed = new, True
            return (
                Entry(TREE_MODE, name, self.objects.tree(list(files.values()))) if changed else None
            )

        return added(folder, DIGESTS_DIR, wanted)

    def batch(self) -> AbstractContextManager[Batch]:
        """Objects written inside go out as one pack, kept until the batch is released."""
        return self.objects.batch()
