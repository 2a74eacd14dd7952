"""Reading git objects: through ``cat-file --batch``, or from the repository's files.

Both answer :class:`ObjectReader`'s one question (a name in, an object or ``None`` out), so
callers do not care which: :class:`LocalReader` spawns nothing when the objects are loose or
packed and the ref is a plain file, and falls back to ``cat-file`` for anything else.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import IO, TYPE_CHECKING, Protocol

from gitprov.git.objects import GitObject, PackedObjects, read_loose
from gitprov.git.reffiles import HEX_ID, read_ref_file

if TYPE_CHECKING:
    from gitprov.git.repo import Git  # the repository opens readers on itself


class ObjectReader(Protocol):
    """Anything that turns a name (revision syntax) into an object, or ``None``."""

    def read(self, name: str) -> GitObject | None: ...


class CatFile:
    """Interactive reads through ``cat-file --batch``: name in, object (or ``None``) out."""

    def __init__(self, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        """The pipes of a ``cat-file --batch`` the runner started (this starts none)."""
        self._in = stdin
        self._out = stdout

    def read(self, name: str) -> GitObject | None:
        """The object ``name`` resolves to (any revision syntax), or ``None`` if missing."""
        if "\n" in name:
            return None
        self._in.write(name.encode("utf-8", "surrogateescape") + b"\n")
        self._in.flush()
        header = self._out.readline()
        parts = header.split()
        if len(parts) != 3:  # "<name> missing" / "<name> ambiguous"
            return None
        size = int(parts[2])
        data = self._out.read(size + 1)[:size]
        return GitObject(parts[0].decode(), parts[1].decode(), data)


class LocalReader:
    """Reads refs and objects (loose or packed) from the repository's files, and anything
    else (alternates, reftable, revision syntax) through a ``cat-file`` started only then.

    A save so spawns no reader process at all. Objects read once are kept (they never
    change); refs are read afresh every time.
    """

    def __init__(self, git: Git) -> None:
        self._git = git
        self._stack = ExitStack()
        self._cat: ObjectReader | None = None
        self._packs: PackedObjects | None = None
        self._seen: dict[str, GitObject] = {}

    def read(self, name: str) -> GitObject | None:
        if HEX_ID.fullmatch(name):
            found = self._seen.get(name) or read_loose(self._git.objects_dir, name)
            if found is None:
                if self._packs is None:
                    self._packs = PackedObjects(self._git.objects_dir, len(name) // 2)
                    self._stack.callback(self._packs.close)
                found = self._packs.read(name) or self._cat_read(name)
            if found is not None:
                self._seen[name] = found
            return found
        if name.startswith("refs/") and not any(c in name for c in "^:~@{ \\"):
            known, sha = read_ref_file(self._git.common_dir, name)
            if known:
                return None if sha is None else self.read(sha)
        return self._cat_read(name)

    def _cat_read(self, name: str) -> GitObject | None:
        if self._cat is None:
            self._cat = self._stack.enter_context(self._git.objects())
        return self._cat.read(name)

    def close(self) -> None:
        self._stack.close()
