"""A repository located once: where its files are, and a runner for its git processes."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gitprov.errors import NotAGitRepositoryError
from gitprov.git.process import Result, Runner, Started, nearest_existing
from gitprov.git.reader import CatFile, LocalReader, ObjectReader


@dataclass(frozen=True)
class Git:
    """A repository located once; every git process runs against it, through ``runner``
    (in the work tree's top level, or the git dir of a bare repository).

    ``worktree`` is ``None`` for a bare repository. ``objects_dir`` is where new
    objects go (the common dir's, shared by all worktrees).
    """

    runner: Runner
    git_dir: Path
    common_dir: Path
    worktree: Path | None
    object_format: str

    @classmethod
    def discover(cls, path: str | os.PathLike[str] = ".") -> Git:
        """Find the repository containing ``path`` (or its nearest existing ancestor): the
        plainest kind without a process (:func:`_plain`), any other through git."""
        start = nearest_existing(Path(path))
        plain = _plain(start)
        if plain is not None:
            return cls(Runner(plain.parent, plain), plain, plain, plain.parent, "sha1")
        out = Runner(start).run(
            "rev-parse",
            "--is-bare-repository",
            "--is-inside-work-tree",
            "--absolute-git-dir",
            "--git-common-dir",
            "--show-object-format",
            "--is-inside-git-dir",
            "--show-cdup",  # last: in a git dir, git prints no line for it
        )
        lines = (out.text.split("\n") + [""] * 7)[:7]
        bare, inside, git_dir, common, fmt, in_git_dir, cdup = lines
        common_dir = (Path(common) if os.path.isabs(common) else start / common).resolve()
        worktree: Path | None = None
        if bare != "true":
            if inside != "true" and in_git_dir == "true":
                raise NotAGitRepositoryError(
                    f"{start} is inside a .git directory, not a work tree: point gitprov "
                    f"at the project's work tree instead."
                )
            if inside != "true":  # git's core.worktree puts the work tree elsewhere
                raise NotAGitRepositoryError(
                    f"{start} is outside the work tree of the repository {git_dir} (its "
                    f"core.worktree is {cdup or 'another folder'}): gitprov finds a repository "
                    f"from its work tree; run it in a project that holds its own .git."
                )
            worktree = (start / cdup).resolve()
        root = worktree if worktree is not None else Path(git_dir)
        return cls(Runner(root, common_dir), Path(git_dir), common_dir, worktree, fmt or "sha1")

    @property
    def root(self) -> Path:
        """Where git runs: the work tree's top level, or the git dir of a bare repo."""
        return self.runner.root

    @property
    def objects_dir(self) -> Path:
        return self.common_dir / "objects"

    def start(self, *args: str, stdin: bool = False, env: dict[str, str] | None = None) -> Started:
        """:meth:`Runner.start` in this repository."""
        return self.runner.start(*args, stdin=stdin, env=env)

    def finish(
        self, started: Started, input: bytes | None = None, ok: Sequence[int] = (0,)
    ) -> Result:
        """:meth:`Runner.finish` in this repository."""
        return self.runner.finish(started, input, ok)

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        ok: Sequence[int] = (0,),
        env: dict[str, str] | None = None,
    ) -> Result:
        """:meth:`Runner.run` in this repository."""
        return self.runner.run(*args, input=input, ok=ok, env=env)

    @contextmanager
    def objects(self) -> Iterator[ObjectReader]:
        """One ``git cat-file --batch`` process for a series of object reads."""
        started = self.start("cat-file", "--batch", stdin=True)
        try:
            proc = started.proc
            assert proc.stdin is not None and proc.stdout is not None
            yield CatFile(proc.stdin, proc.stdout)
        finally:
            self.finish(started)  # closes stdin, which ends cat-file

    @contextmanager
    def local_objects(self) -> Iterator[LocalReader]:
        """A :class:`LocalReader`: object reads that spawn nothing when they can."""
        reader = LocalReader(self)
        try:
            yield reader
        finally:
            reader.close()


#: Variables that change how git looks for a repository (or whether it trusts it) in
#: ways :func:`_plain` leaves to git.
_DISCOVERY_ENV = (
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_TEST_ASSUME_DIFFERENT_OWNER",
)


def _plain(start: Path) -> Path | None:
    """The git dir of the repository holding ``start`` when it is of the plainest kind, as
    ``git rev-parse`` would find it (a read command so starts no process); ``None``: ask
    git. Plainest: the nearest folder from ``start`` up (on one file system, no ceiling
    set) with a ``.git`` folder (not a link file: a worktree's, a submodule's), owned by
    this user as the folder is, and whose config sets no bare flag, work tree or
    extension (such as sha256 objects). A git that cannot be run is git's to report, as
    early as before (a writer is refused before its run, not at its save)."""
    from gitprov.git.writing import config_from_files, on_path

    if any(name in os.environ for name in _DISCOVERY_ENV):
        return None
    if on_path("git") is None:
        return None
    try:
        here = start.resolve()
        device = here.stat().st_dev
        for folder in (here, *here.parents):
            if folder.stat().st_dev != device or _is_git_dir(folder):
                return None  # git stops at a mount point, or start is inside a git dir
            dot = folder / ".git"
            if not os.path.lexists(dot):
                continue
            if dot.is_symlink() or not _is_git_dir(dot) or (dot / "commondir").exists():
                return None
            user = os.geteuid()
            if dot.stat().st_uid != user or folder.stat().st_uid != user:
                return None  # safe.directory's question: git's to answer
            core = config_from_files(dot, "core")
            if core is None or config_from_files(dot, "extensions") != {}:
                return None
            if core.get("core.bare", "false").lower() not in ("false", "no", "off", "0"):
                return None
            if "core.worktree" in core or core.get("core.repositoryformatversion", "0") != "0":
                return None
            return dot
    except OSError:
        return None
    return None


def _is_git_dir(folder: Path) -> bool:
    """Whether git takes ``folder`` for a git dir, as its ``is_git_directory`` does: a
    valid ``HEAD`` (:func:`_valid_head`) and ``objects/`` and ``refs/`` it may enter, or
    a ``commondir`` file (whose answer is git's to give)."""
    if not _valid_head(folder / "HEAD"):
        return False
    if (folder / "commondir").exists():
        return True
    return os.access(folder / "objects", os.X_OK) and os.access(folder / "refs", os.X_OK)


def _valid_head(head: Path) -> bool:
    """``HEAD`` as git's ``validate_headref`` accepts it: a link whose text starts with
    ``refs/``, or a file naming a ref (``ref: refs/...``) or a commit (40 hex digits
    first). A ``.git`` with any other (an empty one, left by a crash) is passed over."""
    if head.is_symlink():
        return os.readlink(head).startswith("refs/")
    try:
        fd = os.open(head, os.O_RDONLY)
    except OSError:
        return False
    try:
        text = os.read(fd, 255).partition(b"\0")[0]
    except OSError:  # a folder
        return False
    finally:
        os.close(fd)
    if text.startswith(b"ref:") and text[4:].lstrip(b" \t\n\r").startswith(b"refs/"):
        return True
    return re.match(rb"[0-9a-fA-F]{40}", text) is not None
