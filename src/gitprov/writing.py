"""How git wants files written into a repository, so that gitprov's files obey the same rules.

Two settings matter: ``core.sharedRepository`` (the group or world bits every file and
folder in the git dir gets, so teammates sharing a repository can still write to it) and
``core.fsync`` / ``core.fsyncObjectFiles`` (which kinds of file are flushed to disk before
a ref may point at them). Both are read with one ``git config`` (it knows every config file,
include and ``-c``), started alongside the repository lookup. The modes are computed exactly
as git's ``adjust_shared_perm`` does.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # runner imports objects, which writes through these rules
    from gitprov.runner import Runner, Started

#: ``git config --get-regexp`` pattern of the settings read here (keys come back lowercased).
CONFIG_PATTERN = r"^core\.(sharedrepository|fsync|fsyncobjectfiles)$"

#: Components as ``core.fsync`` names them; aggregates expand to these.
_AGGREGATES = {
    "objects": {"loose-object", "pack"},
    "derived-metadata": {"pack-metadata", "commit-graph"},
    "default": {"pack", "pack-metadata", "commit-graph"},
    "committed": {"loose-object", "pack", "reference"},
    "added": {"loose-object", "pack", "reference", "index"},
    "all": {"loose-object", "pack", "pack-metadata", "commit-graph", "index", "reference"},
}
#: git's platform default: packs and their indexes, not loose objects.
DEFAULT_FSYNC = frozenset(_AGGREGATES["default"])

_TRUE = {"true", "yes", "on", "1", ""}
_PERM_GROUP, _PERM_EVERYBODY = 0o660, 0o664


def _shared_value(value: str) -> int:
    """``core.sharedRepository`` as git's ``git_config_perm`` reads it: 0 (umask), bits to
    add (group, everybody), or the negated exact mode of an octal ``0xxx``."""
    word = value.strip().lower()
    if word in ("umask", "false", "no", "off"):
        return 0
    if word in ("group", "true", "yes", "on"):
        return _PERM_GROUP
    if word in ("all", "world", "everybody"):
        return _PERM_EVERYBODY
    try:
        number = int(word, 8)
    except ValueError:
        return 0
    if number in (0, 1, 2):
        return (0, _PERM_GROUP, _PERM_EVERYBODY)[number]
    return -(number & 0o666)


def _fsync_components(value: str) -> frozenset[str]:
    """``core.fsync``: start from the default, ``none`` clears, ``-x`` removes, ``x`` adds."""
    current = set(DEFAULT_FSYNC)
    for word in (t.strip().lower() for t in value.split(",")):
        if not word:
            continue
        if word == "none":
            current.clear()
            continue
        remove = word.startswith("-")
        name = word.lstrip("-")
        names = _AGGREGATES.get(name, {name})
        if remove:
            current -= names
        else:
            current |= names
    return frozenset(current)


@dataclass(frozen=True)
class WriteRules:
    """The modes and flushes git applies in one repository (``shared`` as git stores it)."""

    shared: int = 0
    fsync: frozenset[str] = DEFAULT_FSYNC

    @classmethod
    def parse(cls, output: bytes) -> WriteRules:
        """From ``git config -z --get-regexp CONFIG_PATTERN`` output (the last value wins)."""
        values: dict[str, str] = {}
        for item in output.split(b"\0"):
            if item:
                key, _, value = item.decode("utf-8", "replace").partition("\n")
                values[key.lower()] = value
        fsync = _fsync_components(values.get("core.fsync", ""))
        if values.get("core.fsyncobjectfiles", "false").strip().lower() in _TRUE:
            fsync |= {"loose-object"}
        return cls(_shared_value(values.get("core.sharedrepository", "umask")), fsync)

    @staticmethod
    def start(runner: Runner) -> Started:
        """Start reading the rules of the repository ``runner`` is in."""
        return runner.start("config", "-z", "--get-regexp", CONFIG_PATTERN)

    @classmethod
    def finish(cls, runner: Runner, started: Started) -> WriteRules:
        return cls.parse(runner.finish(started, ok=(0, 1)).stdout)

    @classmethod
    def read(cls, runner: Runner) -> WriteRules:
        return cls.finish(runner, cls.start(runner))

    def mode(self, mode: int, is_dir: bool) -> int:
        """The permission bits git gives a new file or folder created with ``mode``."""
        if not self.shared:
            return mode
        tweak = -self.shared if self.shared < 0 else self.shared
        if not mode & stat.S_IWUSR:
            tweak &= ~0o222
        if mode & stat.S_IXUSR:
            tweak |= (tweak & 0o444) >> 2
        new = (mode & ~0o777) | tweak if self.shared < 0 else mode | tweak
        if is_dir:
            new |= (new & 0o444) >> 2
            new |= stat.S_ISGID
        return new

    def adjust(self, path: str | os.PathLike[str]) -> None:
        """Give ``path`` the shared bits, as git's ``adjust_shared_perm``."""
        if not self.shared:
            return
        info = os.stat(path)
        new = self.mode(stat.S_IMODE(info.st_mode), stat.S_ISDIR(info.st_mode))
        if new != stat.S_IMODE(info.st_mode):
            os.chmod(path, new)

    def mkdir(self, path: Path) -> None:
        """Create ``path`` (one level) unless it exists, with the shared bits."""
        try:
            path.mkdir()
        except FileExistsError:
            return
        self.adjust(path)

    def write_new(self, target: Path, content: bytes, component: str, mode: int = 0o444) -> None:
        """Write ``target`` whole or not at all: a temporary file (named as git names its
        own, so ``git prune`` removes a crash's leftover), flushed when ``component`` is
        one ``core.fsync`` hardens, then renamed into place."""
        kind = {"pack": "pack", "pack-metadata": "idx"}.get(component, "obj")
        tmp = target.parent / f"tmp_{kind}_{secrets.token_hex(6)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            try:
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
                if component in self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            self.adjust(tmp)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def open_lock(self, path: Path) -> int:
        """A descriptor on the lock file ``path`` (created shared-writable), for ``flock``.

        A lock file another user created without the shared bits is opened read-only:
        ``flock`` works on any descriptor.
        """
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            try:
                return os.open(path, os.O_RDWR)
            except PermissionError:
                return os.open(path, os.O_RDONLY)
        self.adjust(path)
        return fd


@contextmanager
def hold_flock(
    path: Path, rules: WriteRules, timeout: float, busy: Callable[[Path], Exception]
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``, waiting up to ``timeout`` seconds (then
    ``busy(path)`` is raised). The kernel drops it when its holder exits or is killed, so
    a crash never leaves the repository locked. Where there is no ``flock`` (Windows),
    nothing is held and compare-and-swap alone keeps writers apart."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - POSIX only
        yield
        return
    fd = rules.open_lock(path)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise busy(path) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)  # releases the lock
