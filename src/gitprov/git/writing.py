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
import re
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from gitprov.errors import GitProvError

if TYPE_CHECKING:  # the repository's reader imports objects, which writes through these rules
    from gitprov.git.process import Runner, Started
    from gitprov.git.repo import Git

#: ``git config --get-regexp`` pattern of the settings read here (keys come back lowercased).
CONFIG_PATTERN = r"^core\.(sharedrepository|fsync|fsyncobjectfiles)$"

#: ``core.fsync``'s names, in git's order (config.c), with the components each stands for.
_FSYNC_NAMES = (
    ("loose-object", {"loose-object"}),
    ("pack", {"pack"}),
    ("pack-metadata", {"pack-metadata"}),
    ("commit-graph", {"commit-graph"}),
    ("index", {"index"}),
    ("reference", {"reference"}),
    ("objects", {"loose-object", "pack"}),
    ("derived-metadata", {"pack-metadata", "commit-graph"}),
    ("default", {"pack", "pack-metadata", "commit-graph"}),
    ("committed", {"loose-object", "pack", "reference"}),
    ("added", {"loose-object", "pack", "reference", "index"}),
    ("all", {"loose-object", "pack", "pack-metadata", "commit-graph", "index", "reference"}),
)
#: git's platform default: packs and their indexes, not loose objects.
DEFAULT_FSYNC = frozenset(_FSYNC_NAMES[8][1])

_TRUE = {"true", "yes", "on", "1", ""}
_FALSE = {"false", "no", "off", "0", ""}
_PERM_GROUP, _PERM_EVERYBODY = 0o660, 0o664


def _shared_value(value: str) -> int:
    """``core.sharedRepository`` exactly as git's ``git_config_perm`` reads it: 0 (umask),
    bits to add (group, everybody), or the negated mode of an octal ``0xxx``; a value git
    dies on raises ``ValueError``."""
    words = {"umask": 0, "group": _PERM_GROUP, "all": _PERM_EVERYBODY}
    words |= {"world": _PERM_EVERYBODY, "everybody": _PERM_EVERYBODY}
    if value in words:  # strcmp: case matters
        return words[value]
    try:
        number = int(value, 8)
    except ValueError:
        word = value.lower()
        if word in _TRUE - {""}:
            return _PERM_GROUP
        if word in _FALSE:
            return 0
        raise ValueError(f"core.sharedRepository={value!r} is not a value git accepts") from None
    if number in (0, 1, 2):
        return (0, _PERM_GROUP, _PERM_EVERYBODY)[number]
    if number & 0o600 != 0o600:
        raise ValueError(f"core.sharedRepository={value!r}: the owner must read and write")
    return -(number & 0o666)


def _fsync_components(value: str) -> frozenset[str]:
    """``core.fsync`` exactly as git's ``parse_fsync_components`` reads it: every word is a
    prefix of the names it adds (``pack`` is also ``pack-metadata``), ``-word`` removes,
    ``none`` clears the default only as the last word, and the result is ``(default minus
    removed) plus added``, whatever the order."""
    current = set(DEFAULT_FSYNC)
    positive: set[str] = set()
    negative: set[str] = set()
    rest = value
    while rest:
        rest = rest.lstrip(", \t\n\r")
        word, _, after = rest.partition(",")
        if rest == "none":
            current = set()
        else:
            negated = word.startswith("-")
            word = word[1:] if negated else word
            if not word:
                break
            for name, components in _FSYNC_NAMES:
                if name.startswith(word):
                    (negative if negated else positive).update(components)
        rest = after
    return frozenset((current - negative) | positive)


#: Environment variables that add or redirect config in ways only git itself resolves.
_CONFIG_ENV = ("GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_CONFIG")

#: A section header as git reads one: no space inside the brackets but before a quoted
#: subsection (``[ core]`` is an error to git, so it is left to git).
#: Only space and tab are blanks to git (a form feed or no-break space is refused, or kept
#: in a value).
_SECTION = re.compile(r'[ \t]*\[([A-Za-z0-9.-]+)(?:[ \t]+"([^"\\]*)")?\](.*)')
_KEY = re.compile(r"[ \t]*([A-Za-z][A-Za-z0-9-]*)[ \t]*(?:=[ \t]*(.*?))?[ \t]*")


#: Where a git installed under /usr (every distribution's) reads its system config.
_SYSTEM_CONFIG = Path("/etc/gitconfig")


def on_path(program: str) -> str | None:
    """Where ``program`` is on PATH, found as :func:`shutil.which` finds it (whose imports,
    bz2 and lzma among them, would cost every command 3 ms of start-up)."""
    path = os.environ.get("PATH", os.defpath)
    for folder in path.split(os.pathsep) if path else []:
        found = os.path.join(folder, program)
        if os.access(found, os.X_OK) and not os.path.isdir(found):
            return found
    return None


