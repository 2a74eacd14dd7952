"""The one place gitprov starts git processes.

Every git call goes through :class:`Git`: it finds the repository once, runs git with ``-C``
and a scrubbed environment (hooks leak ``GIT_DIR`` and friends, which would point our
children at the wrong repository or index), and turns git's failures into
:class:`~gitprov.errors.GitProvError` subclasses whose messages say how to fix them.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gitprov.errors import (
    GitCommandError,
    GitNotFoundError,
    NotAGitRepositoryError,
    RefLockedError,
    StaleValueError,
    UnknownRevisionError,
    UnsafeRepositoryError,
)
from gitprov.git.objects import GitObject, PackedObjects, read_loose

#: Variables that re-point git at another repository, index or object store.
_SCRUBBED = (
    "GIT_DIR",
    "GIT_INDEX_FILE",
    "GIT_WORK_TREE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_QUARANTINE_PATH",
    "GIT_INTERNAL_SUPER_PREFIX",
)


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a git child: leaked repository variables removed, C messages."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["LC_ALL"] = "C"
    env["LANGUAGE"] = "C"
    env["GIT_TERMINAL_PROMPT"] = "0"
    if extra:
        env.update(extra)
    return env


def zsplit(data: bytes) -> list[bytes]:
    """Split NUL-terminated ``-z`` output into its fields (no trailing empty field)."""
    fields = data.split(b"\0")
    if fields and fields[-1] == b"":
        fields.pop()
    return fields


def _nearest_existing(path: Path) -> Path:
    """Kedro hands us ``<project>/sessions``, which usually does not exist yet."""
    path = path.absolute()
    while not path.exists():
        if path.parent == path:
            break
        path = path.parent
    return path if path.is_dir() else path.parent


def common_dir_of(start: Path) -> Path | None:
    """The common git dir above ``start``, found as git finds it (a ``.git`` folder or
    ``gitdir:`` file, then ``commondir``), without a process. A hint for skipping needless
    probes only: git itself stays the authority on which repository it uses."""
    for folder in (start, *start.parents):
        dot = folder / ".git"
        if dot.is_dir():
            gitdir = dot
        elif dot.is_file():
            text = dot.read_text(errors="replace").strip()
            if not text.startswith("gitdir:"):
                return None
            gitdir = folder / text[len("gitdir:") :].strip()
        else:
            continue
        commondir = gitdir / "commondir"
        if commondir.is_file():
            return (gitdir / commondir.read_text().strip()).resolve()
        return gitdir.resolve()
    return None


#: A lock file git found taken (a ref's, ``packed-refs``'): its holder is moving refs.
_HELD_LOCK = re.compile(r"Unable to create '(.+?\.lock)': File exists")
#: ``update-ref`` finding a ref not at the old value it was given (compare-and-swap lost).
_LOST_SWAP = re.compile(
    r"cannot lock ref '[^']*': (is at \S+ but expected|reference already exists"
    r"|reference is missing|unable to resolve reference)"
)


def map_error(args: Sequence[str], returncode: int, stderr: str, where: Path) -> Exception:
    """Turn a failed git call into the most specific error we know, with a fix."""
    text = stderr.strip()
    if "detected dubious ownership" in text:
        # git names the repository's top folder, which is what safe.directory must list
        named = re.search(r"dubious ownership in repository at '(.+?)'", text)
        repo = named.group(1) if named else where
        return UnsafeRepositoryError(
            f"git refuses the repository at {repo}: it is owned by another user "
            f"(safe.directory). If you trust it, run: "
            f"git config --global --add safe.directory {repo}"
        )
    if "not a git repository" in text:
        return NotAGitRepositoryError(
            f"{where} is not inside a git repository. gitprov records runs in the "
            f"project's own git repository: run `git init` in the project (and commit "
            f"your code), or point gitprov at a path inside an existing repository."
        )
    name = args[0] if args else "git"
    message = f"`git {name}` failed (exit {returncode}) in {where}: {text or 'no message'}"
    held = _HELD_LOCK.search(text)
    if held:
        return RefLockedError(message, returncode, text, held.group(1))
    if _LOST_SWAP.search(text):
        return StaleValueError(message, returncode, text)
    if "Not a valid object name" in text:
        return UnknownRevisionError(message, returncode, text)
    return GitCommandError(message, returncode, text)


def _spawn(argv: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(argv, env=env, **kwargs)  # type: ignore[call-overload,no-any-return]
    except FileNotFoundError as exc:
        raise GitNotFoundError(
            "git is not installed or not on PATH. gitprov needs git >= 2.30: install it "
            "(e.g. `apt-get install git`) and make sure `git --version` works in this shell."
        ) from exc


@dataclass(frozen=True)
class Started:
    """A git process started ahead of the moment its answer is needed."""

    proc: subprocess.Popen[bytes]
    args: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    """A finished git process."""

    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "surrogateescape")


class Runner:
    """Runs git in one folder; errors name that folder. :class:`Git` is a located repo."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        return self._root

    @classmethod
    def near(cls, path: str | os.PathLike[str]) -> Runner:
        """A runner in ``path`` (or its nearest existing ancestor), without locating the
        repository first: for one-off probes, where git finds the repository itself."""
        return cls(_nearest_existing(Path(path)))

    def common_dir_hint(self) -> Path | None:
        """Where the repository's shared files are, as far as can be told without git."""
        return common_dir_of(self.root)

    def _argv(self, args: Sequence[str]) -> list[str]:
        return ["git", "-C", str(self.root), *args]

    def start(self, *args: str, stdin: bool = False, env: dict[str, str] | None = None) -> Started:
        """Start git without waiting, so several probes can run at once."""
        proc = _spawn(
            self._argv(args),
            git_env(env),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        return Started(proc, args)

    def finish(
        self, started: Started, input: bytes | None = None, ok: Sequence[int] = (0,)
    ) -> Result:
        """Wait for a started git; raise the mapped error unless its exit is in ``ok``."""
        out, err = started.proc.communicate(input)
        result = Result(started.proc.returncode, out, err)
        if result.returncode not in ok:
            text = err.decode(errors="replace")
            raise map_error(started.args, result.returncode, text, self.root)
        return result

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        ok: Sequence[int] = (0,),
        env: dict[str, str] | None = None,
    ) -> Result:
        """Run git to completion."""
        return self.finish(self.start(*args, stdin=input is not None, env=env), input, ok)

    @contextmanager
    def objects(self) -> Iterator[ObjectReader]:
        """One ``git cat-file --batch`` process for a series of object reads."""
        started = self.start("cat-file", "--batch", stdin=True)
        try:
            yield CatFile(started.proc)
        finally:
            self.finish(started)  # closes stdin, which ends cat-file


