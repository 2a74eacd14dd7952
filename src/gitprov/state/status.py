"""What code is checked out: the record's ``git:`` section.

One ``git status --porcelain=v2 --branch -z`` gives the commit, branch, upstream,
ahead/behind and every changed path; remotes and ``describe`` come from two more probes that
run at the same time, so the whole capture costs about one ``git status``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, cast

from gitprov.git.process import Runner, zsplit
from gitprov.git.reffiles import has_refs_under
from gitprov.model.redact import scrub_url
from gitprov.model.sections import UNTRACKED_MODES, Captured, Change, ChangeStatus

#: How many changed paths a record lists by default; ``change_count`` keeps the true count.
MAX_CHANGES = 1000

_STATUS: dict[str, ChangeStatus] = {
    "M": "modified",
    "A": "added",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "typechange",
}


class Status(TypedDict):
    """What one ``git status`` says (the rest of :class:`Captured` comes from probes)."""

    commit: str | None
    branch: str | None
    detached: bool
    upstream: str | None
    ahead: int | None
    behind: int | None
    dirty: bool
    changes: list[Change]


def _change(kind: bytes, fields: list[bytes], extra: bytes | None) -> Change:
    def text(b: bytes) -> str:
        return os.fsdecode(b)

    if kind == b"?":
        return {"path": text(fields[0]), "status": "untracked"}
    if kind == b"u":
        return {"path": text(fields[9]), "status": "conflicted"}
    xy, sub = fields[0].decode(), fields[1].decode()
    path = text(fields[7] if kind == b"1" else fields[8])
    if sub.startswith("S"):
        return {"path": path, "status": "submodule"}
    code = xy[0] if xy[0] != "." else xy[1]
    change: Change = {"path": path, "status": _STATUS.get(code, "modified")}
    if kind == b"2" and extra is not None:
        change["from"] = text(extra)
    return change


def parse_status(data: bytes) -> Status:
    """Parse ``status --porcelain=v2 --branch -z`` output into the record's fields."""
    info = Status(
        commit=None,
        branch=None,
        detached=False,
        upstream=None,
        ahead=None,
        behind=None,
        dirty=False,
        changes=[],
    )
    changes = info["changes"]
    items = iter(zsplit(data))
    for item in items:
        if item.startswith(b"# "):
            key, _, value = item[2:].decode("utf-8", "surrogateescape").partition(" ")
            if key == "branch.oid":
                info["commit"] = None if value == "(initial)" else value
            elif key == "branch.head":
                info["detached"] = value == "(detached)"
                info["branch"] = None if info["detached"] else value
            elif key == "branch.upstream":
                info["upstream"] = value
            elif key == "branch.ab":
                ahead, behind = value.split()
                info["ahead"], info["behind"] = int(ahead), -int(behind)
            continue
        kind = item[:1]
        if kind == b"!":
            continue
        if kind == b"?":
            fields = [item[2:]]
        else:
            maxsplit = {b"1": 7, b"2": 8, b"u": 9}.get(kind, 7)
            fields = item[2:].split(b" ", maxsplit)
        extra = next(items, None) if kind == b"2" else None
        changes.append(_change(kind, fields, extra))
    info["dirty"] = bool(changes)
    return info


def _remotes(data: bytes) -> dict[str, str]:
    remotes: dict[str, str] = {}
    for item in zsplit(data):
        key, _, url = item.decode("utf-8", "surrogateescape").partition("\n")
        name = key[len("remote.") : -len(".url")]
        remotes.setdefault(name, scrub_url(url))
    return remotes


_DESCRIBE = ("describe", "--tags", "--long", "--always")
_REMOTES = ("config", "-z", "--get-regexp", r"^remote\..*\.url$")


_SECTION = re.compile(r'\s*\[\s*([A-Za-z0-9.-]+)(?:\s+"([^"\\]*)")?\s*\]\s*')
_URL = re.compile(r"\s*url\s*=\s*([^\s\"';#\\]+)\s*", re.IGNORECASE)


