"""The commit index: one sorted line per session in ``refs/notes/provenance``.

Each note is a YAML list whose items are flow mappings starting with ``session_id``; lines
are sorted, so ``git notes merge -s cat_sort_uniq`` merges two clones' notes correctly and
the note stays a valid YAML list. The notes tree is edited in-process (no ``git notes
add``, which has no compare-and-swap) and may use any fanout git itself writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from gitprov.errors import CorruptRecordError, InvalidSessionIdError
from gitprov.git.objects import BLOB_MODE, TREE_MODE, Entry, ObjectWriter
from gitprov.model.document import dumper, validate_session_id
from gitprov.model.limits import MAX_BLOB_BYTES, MAX_NOTE_LINE, load_yaml

#: Fields of a note line, in order, taken from a record's ``git:`` and ``run:`` sections.
LINE_FIELDS = ("session_id", "branch", "dirty", "status", "snapshot")

#: Hex digits of the snapshot id a line shows (the record keeps the full id).
SHORT = 12


def note_line(fields: Mapping[str, Any]) -> str:
    """One session's line: ``- {session_id: ..., branch: ..., dirty: ..., status: ...}``."""
    ordered = {k: fields.get(k) for k in LINE_FIELDS if fields.get(k) is not None or k == "dirty"}
    import yaml

    flow = yaml.dump(
        ordered, Dumper=dumper(), default_flow_style=True, sort_keys=False, width=10**6
    )
    return "- " + flow.strip()


def with_line(note: bytes, session_id: str, line: str) -> bytes:
    """The note with ``session_id``'s line replaced (or added), lines sorted."""
    kept = [
        existing
        for existing in note.decode("utf-8", "replace").splitlines()
        if existing.strip() and _line_id(existing) != session_id
    ]
    return ("\n".join(sorted([*kept, line])) + "\n").encode("utf-8")


# A line as ``note_line`` writes it: plain or single-quoted scalars only. Such lines are
# read with these expressions; anything else goes through YAML (the pure-Python parser costs
# ~0.5 ms a line, which would make saves and lookups slow on a busy commit). ``safe_dump``
# quotes every string that YAML would read as another type, so a plain token is a string
# unless it is true, false or null.
_PLAIN = r"[^\s,'\":{}\[\]&*!|>%@`?#-][^\s,'\":{}\[\]]*"
_VALUE = rf"'[^'\n]*'|-?{_PLAIN}"
_LINE = re.compile(rf"- \{{session_id: (?:{_VALUE})(?:, [a-z_]+: (?:{_VALUE}))*\}}")
_FIELD = re.compile(rf"([a-z_]+): ({_VALUE})")
_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None}


def _scalar(token: str) -> Any:
    if token.startswith("'"):
        return token[1:-1]
    return _CONSTANTS.get(token, token)


def parse_line(line: str) -> dict[str, Any] | None:
    """The entry a note line holds, or ``None`` if it is not a session entry (a flow
    mapping whose ``session_id`` is a valid id). Notes come from any remote: a line longer
    than :data:`MAX_NOTE_LINE` or beyond the YAML limits is not read at all."""
    if len(line) > MAX_NOTE_LINE:
        return None
    if _LINE.fullmatch(line):
        entry = {key: _scalar(token) for key, token in _FIELD.findall(line[3:-1])}
    else:
        try:
            item = load_yaml(line)
        except ValueError:
            return None
        if not (isinstance(item, list) and len(item) == 1 and isinstance(item[0], dict)):
            return None
        entry = {str(k): v for k, v in item[0].items()}
    if entry.get("session_id") is None:
        return None
    try:
        return entry | {"session_id": validate_session_id(str(entry["session_id"]))}
    except InvalidSessionIdError:
        return None


_FIRST = re.compile(rf"- \{{session_id: ({_VALUE})[,}}]")


def _line_id(line: str) -> str | None:
    """The session id of a note line, reading no more of it than needed."""
    if len(line) <= MAX_NOTE_LINE and _LINE.fullmatch(line):
        first = _FIRST.match(line)
        assert first is not None
        return str(_scalar(first.group(1)))
    entry = parse_line(line)
    return None if entry is None else str(entry["session_id"])


def note_entries(note: bytes, commit: str, bad: list[str] | None = None) -> list[dict[str, Any]]:
    """The sessions a note lists (one entry per id).

    What is not a session entry (a line, or the whole note when it is over
    :data:`MAX_BLOB_BYTES` or not UTF-8) is an error naming the commit, or, given ``bad``,
    described there and skipped: a fetched note must not hide the entries beside it.
    """
    problems: list[str] = []
    entries: dict[str, dict[str, Any]] = {}
    if len(note) > MAX_BLOB_BYTES:
        problems.append(f"is {len(note)} bytes, over the {MAX_BLOB_BYTES}-byte limit")
    else:
        try:
            text = note.decode("utf-8")
        except UnicodeDecodeError:
            problems.append("is not UTF-8")
            text = ""
        for number, line in enumerate(text.splitlines(), 1):
            entry = parse_line(line) if line.strip() else {}
            if entry is None:
                problems.append(f"line {number} is not a session entry ({line[:60]!r})")
            elif entry:
                entries.setdefault(entry["session_id"], entry)
    if bad is not None:
        bad += (f"the provenance note on commit {commit}: {p}" for p in problems)
    elif problems:
        raise CorruptRecordError(
            f"the provenance note on commit {commit}: {problems[0]}; fix it with "
            f"`git notes --ref provenance edit {commit}` (records themselves are unaffected)"
        )
    return list(entries.values())


#: A tree's entries by id, as a dict the caller may change (empty when there is no tree).
Reader = Callable[[str], dict[str, Entry]]


def find(read_tree: Reader, root: str, commit: str) -> tuple[list[str], str] | None:
    """Where ``commit``'s note sits in a notes tree of any fanout: (dir path, blob id)."""
    tree_id, dirs, rest = root, list[str](), commit
    while True:
        entries = read_tree(tree_id)
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

    def rebuild(tree_id: str | None, rest: str, depth: int) -> str:
        entries = read_tree(tree_id) if tree_id else {}
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
