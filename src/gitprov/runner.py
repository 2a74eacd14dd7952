"""The one place gitprov starts git processes.

Every git call goes through :class:`Git`: it finds the repository once, runs git with ``-C``
and a scrubbed environment (hooks leak ``GIT_DIR`` and friends, which would point our
children at the wrong repository or index), and turns git's failures into
:class:`~gitprov.errors.GitProvError` subclasses whose messages say how to fix them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gitprov.errors import (
    GitCommandError,
    GitNotFoundError,
    NotAGitRepositoryError,
    UnsafeRepositoryError,
)

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


def map_error(args: Sequence[str], returncode: int, stderr: str, where: Path) -> Exception:
    """Turn a failed git call into the most specific error we know, with a fix."""
    text = stderr.strip()
    if "detected dubious ownership" in text:
        return UnsafeRepositoryError(
            f"git refuses the repository at {where}: it is owned by another user "
            f"(safe.directory). If you trust it, run: "
            f"git config --global --add safe.directory {where}"
        )
    if "not a git repository" in text:
        return NotAGitRepositoryError(
            f"{where} is not inside a git repository. gitprov records runs in the "
            f"project's own git repository: run `git init` in the project (and commit "
            f"your code), or point gitprov at a path inside an existing repository."
        )
    name = args[0] if args else "git"
    return GitCommandError(
        f"`git {name}` failed (exit {returncode}) in {where}: {text or 'no message'}",
        returncode,
        text,
    )


def _spawn(argv: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(argv, env=env, **kwargs)  # type: ignore[call-overload,no-any-return]
    except FileNotFoundError as exc:
        raise GitNotFoundError(
            "git is not installed or not on PATH. gitprov needs git >= 2.30: install it "
            "(e.g. `apt-get install git`) and make sure `git --version` works in this shell."
        ) from exc


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

    def start(
        self, *args: str, stdin: bool = False, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start git without waiting, so several probes can run at once."""
        return _spawn(
            self._argv(args),
            git_env(env),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def finish(
        self,
        proc: subprocess.Popen[bytes],
        args: Sequence[str],
        input: bytes | None = None,
        ok: Sequence[int] = (0,),
    ) -> Result:
        """Wait for a started process; raise the mapped error unless its exit is in ``ok``."""
        out, err = proc.communicate(input)
        result = Result(proc.returncode, out, err)
        if result.returncode not in ok:
            raise map_error(args, result.returncode, err.decode(errors="replace"), self.root)
        return result

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        ok: Sequence[int] = (0,),
        env: dict[str, str] | None = None,
    ) -> Result:
        """Run git to completion."""
        proc = self.start(*args, stdin=input is not None, env=env)
        return self.finish(proc, args, input, ok)

    @contextmanager
    def objects(self) -> Iterator[ObjectReader]:
        """One ``git cat-file --batch`` process for a series of object reads."""
        args = ("cat-file", "--batch")
        proc = self.start(*args, stdin=True)
        try:
            yield ObjectReader(proc)
        finally:
            self.finish(proc, args)  # closes stdin, which ends cat-file


@dataclass(frozen=True)
class Git(Runner):
    """A repository located once; every git process runs against it.

    ``worktree`` is ``None`` for a bare repository. ``objects_dir`` is where new loose
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


@dataclass(frozen=True)
class GitObject:
    sha: str
    type: str
    data: bytes


class ObjectReader:
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