def plain_remotes(common_dir: Path | None) -> dict[str, str] | None:
    """``remote.*.url`` read from the repository's config file, or ``None`` to ask git.

    Only a file git itself would have written counts: any include, quoting, escape,
    continuation or odd line sends the question to ``git config`` (which also sees the
    global and system files, where remotes almost never live).
    """
    if common_dir is None:
        return None
    try:
        text = (common_dir / "config").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    remotes: dict[str, str] = {}
    section: tuple[str, str | None] = ("", None)
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        header = _SECTION.fullmatch(line)
        if header:
            name = header.group(1).lower()
            if name.startswith("include") or (header.group(2) is None and "." in name):
                return None
            section = (name, header.group(2))
            continue
        if section[0] != "remote" or section[1] is None:
            continue
        if stripped.lower().startswith("url"):
            url = _URL.fullmatch(line)
            if url is None:
                return None
            remotes.setdefault(section[1], scrub_url(url.group(1)))
        elif "\\" in stripped or '"' in stripped:
            return None
    return remotes


@dataclass(frozen=True)
class Static:
    """What rarely changes during a run: ``git describe`` (of HEAD then) and the remotes.

    A session store reads these when it is built, so that its ``save()`` needs only
    ``git status``; a changed HEAD is described again.
    """

    described: str
    remotes: dict[str, str]

    @classmethod
    def read(cls, git: Runner) -> Static:
        # No describe at all in a repository without tags (it could only print the
        # abbreviated sha), no config process when the repository's own config file says
        # plainly what the remotes are; what is left runs side by side.
        common = git.common_dir_hint()
        tags = has_refs_under(common, "refs/tags/")
        remotes = plain_remotes(common)
        describe_p = git.start(*_DESCRIBE) if tags is not False else None
        remote_p = git.start(*_REMOTES) if remotes is None else None
        described = git.finish(describe_p, ok=(0, 128)) if describe_p else None
        if remote_p is not None:
            remotes = _remotes(git.finish(remote_p, ok=(0, 1)).stdout)
        ok = described is not None and described.returncode == 0
        return cls(described.text.strip() if ok and described else "", remotes or {})

    def describes(self, commit: str | None) -> bool:
        """Whether ``described`` was taken on ``commit`` (nothing to describe counts)."""
        abbrev = self.described.rsplit("-g", 1)[-1]
        return commit is None or not abbrev or commit.startswith(abbrev)


def probe(
    git: Runner,
    untracked: str = "all",
    static: Static | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Captured:
    """The ``git:`` section with every changed path (uncapped: snapshots need them all).

    ``meanwhile`` runs while ``git status`` does, for work that does not need its answer.
    """
    if untracked not in UNTRACKED_MODES:
        raise ValueError(
            f"untracked must be one of {', '.join(UNTRACKED_MODES)}, not {untracked!r}"
        )
    status_args = (
        "--no-optional-locks",
        "status",
        "--porcelain=v2",
        "--branch",
        "-z",
        f"--untracked-files={untracked}",
    )
    status_p = git.start(*status_args)
    fresh = Static.read(git) if static is None else static
    if meanwhile is not None:
        meanwhile()
    info = parse_status(git.finish(status_p).stdout)
    if info["commit"] is not None and not fresh.describes(info["commit"]):
        fresh = Static.read(git)  # HEAD moved since the static facts were read
    # ``--long --always`` prints ``<tag>-<n>-g<abbrev>``, or just git's own abbreviation of
    # the commit when there is no tag: either way the short sha Kedro's readers expect.
    tagged = re.fullmatch(r"(.+)-\d+-g([0-9a-f]+)", fresh.described)
    short = None
    if info["commit"] is not None:
        short = tagged.group(2) if tagged else (fresh.described or info["commit"][:7])
    return Captured(
        commit_sha=short,
        dirty=info["dirty"],
        commit=info["commit"],
        branch=info["branch"],
        detached=info["detached"],
        upstream=info["upstream"],
        ahead=info["ahead"],
        behind=info["behind"],
        change_count=len(info["changes"]),
        changes=info["changes"],
        remotes=fresh.remotes,
        describe=fresh.described if tagged else None,
    )


def capped(section: Captured, max_changes: int = MAX_CHANGES) -> Captured:
    """``section`` with at most ``max_changes`` paths listed (``change_count`` stays true)."""
    return cast(Captured, {**section, "changes": section["changes"][:max_changes]})


def capture(
    path: str | os.PathLike[str] = ".", *, untracked: str = "all", max_changes: int = MAX_CHANGES
) -> Captured:
    """Capture the git state of the repository containing ``path`` (the ``git:`` section).

    Git finds the repository itself (paths stay relative to its root), so this costs the
    three probes, run side by side, and nothing else.
    """
    return capped(probe(Runner.near(path), untracked), max_changes)
