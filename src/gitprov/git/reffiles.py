"""Refs read straight from the files ref store, without a process.

Answers here are hints that save a process: ``None`` or "not known" sends the caller to
git, which stays the authority (a reftable store, a symbolic ref, anything unexpected).
A stale answer is harmless: refs are only ever moved by compare-and-swap.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: A full object id (SHA-1 or SHA-256), as ref files hold them.
HEX_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


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
        return (True, text) if HEX_ID.fullmatch(text) else (False, None)
    try:
        packed = (common_dir / "packed-refs").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return True, None
    suffix = " " + ref
    for line in packed.splitlines():
        if line.endswith(suffix) and HEX_ID.fullmatch(line[: -len(suffix)]):
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
