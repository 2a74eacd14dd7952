"""The merge of two clones' provenance, as pure functions of plain mappings.

No git and no I/O here: the engine (:mod:`gitprov.sync.engine`) reads both sides and their
merge base into mappings (session id -> record blob, commit -> note blob), vets what the
remote offers (:func:`offered`), hands over the bytes the merge needs, and writes what
comes back. Every rule of the merge is tested on dictionaries (``tests/test_merge.py``).

One three-way rule (:func:`three_way`) decides per record and per note: a side unchanged
since the base gives way to the other, both changed alike is one change, and nothing is
ever deleted (what the remote lacks stays here). Where both changed differently, a record
keeps ours under its id and theirs as a copy under :func:`conflict_id`; a note takes the
lines of both, sorted and de-duplicated (``git notes merge -s cat_sort_uniq``). Nothing
named by a tombstone is taken, and of a remote's note only the lines that are session
entries are. The digest index (``digests/``) is a plain union (:func:`merge_index`): an
entry is a name pointing at the empty file, the same name on both sides is the same entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from gitprov.git.objects import Entry
from gitprov.model.document import dump, load, validate_session_id
from gitprov.store.notes import parse_line
from gitprov.store.untrusted import index_problem

V = TypeVar("V", bound=Hashable)

#: Which side's version a merge keeps: ours, theirs, or both (they changed differently).
Side = Literal["ours", "theirs", "both"]
#: What a ref's merge does: nothing new on the remote, move to its tip, or merge.
Action = Literal["none", "fast-forward", "merge"]


class Lookup(Protocol):
    """A side as the merge reads it: the value of one key (``None``: absent). A dict is
    one; the engine's reads a fanout folder of records when it is first asked."""

    def get(self, key: str, /) -> str | None: ...


def three_way(base: V | None, ours: V | None, theirs: V | None) -> Side:
    """The one merge rule, per record and per note (``None``: absent on that side).

    Theirs absent, equal to ours, or unchanged since the base: ours. Ours absent or
    unchanged since the base: theirs. Both changed, differently: both.
    """
    if theirs is None or theirs in (ours, base):
        return "ours"
    if ours is None or ours == base:
        return "theirs"
    return "both"


def offered(base: Lookup, ours: Lookup, theirs: Mapping[str, str]) -> list[str]:
    """The keys whose value the merge would take from ``theirs`` (alone or beside ours), in
    ``theirs``' order: what has to be vetted before it may be taken."""
    return [k for k, v in theirs.items() if three_way(base.get(k), ours.get(k), v) != "ours"]


def plan(local: str | None, remote: str | None, bases: list[str]) -> Action:
    """What merging the tip ``remote`` into ``local`` takes (``bases``: their merge bases)."""
    if remote is None or local == remote or remote in bases:
        return "none"
    if local is None or local in bases:
        return "fast-forward"
    return "merge"


@dataclass
class Merged:
    """What a merge changes on our side.

    ``changes``: key -> the value it now holds (a blob id); ``blobs``: the new blobs those
    name (id -> bytes), for the caller to write; ``conflicts``: (session id, the id of the
    remote's copy); ``left_out``: (key, why) for what the remote offered and was not taken.
    """

    changes: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)

    def made(self, key: str, data: bytes, blob_id: Callable[[bytes], str]) -> None:
        """Set ``key`` to a new blob of ``data``."""
        blob = self.changes[key] = blob_id(data)
        self.blobs[blob] = data


def merge_records(
    base: Lookup,
    ours: Lookup,
    theirs: Mapping[str, str],
    *,
    remote: str,
    contents: Mapping[str, bytes],
    blob_id: Callable[[bytes], str],
    refused: Mapping[str, str] | None = None,
    forgotten: Container[str] = (),
) -> Merged:
    """Three-way merge of records (session id -> blob id).

    ``refused``: the offered ids the caller's vetting refused (id -> why), left out;
    ``forgotten``: ids with a tombstone, never taken; ``contents``: the bytes of the
    remote's blobs of the other offered ids (a conflict copy is made of them); ``remote``
    names the copies (:func:`conflict_id`).
    """
    refused = refused or {}
    result = Merged()
    both: list[str] = []
    for session_id in offered(base, ours, theirs):
        if session_id in refused:
            result.left_out.append((session_id, refused[session_id]))
        elif session_id in forgotten:
            continue  # a stale copy of a forgotten record: never taken back
        elif three_way(base.get(session_id), ours.get(session_id), theirs[session_id]) == "both":
            both.append(session_id)
        else:
            result.changes[session_id] = theirs[session_id]
    for session_id in both:
        blob = theirs[session_id]
        for digits in (8, 16, len(blob)):  # longer only if 8 hex digits ever collide
            copy = conflict_id(session_id, remote, blob, digits)
            data = as_copy(contents[blob], session_id, copy)
            kept = blob_id(data)
            held = result.changes.get(copy, ours.get(copy))
            if held in (None, kept):
                break
        if held != kept:  # else this very copy is here already
            result.made(copy, data, blob_id)
            result.conflicts.append((session_id, copy))
    return result


