"""Where a run ran and who ran it: interpreter, platform, host, the versions of the
project's own dependencies, and the git user.

Only the packages the project declares are listed (``[project] dependencies`` in its
``pyproject.toml`` and its ``requirements.txt``), not all of site-packages: that keeps a
record compact and names exactly what a reader needs to rebuild the environment.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import re
import socket
from pathlib import Path
from typing import Any

from gitprov.git import Git
from gitprov.git.writing import config_from_files, parse_config
from gitprov.model.sections import GitUser, Host

#: Files that declare a project's dependencies; the nearest folder holding one is the project.
MARKERS = ("pyproject.toml", "requirements.txt")

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def host() -> Host:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def git_user(git: Git) -> GitUser:
    """``user.name`` and ``user.email`` as git would sign a commit with them (OS users are
    often all ``root`` in containers): read from the config files in-process, from ``git
    config`` only when they hold what only git can tell (includes, quoting)."""
    found = config_from_files(git.common_dir, "user")
    if found is None:
        pattern = r"^user\.(name|email)$"
        found = parse_config(git.run("config", "-z", "--get-regexp", pattern, ok=(0, 1)).stdout)
    return {"name": found.get("user.name"), "email": found.get("user.email")}


def find_project(start: str | os.PathLike[str], stop: str | os.PathLike[str]) -> Path | None:
    """The nearest folder from ``start`` up to ``stop`` (the work tree) with a marker file."""
    path = Path(start).absolute()
    top = Path(stop).absolute()
    while not path.is_dir() and path != path.parent:
        path = path.parent
    for folder in (path, *path.parents):
        if any((folder / marker).is_file() for marker in MARKERS):
            return folder
        if folder == top:
            break
    return None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(lines: list[str]) -> list[str]:
    """Distribution names from requirement lines (options, URLs and comments skipped)."""
    names = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-") or "://" in line.split("@", 1)[0]:
            continue
        match = _NAME.match(line)
        if match:
            names.append(match.group(1))
    return names


def _text(path: Path) -> str:
    """A declaration file's text; an unreadable one declares nothing (never fails a save)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _declared(project: Path) -> list[str]:
    names: list[str] = []
    pyproject = _text(project / "pyproject.toml")
    if pyproject:
        import tomllib  # the project's declared dependencies, from its pyproject.toml

        try:
            table: dict[str, Any] = tomllib.loads(pyproject)
        except tomllib.TOMLDecodeError:
            table = {}
        section = table.get("project")
        dependencies = section.get("dependencies") if isinstance(section, dict) else None
        if isinstance(dependencies, list):
            names += _requirement_names([str(d) for d in dependencies])
    names += _requirement_names(_text(project / "requirements.txt").splitlines())
    return names


@functools.lru_cache(maxsize=8)
def _packages(project: Path, stamp: tuple[int, ...]) -> dict[str, str | None]:
    """Cached per declaration files' mtimes: the lookups cost milliseconds per package."""
    versions: dict[str, str | None] = {}
    for name in _declared(project):
        key = _canonical(name)
        if key in versions:
            continue
        try:
            versions[key] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[key] = None  # declared but not installed: worth knowing too
    return dict(sorted(versions.items()))


def packages(project: str | os.PathLike[str]) -> dict[str, str | None]:
    """``{name: version}`` of the packages ``project`` declares; ``None`` if not installed."""
    folder = Path(project).absolute()
    stamp = tuple(
        (folder / marker).stat().st_mtime_ns if (folder / marker).is_file() else 0
        for marker in MARKERS
    )
    return dict(_packages(folder, stamp))