def _config_files(common_dir: Path) -> list[Path] | None:
    """The config files git reads, lowest precedence first (``git help config``, FILES):
    system, then global (XDG, then ``~/.gitconfig``), then the repository's; ``None`` when
    only git can tell (a git built elsewhere reads its own ``<sysconfdir>/gitconfig``)."""
    files: list[Path] = []
    nosystem = os.environ.get("GIT_CONFIG_NOSYSTEM", "")
    try:  # git_env_bool: a boolean word or an integer
        skip_system = nosystem.lower() in _TRUE - {""} or bool(nosystem and int(nosystem))
    except ValueError:
        if nosystem.lower() not in _FALSE:
            return None
        skip_system = False
    if not skip_system:
        system = os.environ.get("GIT_CONFIG_SYSTEM")
        if system:
            files.append(Path(system))
        else:
            found = on_path("git")
            if found is None or not os.path.realpath(found).startswith("/usr/bin/"):
                return None
            files.append(_SYSTEM_CONFIG)
    global_ = os.environ.get("GIT_CONFIG_GLOBAL")
    if global_:
        files.append(Path(global_))
    else:
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
        files += [Path(xdg) / "git" / "config", Path.home() / ".gitconfig"]
    files.append(common_dir / "config")
    return files


def _section_values(text: str, section: str) -> dict[str, str] | None:
    """The keys of ``[section]`` in one config file (``section.key``, lowercased), or
    ``None`` when the file holds anything whose meaning only git can tell (includes,
    per-worktree config, quoting, escapes, continuation lines, a line git refuses)."""
    if "include" in text.lower() or "worktreeconfig" in text.lower():
        return None
    values: dict[str, str] = {}
    current = ""
    for raw in text.removeprefix("\ufeff").split("\n"):  # git skips a BOM; lines end at \n
        line = raw.removesuffix("\r")
        header = _SECTION.fullmatch(line)
        if header is not None:
            current = header.group(1).lower() + ("" if header.group(2) is None else ".sub")
            line = header.group(3)
        if line.lstrip().startswith("["):
            # a header this reader does not follow (escapes in a subsection), or a second
            # one on the line (`[alias][core]`: git opens [core] there)
            return None
        code = line.split("#", 1)[0].split(";", 1)[0]
        if not code.strip(" \t"):
            continue
        key = _KEY.fullmatch(code)
        if key is None or not current or (key.group(2) is None and code != line):
            # a line git stops at (it fails every command there; a comment after a bare
            # key too): git's to say
            return None
        line = code
        if current != section:
            continue  # other sections (a remote's quoted URL): not ours to read
        if '"' in line or "\\" in line:
            return None
        bare = key.group(2) is None  # `key` alone means true, as in git
        values[f"{section}.{key.group(1).lower()}"] = "true" if bare else key.group(2)
    return values


def config_from_files(common_dir: Path, section: str) -> dict[str, str] | None:
    """The keys of ``[section]`` (``section.key``, lowercased; the last value wins) read
    straight from the config files git would read (system, global, repository), or
    ``None`` — ask git — for anything this reader does not fully understand: includes,
    per-worktree config, ``git -c``, quoting or escapes."""
    if any(name in os.environ for name in _CONFIG_ENV):
        return None
    files = _config_files(common_dir)
    if files is None:
        return None
    values: dict[str, str] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError):
            return None
        found = _section_values(text, section)
        if found is None:
            return None
        values.update(found)
    return values


def parse_config(output: bytes) -> dict[str, str]:
    """``git config -z --get-regexp`` output as keys (lowercased) and values: the last
    value wins, and a bare key is true."""
    values: dict[str, str] = {}
    for item in output.split(b"\0"):
        if item:
            key, sep, value = item.decode("utf-8", "replace").partition("\n")
            values[key.lower()] = value if sep else "true"
    return values


class WriteRules(NamedTuple):
    """The modes and flushes git applies in one repository (``shared`` as git stores it)."""

    shared: int = 0
    fsync: frozenset[str] = DEFAULT_FSYNC

    @classmethod
    def parse(cls, output: bytes) -> WriteRules:
        """From ``git config -z --get-regexp CONFIG_PATTERN`` output."""
        return cls.of_values(parse_config(output))

    @classmethod
    def of_values(cls, values: dict[str, str]) -> WriteRules:
        """From the ``core.*`` keys (lowercased), as :func:`parse_config` gives them."""
        fsync = _fsync_components(values.get("core.fsync", ""))
        if values.get("core.fsyncobjectfiles", "false").strip().lower() in _TRUE:
            fsync |= {"loose-object"}
        try:
            shared = _shared_value(values.get("core.sharedrepository", "umask"))
        except ValueError as exc:
            raise GitProvError(
                f"{exc}: git itself refuses this repository. Set a value git accepts, e.g. "
                f"`git config core.sharedRepository group` (or umask, all, 0660)"
            ) from None
        return cls(shared, fsync)

    @classmethod
    def of(cls, git: Git) -> WriteRules:
        """The rules of ``git``'s repository: from its config files when they say it plainly
        (no process), else from ``git config``."""
        found = cls.from_files(git.common_dir)
        return found if found is not None else cls.read(git.runner)

    @classmethod
    def from_files(cls, common_dir: Path) -> WriteRules | None:
        """The rules read straight from the config files (:func:`config_from_files`), or
        ``None``: ask git."""
        values = config_from_files(common_dir, "core")
        return None if values is None else cls.of_values(values)

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
        import secrets  # for writers only: not at start-up

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
