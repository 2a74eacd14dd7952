"""A repository located once: where its files are, and a runner for its git processes."""

from __future__ import annotations

import os
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
        """Find the repository containing ``path`` (or its nearest existing ancestor)."""
        start = nearest_existing(Path(path))
        out = Runner(start).run(
            "rev-parse",
            "--is-bare-repository",
            "--is-inside-work-tree",
            "--absolute-git-dir",
            "--git-common-dir",
            "--show-object-format",
            "--show-cdup",
        )
        bare, inside, git_dir, common, fmt, cdup = (out.text.split("\n") + [""] * 6)[:6]
        common_dir = (Path(common) if os.path.isabs(common) else start / common).resolve()
        worktree: Path | None = None
        if bare != "true":
            if inside != "true":
                raise NotAGitRepositoryError(
                    f"{start} is inside a .git directory, not a work tree: point gitprov "
                    f"at the project's work tree instead."
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
