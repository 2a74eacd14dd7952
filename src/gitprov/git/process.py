"""The one place gitprov starts git processes.

Git runs with ``-C`` and a scrubbed environment (hooks leak ``GIT_DIR`` and friends, which
would point our children at the wrong repository or index), and its failures become
:class:`~gitprov.errors.GitProvError` subclasses whose messages say how to fix them: the
classifier here (:func:`map_error`) is the only code that reads git's error text, so callers
catch :class:`~gitprov.errors.RefLockedError`, :class:`~gitprov.errors.StaleValueError` or
:class:`~gitprov.errors.UnknownRevisionError` instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from gitprov.errors import (
    GitCommandError,
    GitNotFoundError,
    NotAGitRepositoryError,
    PathRefusedError,
    RefLockedError,
    StaleValueError,
    UnknownRevisionError,
    UnsafeRepositoryError,
)
from gitprov.git.reffiles import common_dir_of

if TYPE_CHECKING:
    import subprocess  # imported when a git process starts: reading commands start none

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


def nearest_existing(path: Path) -> Path:
    """Kedro hands us ``<project>/sessions``, which usually does not exist yet."""
    path = path.absolute()
    while not path.exists():
        if path.parent == path:
            break
        path = path.parent
    return path if path.is_dir() else path.parent


# The patterns below are compiled (and cached by ``re``) when a git call first fails, not
# at start-up.
#: A lock file git found taken (a ref's, ``packed-refs``'): its holder is moving refs.
_HELD_LOCK = r"Unable to create '(.+?\.lock)': File exists"
#: ``update-ref`` finding a ref not at the old value it was given (compare-and-swap lost).
_LOST_SWAP = (
    r"cannot lock ref '[^']*': (is at \S+ but expected|reference already exists"
    r"|reference is missing|unable to resolve reference)"
)

#: ``update-index`` giving up on one path; the line before says why (``error: <path>: ...``).
_REFUSED_PATH = r"(?m)^fatal: Unable to process path (.+)$"


def map_error(args: Sequence[str], returncode: int, stderr: bytes, where: Path) -> Exception:
    """Turn a failed git call into the most specific error we know, with a fix."""
    text = stderr.decode(errors="replace").strip()
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
    held = re.search(_HELD_LOCK, text)
    if held:
        return RefLockedError(message, returncode, text, held.group(1))
    if re.search(_LOST_SWAP, text):
        return StaleValueError(message, returncode, text)
    if "Not a valid object name" in text:
        return UnknownRevisionError(message, returncode, text)
    # paths as they were handed over (``os.fsdecode``), whatever their bytes
    raw = stderr.decode("utf-8", "surrogateescape")
    path = re.search(_REFUSED_PATH, raw)
    why = path and re.search(f"^error: {re.escape(path.group(1))}: (.+)$", raw, re.M)
    if path and why:
        return PathRefusedError(message, returncode, text, path.group(1), why.group(1))
    return GitCommandError(message, returncode, text)


def _spawn(argv: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen[bytes]:
    import subprocess
    from errno import ENOEXEC

    try:
        return subprocess.Popen(argv, env=env, **kwargs)  # type: ignore[call-overload,no-any-return]
    except FileNotFoundError as exc:
        raise GitNotFoundError(
            "git is not installed or not on PATH. gitprov needs git >= 2.30: install it "
            "(e.g. `apt-get install git`) and make sure `git --version` works in this shell."
        ) from exc
    except OSError as exc:  # a `git` not executable or no program, a file on PATH
        if not isinstance(exc, (PermissionError, NotADirectoryError)) and exc.errno != ENOEXEC:
            raise
        raise GitNotFoundError(
            f"git could not be started ({exc.strerror}): PATH holds a `git` that cannot be "
            f"run or an entry that is not a folder. Fix PATH so that `git --version` works "
            f"in this shell."
        ) from exc


class Started(NamedTuple):
    """A git process started ahead of the moment its answer is needed."""

    proc: subprocess.Popen[bytes]
    args: tuple[str, ...]


class Result(NamedTuple):
    """A finished git process."""

    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "surrogateescape")


class Runner(NamedTuple):
    """Runs git in ``root``; errors name that folder. ``common_dir``, when known, is where
    the repository's shared files are (:class:`~gitprov.git.repo.Git` knows it)."""

    root: Path
    common_dir: Path | None = None

    @classmethod
    def near(cls, path: str | os.PathLike[str]) -> Runner:
        """A runner in ``path`` (or its nearest existing ancestor), without locating the
        repository first: for one-off probes, where git finds the repository itself."""
        return cls(nearest_existing(Path(path)))

    def common_dir_hint(self) -> Path | None:
        """Where the repository's shared files are, as far as can be told without git."""
        return self.common_dir if self.common_dir is not None else common_dir_of(self.root)

    def start(self, *args: str, stdin: bool = False, env: dict[str, str] | None = None) -> Started:
        """Start git without waiting, so several probes can run at once."""
        import subprocess

        proc = _spawn(
            ["git", "-C", str(self.root), *args],
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
            raise map_error(started.args, result.returncode, err, self.root)
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