def conflict_id(session_id: str, remote_name: str, blob: str, digits: int = 8) -> str:
    """The id a remote's differing copy of ``session_id`` is kept under.

    ``<id>+<remote>-<blob prefix>``: a valid session id (shortened to fit 128 characters),
    the same for the same copy in every merge (so it is never added twice), and it says
    where the copy came from.
    """
    tag = re.sub(r"[^A-Za-z0-9_@-]+", "-", remote_name).strip("-")[:32] or "remote"
    suffix = f"+{tag}-{blob[:digits]}"
    return validate_session_id(session_id[: 128 - len(suffix)] + suffix)


def as_copy(data: bytes, session_id: str, copy: str) -> bytes:
    """The record ``data`` of ``session_id`` as its conflict copy ``copy``: its own id in
    ``session_id``, the id it conflicts with in ``conflict_of``.

    Only the leading ``session_id`` line is rewritten, so the rest stays byte for byte and
    one copy always makes one blob (never added twice); a record laid out otherwise goes
    through YAML, as deterministically.
    """
    ids = {"session_id": copy, "conflict_of": session_id}
    first = dump({"session_id": session_id})
    if data.startswith(first) and b"\nconflict_of:" not in data:
        return dump(ids) + data[len(first) :]
    record = load(data, session_id, f"the conflict copy {copy}")
    return dump(ids | {k: v for k, v in record.items() if k not in ids})


def merge_notes(
    base: Lookup,
    ours: Lookup,
    theirs: Mapping[str, str],
    *,
    contents: Mapping[str, bytes],
    blob_id: Callable[[bytes], str],
    refused: Mapping[str, str] | None = None,
) -> Merged:
    """Three-way merge of notes (commit -> note blob), line-wise as ``cat_sort_uniq``.

    Of a note the remote changed, only its lines that are session entries are taken (the
    others are left out, counted, one quoted); where ours changed too, the note holds the
    lines of both, sorted and de-duplicated. ``contents``: the bytes of the remote's
    offered blobs not ``refused``, and of our blobs on those commits.
    """
    refused = refused or {}
    result = Merged()
    for commit in offered(base, ours, theirs):
        blob = theirs[commit]
        if commit in refused:
            result.left_out.append((commit, refused[commit]))
            continue
        try:
            text = contents[blob].decode("utf-8")
        except UnicodeDecodeError:
            result.left_out.append((commit, "not UTF-8"))
            continue
        kept: list[str] = []
        bad: list[str] = []
        for line in text.splitlines():
            if line.strip():
                (bad if parse_line(line) is None else kept).append(line)
        if bad:
            why = f"{len(bad)} line(s) not session entries, such as {bad[0][:60]!r}"
            result.left_out.append((commit, why))
        if not kept:
            continue
        mine = ours.get(commit)
        if mine is not None and three_way(base.get(commit), mine, blob) == "both":
            result.made(commit, note_union(contents[mine], *kept), blob_id)
        elif bad:
            result.made(commit, ("\n".join(kept) + "\n").encode(), blob_id)
        else:
            result.changes[commit] = blob
    return result


def note_union(note: bytes, *lines: str) -> bytes:
    """The lines of ``note`` and ``lines``, sorted and de-duplicated (blank ones dropped)."""
    text = note.decode("utf-8", "surrogateescape")
    union = {line for line in (*text.splitlines(), *lines) if line.strip()}
    return ("\n".join(sorted(union)) + "\n").encode("utf-8", "surrogateescape")


def merge_index(ours: Container[str], theirs: Mapping[str, Entry], *, empty: str) -> Merged:
    """Union of digest index entries (paths relative to ``digests/``, :func:`index_problem`).

    ``theirs``: what the remote's index holds where it changed (entries, and what stands
    where gitprov writes folders but is not one); ``ours``: the paths of ours among them;
    ``empty``: the id of the empty file. ``changes``: the entries ours lacks (path -> the
    empty file); ``left_out``: what is not an entry gitprov writes, with why. Nothing of
    ours is removed.
    """
    result = Merged()
    for path, entry in sorted(theirs.items()):
        problem = index_problem(path, entry, empty)
        if problem is not None:
            result.left_out.append((path, problem))
        elif path.count("/") == 3 and path not in ours:
            result.changes[path] = empty
    return result
