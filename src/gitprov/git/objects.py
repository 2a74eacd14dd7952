"""Git objects written and parsed in-process.

Writing an object is a hash, a zlib stream and a rename, exactly what git itself does;
doing it here instead of spawning ``hash-object``/``mktree``/``commit-tree`` for every
object keeps a save at a handful of processes, and a save's objects go out as one small
pack (two files rather than eight). Nothing here touches refs, the index or the work
tree, and commits written this way never ask for a signature.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import struct
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from gitprov.git.writing import WriteRules

TREE_MODE = "40000"
BLOB_MODE = "100644"
#: A submodule's commit, and a symbolic link, as tree entries name them.
GITLINK_MODE = "160000"
SYMLINK_MODE = "120000"

#: The identity of commits on gitprov's own refs; works with no ``user.name`` configured.
IDENTITY = "gitprov <gitprov@localhost>"

#: The bytes of an object id in each of git's object formats (known without hashlib, whose
#: OpenSSL costs a reader's start-up 4 ms: objects are hashed by writers only).
HASH_LEN = {"sha1": 20, "sha256": 32}


class Entry(NamedTuple):
    """One tree entry (a tuple: records' trees are parsed on every save)."""

    mode: str
    name: str
    sha: str

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE


class GitObject(NamedTuple):
    """An object as read: its id, its type (``blob``, ``tree``...) and its content."""

    sha: str
    type: str
    data: bytes


def read_loose(objects_dir: Path, sha: str) -> GitObject | None:
    """A loose object read straight from its file (``None``: not loose, or unreadable)."""
    try:
        raw = zlib.decompress((objects_dir / sha[:2] / sha[2:]).read_bytes())
    except (OSError, zlib.error):
        return None
    header, _, data = raw.partition(b"\0")
    kind, _, size = header.partition(b" ")
    if not size.isdigit() or int(size) != len(data):
        return None
    return GitObject(sha, kind.decode("ascii", "replace"), data)


_TYPES = {1: "commit", 2: "tree", 3: "blob", 4: "tag"}
_OFS_DELTA, _REF_DELTA = 6, 7


def _apply_delta(base: bytes, delta: bytes) -> bytes:
    """Git's delta format: two sizes, then copy-from-base and insert-literal ops."""
    pos = 0
    for _ in range(2):  # source size, then target size (varints; not needed here)
        while delta[pos] & 0x80:
            pos += 1
        pos += 1
    out = bytearray()
    while pos < len(delta):
        op = delta[pos]
        pos += 1
        if op & 0x80:
            offset = size = 0
            for i in range(4):
                if op & (1 << i):
                    offset |= delta[pos] << (8 * i)
                    pos += 1
            for i in range(3):
                if op & (0x10 << i):
                    size |= delta[pos] << (8 * i)
                    pos += 1
            out += base[offset : offset + (size or 0x10000)]
        elif op:
            out += delta[pos : pos + op]
            pos += op
        else:
            raise ValueError("invalid delta opcode 0")
    return bytes(out)


class _Pack:
    """One pack and its version-2 index, read through mmap."""

    def __init__(self, idx_path: str, hash_len: int) -> None:
        self.hash_len = hash_len
        with open(idx_path, "rb") as fh:
            self.idx = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        if self.idx[:8] != b"\377tOc\0\0\0\2":
            raise ValueError(f"{idx_path} is not a version 2 pack index")
        self.count = struct.unpack_from(">I", self.idx, 8 + 255 * 4)[0]
        self._pack_path = idx_path[: -len(".idx")] + ".pack"
        self._pack: mmap.mmap | None = None

    @property
    def pack(self) -> mmap.mmap:
        """The pack itself, opened only once an object is found in it."""
        if self._pack is None:
            with open(self._pack_path, "rb") as fh:
                self._pack = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return self._pack

    def offset(self, binsha: bytes) -> int | None:
        first = binsha[0]
        lo = struct.unpack_from(">I", self.idx, 8 + (first - 1) * 4)[0] if first else 0
        hi = struct.unpack_from(">I", self.idx, 8 + first * 4)[0]
        names = 8 + 256 * 4
        while lo < hi:
            mid = (lo + hi) // 2
            at = names + mid * self.hash_len
            found = self.idx[at : at + self.hash_len]
            if found == binsha:
                table = names + self.count * (self.hash_len + 4)
                value: int = struct.unpack_from(">I", self.idx, table + mid * 4)[0]
                if value & 0x80000000:
                    large = table + self.count * 4 + (value & 0x7FFFFFFF) * 8
                    value = struct.unpack_from(">Q", self.idx, large)[0]
                return value
            if found < binsha:
                lo = mid + 1
            else:
                hi = mid
        return None

    def entry(self, offset: int) -> tuple[int, int, int, int | bytes | None]:
        """The entry at ``offset``: (type code, size, where its data starts, its delta base:
        the base's offset for an offset delta, its id for a ref delta, else ``None``)."""
        pack, pos = self.pack, offset
        byte = pack[pos]
        kind, size, shift = (byte >> 4) & 7, byte & 15, 4
        while byte & 0x80:
            pos += 1
            byte = pack[pos]
            size |= (byte & 0x7F) << shift
            shift += 7
        pos += 1
        if kind == _OFS_DELTA:
            byte = pack[pos]
            distance = byte & 0x7F
            while byte & 0x80:
                pos += 1
                byte = pack[pos]
                distance = ((distance + 1) << 7) | (byte & 0x7F)
            if not 0 < distance <= offset:
                raise ValueError(f"delta base out of the pack at {offset}")
            return kind, size, pos + 1, offset - distance
        if kind == _REF_DELTA:
            return kind, size, pos + self.hash_len, bytes(pack[pos : pos + self.hash_len])
        if kind not in _TYPES:
            raise ValueError(f"unknown pack entry type {kind}")
        return kind, size, pos, None

    def inflate(self, pos: int, size: int) -> bytes:
        """The zlib stream at ``pos`` (``size``: its inflated size, a read-ahead hint)."""
        inflater = zlib.decompressobj()
        data, step = b"", size + 64
        while not inflater.eof:
            piece = self.pack[pos : pos + step]
            if not piece:
                raise ValueError(f"truncated pack entry at {pos}")
            data += inflater.decompress(piece)
            pos += step
        return data

    def close(self) -> None:
        self.idx.close()
        if self._pack is not None:
            self._pack.close()


class PackedObjects:
    """Objects in the repository's packs, read in-process (deltas included).

    Packs are opened only as a lookup needs them, in :func:`_search_order`.
    """

    def __init__(self, objects_dir: Path, hash_len: int) -> None:
        self._hash_len = hash_len
        self._packs: list[_Pack] = []
        self._unopened = _search_order(objects_dir / "pack")

    def _open_next(self) -> bool:
        while self._unopened:
            idx = self._unopened.pop(0)
            with contextlib.suppress(OSError, ValueError):
                self._packs.append(_Pack(idx, self._hash_len))
                return True
        return False

    def _locate(self, binsha: bytes) -> tuple[_Pack, int] | None:
        """The pack holding ``binsha`` and its offset there (opening packs as needed)."""
        i = 0
        while i < len(self._packs) or self._open_next():
            offset = self._packs[i].offset(binsha)
            if offset is not None:
                return self._packs[i], offset
            i += 1
        return None

    def _find(self, binsha: bytes) -> tuple[str, bytes] | None:
        """(type, data) of ``binsha``, deltas applied.

        Iterative, however deep the delta chain (a server may send chains thousands deep):
        the chain is walked down to its base, then applied from the base up.
        """
        at = self._locate(binsha)
        if at is None:
            return None
        deltas: list[tuple[_Pack, int, int]] = []  # (pack, data position, size), top first
        seen: set[tuple[_Pack, int]] = set()
        while True:
            if at in seen:
                raise ValueError("a delta chain that loops")
            seen.add(at)
            pack, offset = at
            kind, size, pos, base = pack.entry(offset)
            if base is None:
                break
            deltas.append((pack, pos, size))
            found = (pack, base) if isinstance(base, int) else self._locate(base)
            if found is None:
                raise ValueError("delta base missing")  # e.g. loose: git resolves it
            at = found
        data = pack.inflate(pos, size)
        for delta_pack, delta_pos, delta_size in reversed(deltas):
            data = _apply_delta(data, delta_pack.inflate(delta_pos, delta_size))
        return _TYPES[kind], data

    def read(self, sha: str) -> GitObject | None:
        try:
            found = self._find(bytes.fromhex(sha))
        except (OSError, ValueError, IndexError, zlib.error, struct.error):
            return None  # anything unexpected (a pack gone in a repack too): let git answer
        return None if found is None else GitObject(sha, found[0], found[1])

    def close(self) -> None:
        for pack in self._packs:
            pack.close()


def _search_order(pack_dir: Path) -> list[str]:
    """The pack indexes in ``pack_dir``: the newest, then the largest, then the rest
    newest first. A save reads the tip and the trees the previous save wrote (the newest
    pack) and older trees, most likely in the pack ``git gc`` folded everything into."""
    found: list[tuple[float, int, str]] = []
    try:
        with os.scandir(pack_dir) as entries:
            for entry in entries:
                if entry.name.startswith("pack-") and entry.name.endswith(".idx"):
                    with contextlib.suppress(OSError):
                        info = entry.stat()
                        found.append((info.st_mtime, info.st_size, entry.path))
    except OSError:
        return []
    found.sort(reverse=True)
    if len(found) > 2:
        largest = max(range(1, len(found)), key=lambda i: found[i][1])
        found.insert(1, found.pop(largest))
    return [path for _, _, path in found]


#: git's default ``gc.autoPackLimit``: with this many packs present a batch is written as
#: loose objects instead, as git itself writes a small fetch or push (``fetch.unpackLimit``),
#: so gitprov never builds up more packs than ``git gc --auto`` (run by the user's next
#: commit or fetch) already lets accumulate and then folds together.
MAX_PACKS = 50

#: Batches up to this size go into a pack whose offsets all fit the index's 4-byte table.
_PACK_BYTES = 1 << 30

#: What a ``.keep`` of gitprov's starts with; a killed save's is removed by a later one.
KEEP_PREFIX = "gitprov "
#: A ``.keep`` this old is stale whoever wrote it: a save holds one for milliseconds.
STALE_KEEP_SECONDS = 3600.0

_TYPE_CODES = {name: code for code, name in _TYPES.items()}

#: Tries at creating a loose object whose folder another process keeps removing.
_FOLDER_ATTEMPTS = 10


def _with_header(kind: str, data: bytes) -> bytes:
    """An object as git hashes it (and stores it loose): ``<type> <size>\\0<data>``."""
    return b"%s %d\0%s" % (kind.encode(), len(data), data)


def object_id(kind: str, data: bytes, object_format: str = "sha1") -> str:
    """The id git gives an object of ``kind`` holding ``data`` (nothing is written)."""
    import hashlib

    return hashlib.new(object_format, _with_header(kind, data)).hexdigest()


class Batch:
    """The objects of one :meth:`ObjectWriter.batch`; once the block ends, ``keep`` names
    the ``.keep`` that protects their pack from ``git repack``/``gc`` until :meth:`release`
    (called once the refs point at them, or the attempt is given up)."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[str, bytes]] = {}
        self.keep: Path | None = None

    def release(self) -> None:
        if self.keep is not None:
            with contextlib.suppress(FileNotFoundError):
                self.keep.unlink()
            self.keep = None


class ObjectWriter:
    """Writes objects into a repository's object store: loose, or a batch as one pack,
    with the modes and flushes the repository's config asks git for (``rules``)."""

    def __init__(
        self, objects_dir: Path, object_format: str = "sha1", rules: WriteRules | None = None
    ) -> None:
        self.objects_dir = objects_dir
        self.object_format = object_format
        self.hash_len = HASH_LEN[object_format]
        self.rules = rules or WriteRules()
        self._batch: Batch | None = None
        self._deferring = False
        #: Objects held back for the next batches (see :meth:`deferring`).
        self._deferred: dict[str, tuple[str, bytes]] = {}

    def write(self, kind: str, data: bytes) -> str:
        """Store ``data`` as an object of ``kind``; return its id. Idempotent."""
        raw = _with_header(kind, data)
        sha = object_id(kind, data, self.object_format)
        target = self.objects_dir / sha[:2] / sha[2:]
        if target.exists():
            with contextlib.suppress(OSError):  # freshen, as git does, so a prune keeps it
                os.utime(target)
        elif self._batch is not None:
            self._batch.pending[sha] = (kind, data)
        elif self._deferring:
            self._deferred[sha] = (kind, data)
        else:
            self._write_loose(target, raw)
        return sha

    @contextmanager
    def deferring(self) -> Iterator[None]:
        """Objects written inside (a snapshot's commit) are held back and go into every
        batch until :meth:`settle`, so that they reach the store in a kept pack with the
        save that refers to them, not as loose objects a prune may take first."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False

    def settle(self) -> None:
        """The refs now point at the deferred objects: stop carrying them."""
        self._deferred.clear()

    def flush_deferred(self) -> None:
        """Write the deferred objects loose (the save that needed them did not happen, and
        a spooled record still names them)."""
        for sha, (kind, data) in self._deferred.items():
            self._write_loose(self.objects_dir / sha[:2] / sha[2:], _with_header(kind, data))
        self._deferred.clear()

    def _write_loose(self, target: Path, raw: bytes) -> None:
        # Created read-only and renamed into place, as git does: readers see it whole.
        data = zlib.compress(raw, 1)
        for attempt in range(_FOLDER_ATTEMPTS):
            self.rules.mkdir(target.parent)
            try:
                self.rules.write_new(target, data, "loose-object")
                return
            except FileNotFoundError:
                # `git prune-packed` (repack -d, maintenance) removes empty object folders
                # at any moment; git itself creates the folder again and retries
                if attempt == _FOLDER_ATTEMPTS - 1:
                    raise

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """Objects written inside reach the store together when the block ends, as one
        pack (two new files instead of one per object, since creating files is most of
        what writing a handful of small objects costs) held by a ``.keep`` until the
        caller releases the yielded :class:`Batch`. Nothing is written on an error
        (nothing can refer to those objects yet)."""
        if self._batch is not None:
            raise RuntimeError("ObjectWriter.batch() does not nest")
        batch = self._batch = Batch()
        batch.pending.update(self._deferred)
        try:
            yield batch
        finally:
            self._batch = None
        pending = batch.pending
        pack_dir = self.objects_dir / "pack"
        if (
            len(pending) > 1
            and sum(len(data) for _, data in pending.values()) < _PACK_BYTES
            and _tidy_packs(pack_dir) < MAX_PACKS
        ):
            batch.keep = write_pack(pack_dir, self.object_format, pending, self.rules)
            return
        for sha, (kind, data) in pending.items():
            self._write_loose(self.objects_dir / sha[:2] / sha[2:], _with_header(kind, data))

    def blob(self, data: bytes) -> str:
        return self.write("blob", data)

    def tree(self, entries: list[Entry]) -> str:
        return self.write("tree", format_tree(entries, self.hash_len))

    def commit(self, tree: str, parents: list[str], message: str, when: int | None = None) -> str:
        stamp = f"{int(time.time()) if when is None else when} +0000"
        lines = [f"tree {tree}"]
        lines += [f"parent {p}" for p in parents]
        lines += [f"author {IDENTITY} {stamp}", f"committer {IDENTITY} {stamp}", ""]
        return self.write("commit", ("\n".join(lines) + "\n" + message).encode())


def _keep_is_stale(path: str, now: float) -> bool:
    """Whether a ``.keep`` was left by a gitprov save that died before releasing it (its
    process is gone from this host, or it is far older than any save takes)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(200)
        age = now - os.stat(path).st_mtime
    except OSError:
        return False
    if not text.startswith(KEEP_PREFIX):
        return False  # git's own, or the user's: never ours to remove
    if age > STALE_KEEP_SECONDS:
        return True
    import socket  # rarely needed: not at start-up

    words = text.split()
    if len(words) < 4 or not words[1].isdigit() or words[3] != socket.gethostname():
        return False
    try:
        os.kill(int(words[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, owned by another user
    return False


def _tidy_packs(pack_dir: Path) -> int:
    """Count the packs in ``pack_dir``, removing the ``.keep`` of any save that died
    holding it (its pack then becomes an ordinary pack, folded by the next ``git gc``)."""
    count, now = 0, time.time()
    try:
        with os.scandir(pack_dir) as entries:
            for e in entries:
                if e.name.endswith(".idx"):
                    count += 1
                elif e.name.endswith(".keep") and _keep_is_stale(e.path, now):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(e.path)
    except FileNotFoundError:
        return 0
    return count


#: Trees at least this large may be stored as a delta against the tree before them.
_DELTA_MIN_BYTES = 1024
#: The longest chain of deltas a reader applies for one object (git's ``pack.depth``).
_DELTA_DEPTH = 50


def _entry_header(code: int, size: int) -> bytearray:
    header = bytearray()
    byte = (code << 4) | (size & 15)
    size >>= 4
    while size:
        header.append(byte | 0x80)
        byte, size = size & 0x7F, size >> 7
    header.append(byte)
    return header


def _common(a: bytes, b: bytes, from_end: bool, skip: int = 0) -> int:
    """How many leading (or trailing) bytes ``a`` and ``b`` share, the first ``skip`` not
    counted, by bisection over slice comparisons (a copy and a memcmp each: far faster
    than comparing memoryviews)."""
    lo, hi = 0, min(len(a), len(b)) - skip
    while lo < hi:
        mid = (lo + hi + 1) // 2
        same = (
            a[len(a) - mid :] == b[len(b) - mid :]
            if from_end
            else a[: skip + mid] == b[: skip + mid]
        )
        lo, hi = (mid, hi) if same else (lo, mid - 1)
    return lo


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


def _copy(start: int, size: int) -> bytes:
    """Delta ops copying ``size`` bytes of the base from ``start``."""
    out = bytearray()
    while size:
        length = min(size, 0xFFFFFF)
        op, args = 0x80, bytearray()
        for i, value in enumerate(start.to_bytes(4, "little")):
            if value:
                op |= 1 << i
                args.append(value)
        for i, value in enumerate(length.to_bytes(3, "little")):
            if value:
                op |= 0x10 << i
                args.append(value)
        out += bytes([op]) + args
        start, size = start + length, size - length
    return bytes(out)


def _delta(base: bytes, target: bytes) -> bytes:
    """``target`` as a git delta against ``base``: copy their common head, insert what
    differs, copy their common tail (all a tree that changed one entry needs)."""
    head = _common(base, target, False)
    tail = _common(base, target, True, head)
    out = bytearray(_varint(len(base)) + _varint(len(target)) + _copy(0, head))
    middle = target[head : len(target) - tail]
    for at in range(0, len(middle), 127):
        out += bytes([len(middle[at : at + 127])]) + middle[at : at + 127]
    return bytes(out + _copy(len(base) - tail, tail))


def write_pack(
    pack_dir: Path,
    object_format: str,
    objects: dict[str, tuple[str, bytes]],
    rules: WriteRules | None = None,
) -> Path:
    """Write ``objects`` (id -> (type, data)) as one pack with a version-2 index, named by
    its checksum as git names its own; return its ``.keep``.

    A tree that differs little from the tree before it (a history rewritten by ``gitprov
    forget`` is thousands of root trees, each one entry away from the next) is stored as
    an offset delta against it, at most :data:`_DELTA_DEPTH` deep, as ``git pack-objects``
    would; everything else is stored whole.

    As git's ``index-pack --keep`` does: the ``.keep`` comes first, so no ``repack`` or
    ``gc`` may drop the pack before the refs point at it; then the pack, then its index
    (an index makes a pack visible, so no reader ever finds one without the other). A
    failure removes whatever of the three was written.
    """
    import hashlib

    rules = rules or WriteRules()
    body = bytearray(b"PACK" + struct.pack(">II", 2, len(objects)))
    rows: list[tuple[bytes, int, int]] = []  # (binary id, crc32, offset)
    last_tree: tuple[bytes, int, int] | None = None  # (data, offset, delta depth)
    for sha, (kind, data) in objects.items():
        entry = None
        if kind == "tree" and last_tree is not None and len(data) >= _DELTA_MIN_BYTES:
            previous, base_at, depth = last_tree
            delta = _delta(previous, data) if depth < _DELTA_DEPTH else data
            if len(delta) < len(data) // 4:  # else (or too deep) it starts a new chain
                distance = len(body) - base_at
                back = bytearray([distance & 0x7F])
                distance >>= 7
                while distance:
                    distance -= 1
                    back.insert(0, 0x80 | (distance & 0x7F))
                    distance >>= 7
                header = _entry_header(_OFS_DELTA, len(delta))
                entry = bytes(header + back) + zlib.compress(delta, 1)
                last_tree = (data, len(body), depth + 1)
        if entry is None:
            entry = bytes(_entry_header(_TYPE_CODES[kind], len(data))) + zlib.compress(data, 1)
            if kind == "tree":
                last_tree = (data, len(body), 0)
        rows.append((bytes.fromhex(sha), zlib.crc32(entry), len(body)))
        body += entry
    if len(body) >= 0x80000000:
        raise ValueError("a batch of 2 GiB or more needs 8-byte pack offsets")
    checksum = hashlib.new(object_format, body).digest()
    body += checksum
    rows.sort()
    idx = bytearray(b"\377tOc" + struct.pack(">I", 2))
    counts = [0] * 256
    for binsha, _, _ in rows:
        counts[binsha[0]] += 1
    running = 0
    for n in counts:
        running += n
        idx += struct.pack(">I", running)
    idx += b"".join(binsha for binsha, _, _ in rows)
    idx += b"".join(struct.pack(">I", crc) for _, crc, _ in rows)
    idx += b"".join(struct.pack(">I", offset) for _, _, offset in rows)
    idx += checksum
    idx += hashlib.new(object_format, idx).digest()
    base = pack_dir / f"pack-{checksum.hex()}"
    rules.mkdir(pack_dir)
    import socket  # a save's, not a reader's: not at start-up

    keep = base.with_suffix(".keep")
    written: list[Path] = []
    try:
        # the .keep is a marker, written in place (as index-pack does): one file less
        fd = os.open(keep, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        written.append(keep)
        try:
            os.write(fd, f"{KEEP_PREFIX}{os.getpid()} on {socket.gethostname()}\n".encode())
        finally:
            os.close(fd)
        rules.adjust(keep)
        for path, content, component in (
            (base.with_suffix(".pack"), bytes(body), "pack"),
            (base.with_suffix(".idx"), bytes(idx), "pack-metadata"),
        ):
            rules.write_new(path, content, component)
            written.append(path)
    except BaseException:
        for path in reversed(written):  # the index first: the pack is never half-visible
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    return keep


def _sort_key(entry: Entry) -> bytes:
    name = entry.name.encode("utf-8", "surrogateescape")
    return name + b"/" if entry.is_tree else name


def format_tree(entries: list[Entry], hash_len: int = 20) -> bytes:
    """Serialise entries in git's order (a tree sorts as if its name ended in ``/``)."""
    out = bytearray()
    for e in sorted(entries, key=_sort_key):
        sha = bytes.fromhex(e.sha)
        assert len(sha) == hash_len
        out += e.mode.encode() + b" " + e.name.encode("utf-8", "surrogateescape") + b"\0" + sha
    return bytes(out)


_TREE_ENTRY = re.compile(rb"([0-7]+) ([^\0]+)\0")


def parse_tree(data: bytes, hash_len: int = 20) -> dict[str, Entry]:
    """Entries of a raw tree object, by name."""
    entries: dict[str, Entry] = {}
    match = _TREE_ENTRY.match
    pos, size = 0, len(data)
    while pos < size:
        found = match(data, pos)
        if found is None:
            raise ValueError(f"malformed tree entry at byte {pos}")
        mode, raw_name = found.groups()
        name = raw_name.decode("utf-8", "surrogateescape")
        pos = found.end() + hash_len
        entries[name] = Entry(mode.decode(), name, data[pos - hash_len : pos].hex())
    return entries


def commit_tree(data: bytes) -> str:
    """The tree id named on a raw commit's first line."""
    first = data.split(b"\n", 1)[0]
    if not first.startswith(b"tree "):
        raise ValueError("not a commit object")
    return first[5:].decode()