@dataclass(frozen=True)
class Git(Runner):
    """A repository located once; every git process runs against it.

    ``worktree`` is ``None`` for a bare repository. ``objects_dir`` is where new
    objects go (the common dir's, shared by all worktrees).
    """

    git_dir: Path
    common_dir: Path
    worktree: Path | None
    object_format: str

    @classmethod
    def discover(cls, path: str | os.PathLike[str] = ".") -> Git:
        """Find the repository containing ``path`` (or its nearest existing ancestor)."""
        start = _nearest_existing(Path(path))
        argv = [
            "git",
            "-C",
            str(start),
            "rev-parse",
            "--is-bare-repository",
            "--is-inside-work-tree",
            "--absolute-git-dir",
            "--git-common-dir",
            "--show-object-format",
            "--show-cdup",
        ]
        proc = _spawn(argv, git_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise map_error(["rev-parse"], proc.returncode, err.decode(errors="replace"), start)
        lines = out.decode("utf-8", "surrogateescape").split("\n")
        bare, inside, git_dir, common, fmt, cdup = (lines + [""] * 6)[:6]
        common_dir = Path(common) if os.path.isabs(common) else start / common
        worktree: Path | None = None
        if bare != "true":
            if inside != "true":
                raise NotAGitRepositoryError(
                    f"{start} is inside a .git directory, not a work tree: point gitprov "
                    f"at the project's work tree instead."
                )
            worktree = (start / cdup).resolve()
        return cls(Path(git_dir), common_dir.resolve(), worktree, fmt or "sha1")

    @property
    def root(self) -> Path:
        """Where git runs: the work tree's top level, or the git dir of a bare repo."""
        return self.worktree if self.worktree is not None else self.git_dir

    @property
    def objects_dir(self) -> Path:
        return self.common_dir / "objects"

    def common_dir_hint(self) -> Path | None:
        return self.common_dir

    @contextmanager
    def local_objects(self) -> Iterator[LocalReader]:
        """A :class:`LocalReader`: object reads that spawn nothing when they can."""
        reader = LocalReader(self)
        try:
            yield reader
        finally:
            reader.close()


class ObjectReader(Protocol):
    """Anything that turns a name (revision syntax) into an object, or ``None``."""

    def read(self, name: str) -> GitObject | None: ...


class CatFile:
    """Interactive reads through ``cat-file --batch``: name in, object (or ``None``) out."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self._in = proc.stdin
        self._out = proc.stdout

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


_HEX = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def read_ref_file(common_dir: Path, ref: str) -> tuple[bool, str | None]:
    """``(known, sha)`` of a shared ref, from the files ref store without a process.

    ``known`` is false (ask git) for a reftable store, a symbolic ref or anything
    unexpected. A stale answer is harmless: refs are only ever moved by compare-and-swap.
    """
    if (common_dir / "reftable").exists():
        return False, None
    try:
        text: str | None = (common_dir / ref).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError):
        return False, None
    if text is not None:
        return (True, text) if _HEX.fullmatch(text) else (False, None)
    try:
        packed = (common_dir / "packed-refs").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return True, None
    suffix = " " + ref
    for line in packed.splitlines():
        if line.endswith(suffix) and _HEX.fullmatch(line[: -len(suffix)]):
            return True, line[: -len(suffix)]
    return True, None


def has_refs_under(common_dir: Path | None, prefix: str) -> bool | None:
    """Whether any ref starts with ``prefix`` (``"refs/tags/"``), from the files ref store
    without a process (never writing it); ``None``, "ask git", for a reftable store or
    when where the repository is cannot be told."""
    if common_dir is None or (common_dir / "reftable").exists():
        return None
    try:
        with os.scandir(common_dir / prefix) as entries:
            if any(True for _ in entries):
                return True
    except (FileNotFoundError, NotADirectoryError):
        pass
    try:
        return f" {prefix}".encode() in (common_dir / "packed-refs").read_bytes()
    except FileNotFoundError:
        return False


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
        if _HEX.fullmatch(name):
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
