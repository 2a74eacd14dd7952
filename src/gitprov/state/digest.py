"""Content digests of a run's inputs and outputs: ``sha256:<hex>`` of the bytes on disk.

A file's digest is the SHA-256 of its bytes, as ``sha256sum`` prints it. A folder's digest
(partitioned datasets, artifact folders) is the SHA-256 of one line per file below it,
``<file digest hex>  <path>\\n``, ``path`` relative to the folder with ``/`` separators,
lines sorted by path (bytes): exactly what GNU ``sha256sum`` prints for the files
``find -L . -type f`` lists in the folder, sorted, without the leading ``./`` (a name
holding a backslash, a newline or a CR escaped as ``sha256sum`` escapes it), so an auditor can
recompute it with standard tools. Symbolic links are followed to files and never to
folders (a link cannot make the walk loop); a dangling link and empty folders add nothing.

Digests of files that did not change are kept in a cache in the git dir
(``gitprov/digests.sqlite``), keyed by what the file system says of a file: device, inode,
size, modification and change time, in nanoseconds. As git does for its index ("racy
git"), a file modified within :data:`RACY_SECONDS` of being read is never cached: a write in
the same clock tick could leave every key unchanged. Where the git dir cannot be written,
nothing is cached and every file is read.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from contextlib import closing, suppress
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

PREFIX = "sha256:"
#: A file modified this recently is not cached (coarse file system clocks).
RACY_SECONDS = 2.0
CACHE_FILE = ("gitprov", "digests.sqlite")
_CHUNK = 1 << 20
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS digests (dev INTEGER, ino INTEGER, size INTEGER, "
    "mtime_ns INTEGER, ctime_ns INTEGER, digest TEXT NOT NULL, "
    "PRIMARY KEY (dev, ino, size, mtime_ns, ctime_ns)) WITHOUT ROWID"
)

_Key = tuple[int, int, int, int, int]


def _key(st: os.stat_result) -> _Key:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _listed(name: bytes, digest: str) -> bytes:
    """One line of ``sha256sum``'s output: a name holding a backslash, newline or CR is
    escaped, and the line marked with a leading backslash, as GNU ``sha256sum`` does, so
    that no file name can pass for two lines."""
    if any(c in name for c in (b"\\", b"\n", b"\r")):
        escaped = name.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
        return b"\\" + digest.encode() + b"  " + escaped + b"\n"
    return digest.encode() + b"  " + name + b"\n"


def _hash_file(path: Path) -> str:
    with path.open("rb", buffering=0) as fh:
        if hasattr(hashlib, "file_digest"):  # Python 3.11+
            return hashlib.file_digest(fh, "sha256").hexdigest()
        h, buf = hashlib.sha256(), memoryview(bytearray(_CHUNK))
        while n := fh.readinto(buf):
            h.update(buf[:n])
        return h.hexdigest()


class NotRead(OSError):
    """A file a cache-only :class:`Digests` does not hold (its digest is left unknown)."""


class Digests:
    """Digests files and folders, through the cache of the git dir ``common_dir`` (none
    when ``None`` or when it cannot be written). Use as a context manager."""

    def __init__(self, common_dir: Path | None, *, read: bool = True) -> None:
        """``read=False`` answers from the cache only (a file it does not hold raises
        :class:`NotRead`): for a run being stopped, which must not spend seconds hashing
        a large output before its record is written."""
        self._read = read
        self._db: sqlite3.Connection | None = None
        self._new: list[tuple[int, int, int, int, int, str]] = []
        if common_dir is not None:
            self._db = _open(common_dir.joinpath(*CACHE_FILE))

    def __enter__(self) -> Digests:
        return self

    def __exit__(self, *exc: object) -> None:
        """Keep the new digests (one transaction) and close the cache."""
        if self._db is None:
            return
        import sqlite3

        with closing(self._db):
            try:
                with self._db:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?)", self._new
                    )
            except sqlite3.Error:
                pass  # a busy or damaged cache costs the next run a read, nothing more
        self._db = None

    def of(self, path: str | os.PathLike[str]) -> str:
        """``sha256:<hex>`` of the file or folder ``path``; ``OSError`` when it is neither."""
        return self.measure(path)[0]

    def measure(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        """``(sha256:<hex>, size in bytes)`` of the file or folder ``path`` (a folder's size:
        its files' sizes added up); ``OSError`` when it is neither."""
        target = Path(path)
        st = target.stat()
        if stat.S_ISDIR(st.st_mode):
            digest, size = self._folder(target)
            return PREFIX + digest, size
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{target} is neither a file nor a folder")
        return PREFIX + self._file(target, st), st.st_size

    def _file(self, path: Path, st: os.stat_result) -> str:
        key = _key(st)
        cached = self._cached(key)
        if cached is not None:
            return cached
        if not self._read:
            raise NotRead(f"{path} was not read (the run was stopped)")
        digest = _hash_file(path)
        after = path.stat()
        settled = time.time_ns() - after.st_mtime_ns > RACY_SECONDS * 1e9
        if _key(after) == key and settled:
            self._store(key, digest)
        return digest

    def _folder(self, folder: Path) -> tuple[str, int]:
        lines, size = [], 0
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in files:
                path = Path(root, name)
                try:
                    st = path.stat()  # follows a link to a file
                except OSError:  # a dangling or looping link: no file there
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                relative = path.relative_to(folder).as_posix()
                lines.append((relative.encode("utf-8", "surrogateescape"), self._file(path, st)))
                size += st.st_size
        lines.sort()
        return hashlib.sha256(b"".join(_listed(n, d) for n, d in lines)).hexdigest(), size

    def _cached(self, key: _Key) -> str | None:
        if self._db is None:
            return None
        import sqlite3

        try:
            row = self._db.execute(
                "SELECT digest FROM digests WHERE dev=? AND ino=? AND size=? AND mtime_ns=? "
                "AND ctime_ns=?",
                key,
            ).fetchone()
        except sqlite3.Error:
            self._db = None  # a damaged cache is only a slower run
            return None
        return str(row[0]) if row else None

    def _store(self, key: _Key, digest: str) -> None:
        if self._db is not None:
            self._new.append((*key, digest))


def _open(path: Path) -> sqlite3.Connection | None:
    """The cache database, created on first use, made anew when it is damaged; ``None``
    where it cannot be (a read-only git dir, another user's file): the digests are then
    computed every time."""
    import sqlite3

    for attempt in range(2):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=5.0)
        except (OSError, sqlite3.Error):
            return None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: a lost write is a re-read
            db.execute(_SCHEMA)
            return db
        except sqlite3.DatabaseError as exc:
            db.close()
            damaged = "not a database" in str(exc) or "malformed" in str(exc)
            if attempt or not damaged:
                return None
            with suppress(OSError):  # only a cache: start it again
                path.unlink()
    return None
