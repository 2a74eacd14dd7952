"""Which remote a sync talks to, and the remote-tracking namespace its refs land in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from gitprov.errors import RemoteError
from gitprov.git import Git
from gitprov.model.redact import scrub_url


@dataclass(frozen=True)
class Remote:
    """A remote as git is given it (``spec``: a remote name, URL or path) and the name of
    its remote-tracking namespace (``name``).

    Only git is given ``spec``, which may hold credentials (``https://oauth2:TOKEN@...``);
    commit messages, reports and errors name the remote as :attr:`shown`.
    """

    spec: str
    name: str

    @property
    def shown(self) -> str:
        """``spec`` without credentials (:func:`scrub_url`)."""
        return scrub_url(self.spec)


def default_remote(git: Git) -> str:
    """The current branch's upstream remote, else ``origin`` (as ``git push`` would)."""
    branch = git.run("symbolic-ref", "-q", "--short", "HEAD", ok=(0, 1)).text.strip()
    if branch:
        name = git.run("config", "--get", f"branch.{branch}.remote", ok=(0, 1)).text.strip()
        if name and name != ".":
            return name
    return "origin"


def resolve_remote(git: Git, remote: str | None, cwd: Path = Path()) -> Remote:
    """A configured remote by name, or a URL/path, with its tracking namespace.

    A URL or path gets the namespace ``url-<12 hex of its SHA-1>``: stable, a valid ref
    component whatever the URL holds, and no credential of it readable in a ref name. A
    relative path is taken from ``cwd`` (``-C``).
    """
    names = git.run("remote").text.split()
    spec = default_remote(git) if remote is None else remote
    if spec in names:
        return Remote(spec, spec)
    if "://" not in spec and (cwd / spec).exists():
        spec = str((cwd / spec).resolve())
    elif "/" not in spec and ":" not in spec:
        configured = ", ".join(names) if names else "none"
        raise RemoteError(
            f"no remote named {spec!r} (configured: {configured}). Add it with "
            f"`git remote add {spec} URL`, or give a URL or a path instead"
        )
    digest = hashlib.sha1(spec.encode(), usedforsecurity=False).hexdigest()[:12]
    return Remote(spec, f"url-{digest}")
