"""Git objects written and parsed in-process.

Writing a loose object is a hash, a zlib stream and a rename, exactly what git itself does;
doing it here instead of spawning ``hash-object``/``mktree``/``commit-tree`` for every
object keeps a save at a handful of processes. Nothing here touches refs, the index or
the work tree, and commits written this way never ask for a signature.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

TREE_MODE = "40000"
BLOB_MODE = "100644"

#: The identity of commits on gitprov's own refs; works with no ``user.name`` configured.
IDENTITY = "gitprov <gitprov@localhost>"


@dataclass(frozen=True)
class Entry:
    """One tree entry."""

    mode: str
    name: str
    sha: str

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE


@dataclass(frozen=True)
class GitObject:
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


class ObjectWriter:
    """Writes loose objects into a repository's object store."""

    def __init__(self, objects_dir: Path, object_format: str = "sha1") -> None:
        self.objects_dir = objects_dir
        self.object_format = object_format
        self.hash_len = hashlib.new(object_format).digest_size

    def write(self, kind: str, data: bytes) -> str:
        """Store ``data`` as an object of ``kind``; return its id. Idempotent."""
        raw = b"%s %d\0%s" % (kind.encode(), len(data), data)
        sha = hashlib.new(self.object_format, raw).hexdigest()
        folder = self.objects_dir / sha[:2]
        target = folder / sha[2:]
        if target.exists():
            with contextlib.suppress(OSError):  # freshen, as git does, so a prune keeps it
                os.utime(target)
            return sha
        folder.mkdir(exist_ok=True)
        # Created read-only and renamed into place, as git does: readers see it whole.
        tmp = folder / f"tmp_obj_{secrets.token_hex(6)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(zlib.compress(raw, 1))
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return sha

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


def parse_tree(data: bytes, hash_len: int = 20) -> dict[str, Entry]:
    """Entries of a raw tree object, by name."""
    entries: dict[str, Entry] = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = data[pos:space].decode()
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        sha = data[nul + 1 : nul + 1 + hash_len].hex()
        entries[name] = Entry(mode, name, sha)
        pos = nul + 1 + hash_len
    return entries


def commit_tree(data: bytes) -> str:
    """The tree id named on a raw commit's first line."""
    first = data.split(b"\n", 1)[0]
    if not first.startswith(b"tree "):
        raise ValueError("not a commit object")
    return first[5:].decode()
