"""The commit index: one sorted line per session in ``refs/notes/provenance``.

Each note is a YAML list whose items are flow mappings starting with ``session_id``; lines
are sorted, so ``git notes merge -s cat_sort_uniq`` merges two clones' notes correctly and
the note stays a valid YAML list. The notes tree is edited in-process (no ``git notes
add``, which has no compare-and-swap) and may use any fanout git itself writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import yaml

from gitprov.errors import CorruptRecordError
from gitprov.objects import BLOB_MODE, TREE_MODE, Entry, ObjectWriter, parse_tree

#: Fields of a note line, in order, taken from a record's ``git:`` and ``run:`` sections.
LINE_FIELDS = ("session_id", "branch", "dirty", "status", "snapshot")


def note_line(fields: Mapping[str, Any]) -> str:
    """One session's line: ``- {session_id: ..., branch: ..., dirty: ..., status: ...}``."""
    ordered = {k: fields.get(k) for k in LINE_FIELDS if fields.get(k) is not None or k == "dirty"}
    flow = yaml.safe_dump(ordered, default_flow_style=True, sort_keys=False, width=10**6)
    return "- " + flow.strip()


def with_line(note: bytes, session_id: str, line: str) -> bytes:
    """The note with ``session_id``'s line replaced (or added), lines sorted."""
    kept = [
        existing
        for existing in note.decode("utf-8", "replace").splitlines()
        if existing.strip() and _line_id(existing) != session_id
    ]
    return ("\n".join(sorted([*kept, line])) + "\n").encode("utf-8")


def _line_id(line: str) -> str | None:
    try:
        item = yaml.safe_load(line)
    except yaml.YAMLError:
        return None
    if isinstance(item, list) and item and isinstance(item[0], dict):
        value = item[0].get("session_id")
        return str(value) if value is not None else None
    return None


def parse_note(note: bytes, commit: str) -> list[dict[str, Any]]:
    """The entries of a note; an unparseable note is an error naming the commit."""
    try:
        items = yaml.safe_load(note.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CorruptRecordError(
            f"the provenance note on commit {commit} is not valid YAML ({exc}); fix it with "
            f"`git notes --ref provenance edit {commit}` (records themselves are unaffected)"
        ) from exc
    if items is None:
        return []
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and "session_id" in i for i in items
    ):
        raise CorruptRecordError(
            f"the provenance note on commit {commit} is not a list of session entries; fix it "
            f"with `git notes --ref provenance edit {commit}`"
        )
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        seen[str(item["session_id"])] = item
    return list(seen.values())


Reader = Callable[[str], bytes | None]


def find(read_tree: Reader, root: str, commit: str, hash_len: int) -> tuple[list[str], str] | None:
    """Where ``commit``'s note sits in a notes tree of any fanout: (dir path, blob id)."""
    tree_id, dirs, rest = root, list[str](), commit
    while True:
        data = read_tree(tree_id)
        if data is None:
            return None
        entries = parse_tree(data, hash_len)
        if rest in entries and not entries[rest].is_tree:
            return dirs, entries[rest].sha
        sub = entries.get(rest[:2])
        if sub is None or not sub.is_tree or len(rest) <= 2:
            return None
        tree_id, dirs, rest = sub.sha, [*dirs, rest[:2]], rest[2:]


def put(
    read_tree: Reader,
    writer: ObjectWriter,
    root: str | None,
    commit: str,
    blob: str,
) -> str:
    """A new notes tree with ``commit``'s note set to ``blob``; returns the root tree id.

    An existing note is replaced where it is (so git never sees two notes for one commit);
    a new one goes one level below the deepest existing fanout directory on its path, at
    least ``xx/`` deep, so the root never grows past 256 entries.
    """
    hash_len = writer.hash_len

    def rebuild(tree_id: str | None, rest: str, depth: int) -> str:
        data = read_tree(tree_id) if tree_id else None
        entries = parse_tree(data, hash_len) if data is not None else {}
        if rest in entries and not entries[rest].is_tree:
            entries[rest] = Entry(BLOB_MODE, rest, blob)
        else:
            sub = entries.get(rest[:2])
            if (sub is not None and sub.is_tree) or depth == 0:
                sub_id = rebuild(
                    sub.sha if sub is not None and sub.is_tree else None, rest[2:], depth + 1
                )
                entries[rest[:2]] = Entry(TREE_MODE, rest[:2], sub_id)
            else:
                entries[rest] = Entry(BLOB_MODE, rest, blob)
        return writer.tree(list(entries.values()))

    return rebuild(root, commit, 0)
