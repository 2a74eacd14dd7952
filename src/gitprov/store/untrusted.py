"""What a records tree from a remote may hold; anything else is left out, and named.

Everything that comes from a remote is hostile until checked: an fsck-clean remote can
still hold a submodule, a nested folder or a file named ``-rf.yaml`` in a records bucket,
a ref pointing at a blob, or a record built to exhaust its reader. The merge (``sync``)
takes, and readers (``SessionLog``) read, only entries that look exactly like what
gitprov writes: the root holds ``FORMAT`` (a file), ``xx/`` folders and ``forgotten/``; a
folder holds files ``<session id>.yaml`` whose id hashes to that folder, no larger than
:data:`~gitprov.model.limits.MAX_BLOB_BYTES`, and (checked by
:func:`gitprov.model.document.load`) a
YAML mapping within the limits. ``forgotten/`` holds ``xx/`` folders of tombstones, named as
records are, each within :data:`~gitprov.model.tombstone.MAX_TOMBSTONE_BYTES` (and checked by
:meth:`~gitprov.model.tombstone.Tombstone.load`). ``digests/``, the index of content digests,
holds only ``<aa>/<64 hex starting with aa>/<yy>/<session id whose fanout is yy>``, each the
empty file (:func:`index_problem`), no folder over :data:`MAX_INDEX_FOLDER` entries. The rest
is a :class:`LeftOut`, named once to the user.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from gitprov.errors import InvalidSessionIdError, UnknownRevisionError
from gitprov.git import Git
from gitprov.git.objects import (
    BLOB_MODE,
    GITLINK_MODE,
    SYMLINK_MODE,
    TREE_MODE,
    Entry,
    commit_tree,
    parse_tree,
)
from gitprov.git.process import zsplit
from gitprov.model.document import validate_session_id
from gitprov.model.limits import MAX_BLOB_BYTES
from gitprov.model.tombstone import MAX_TOMBSTONE_BYTES
from gitprov.store.records import DIGESTS_DIR, FORGOTTEN_DIR, FORMAT_FILE, fanout

BUCKET = re.compile(r"[0-9a-f]{2}")
#: An entry of ``ls-tree -r -l -z`` that is a record where gitprov writes one (its blob id,
#: size, folder and name less ``.yaml``), from the start of an entry: most of a listing.
_RECORD_LINE = re.compile(
    rb"(?<![^\0])100644 blob ([0-9a-f]{40}) +([0-9]+)\t([0-9a-f]{2})/([^\0/]+)\.yaml\0"
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
#: The most entries a folder of a remote's digest index may hold: an ``aa/`` folder holds one
#: per digest (16M digests in all), a ``yy/`` folder the sessions of one digest and fanout
#: (16M sessions per digest in all); a larger one is left out whole, unread below.
MAX_INDEX_FOLDER = 65_536

_KINDS = {
    BLOB_MODE: "file",
    TREE_MODE: "folder",
    GITLINK_MODE: "submodule",
    SYMLINK_MODE: "symlink",
}


class LeftOut(NamedTuple):
    """Something from elsewhere that gitprov did not take: where it is, and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def shown(path: str) -> str:
    """``path`` as it may be printed on one line (a hostile name may hold a newline)."""
    return path if path.isprintable() else repr(path)


def _kind(mode: str) -> str:
    return _KINDS.get(mode, f"mode {mode}")


def root_problem(entry: Entry) -> str | None:
    """Why a records tree's root may not hold ``entry`` (``None``: it may)."""
    if entry.name == FORMAT_FILE:
        return None if entry.mode == BLOB_MODE else f"a {_kind(entry.mode)}, not a file"
    if BUCKET.fullmatch(entry.name) or entry.name in (FORGOTTEN_DIR, DIGESTS_DIR):
        return None if entry.mode == TREE_MODE else f"a {_kind(entry.mode)}, not a folder"
    return f"neither FORMAT nor a two-hex-digit folder (nor {FORGOTTEN_DIR}/, {DIGESTS_DIR}/)"


def folder_problem(entry: Entry) -> str | None:
    """Why ``forgotten/`` may not hold ``entry`` (``None``: a folder of tombstones)."""
    if not BUCKET.fullmatch(entry.name):
        return "not a two-hex-digit folder"
    return None if entry.mode == TREE_MODE else f"a {_kind(entry.mode)}, not a folder"


def bucket_problem(bucket: str, entry: Entry) -> str | None:
    """Why the folder ``bucket`` may not hold ``entry`` (``None``: a record's name)."""
    if entry.mode != BLOB_MODE:
        return f"a {_kind(entry.mode)}, not a file"
    session_id = entry.name.removesuffix(".yaml")
    if session_id == entry.name or not _is_session_id(session_id):
        return "not named <session id>.yaml after a valid session id"
    if fanout(session_id) != bucket:
        return f"a record that belongs in folder {fanout(session_id)}/"
    return None


def index_problem(path: str, entry: Entry, empty: str) -> str | None:
    """Why the digest index may not hold ``entry`` at ``path`` (relative to
    ``digests/``; ``empty``: the id of the empty file), ``None``: it may, as a folder of
    the layout (``aa``, ``aa/hex``, ``aa/hex/yy``) or as an entry ``aa/hex/yy/session id``."""
    parts = path.split("/")
    if len(parts) > 4:
        return "deeper than <aa>/<digest>/<yy>/<session id>"
    if not BUCKET.fullmatch(parts[0]):
        return "not a two-hex-digit folder"
    if len(parts) > 1 and not (_HEX64.fullmatch(parts[1]) and parts[1].startswith(parts[0])):
        return f"not a sha256 digest (64 hex digits) starting with {parts[0]}"
    if len(parts) > 2 and not BUCKET.fullmatch(parts[2]):
        return "not a two-hex-digit folder"
    if len(parts) < 4:
        return None if entry.mode == TREE_MODE else f"a {_kind(entry.mode)}, not a folder"
    if entry.mode != BLOB_MODE:
        return f"a {_kind(entry.mode)}, not a file"
    if not _is_session_id(parts[3]):
        return "not named after a valid session id"
    if fanout(parts[3]) != parts[2]:
        return f"an entry that belongs in folder {fanout(parts[3])}/"
    return None if entry.sha == empty else "not the empty file"


def _is_session_id(name: str) -> bool:
    try:
        validate_session_id(name)
    except InvalidSessionIdError:
        return False
    return True


def object_problem(kind: str, size: int | None, limit: int = MAX_BLOB_BYTES) -> str | None:
    """Why a record's blob (or a tombstone's, ``limit`` bytes at most), an object of
    ``kind`` and ``size`` (``None``: missing), may not be read."""
    if size is None:
        return "its object is missing"
    if kind != "blob":
        return f"a {kind} object, not a file"
    if size > limit:
        return f"{size} bytes, over the {limit}-byte limit"
    return None


def object_sizes(git: Git, shas: list[str]) -> dict[str, tuple[str, int]]:
    """(type, size) of each of ``shas`` present, read without reading the objects (one
    ``cat-file --batch-check``): what a remote offers is measured before it is read."""
    if not shas:
        return {}
    listing = git.run("cat-file", "--batch-check", input="\n".join(shas).encode() + b"\n")
    found = {}
    for line in listing.text.splitlines():
        parts = line.split()  # "<sha> <type> <size>", or "<sha> missing"
        if len(parts) == 3 and parts[2].isdigit():
            found[parts[0]] = (parts[1], int(parts[2]))
    return found


class Listing(NamedTuple):
    """What a records tree holds: session ids with a record, ids with a tombstone (both
    ascending), and everything else."""

    ids: list[str]
    forgotten: list[str]
    left_out: list[LeftOut]


class Blobs(NamedTuple):
    """What a records tree holds, with blob ids: ``{session id: blob}`` of its records and
    of its tombstones, and everything else (what :func:`list_records` lists)."""

    records: dict[str, str]
    forgotten: dict[str, str]
    left_out: list[LeftOut]


def _problem(path: str, entry: Entry, kind: str, size: str) -> str | None:
    """Why the records tree may not hold ``entry`` at ``path`` (:func:`list_records`)."""
    bucket = path.rpartition("/")[0]
    if not bucket:
        return root_problem(entry)
    top, _, folder = bucket.partition("/")
    if top == FORGOTTEN_DIR and not folder:
        return folder_problem(entry)
    limit = MAX_TOMBSTONE_BYTES if top == FORGOTTEN_DIR else MAX_BLOB_BYTES
    return bucket_problem(folder or bucket, entry) or object_problem(
        kind, int(size) if size.isdigit() else None, limit
    )


#: A root with more entries than this is listed whole (its names would make a long command).
_MAX_PATHSPECS = 1024


def _beside_index(git: Git, ref: str) -> list[str]:
    """The names of the root entries of ``ref``'s tree but the folder ``digests/`` (read
    in-process); none (everything is listed) when it has no such folder, too many entries,
    or is not a commit's tree that parses."""
    with git.local_objects() as cat:
        commit = cat.read(ref)
        root = cat.read(commit_tree(commit.data)) if commit and commit.type == "commit" else None
        if root is None or root.type != "tree":
            return []
        try:
            entries = parse_tree(root.data, len(root.sha) // 2)
        except ValueError:
            return []
    index = entries.get(DIGESTS_DIR)
    if index is None or not index.is_tree or len(entries) > _MAX_PATHSPECS:
        return []  # listed whole: what is not a folder there is named
    names = list(entries)
    # a root of the index alone: a name it lacks, so that nothing is listed
    return [name for name in names if name != DIGESTS_DIR] or [FORMAT_FILE]


def list_records(git: Git, ref: str) -> Listing:
    """The session ids ``ref``'s tree holds, with a record or a tombstone, and what else
    it holds (none of it when ``ref`` does not exist): :func:`list_blobs`, ids only."""
    found = list_blobs(git, ref)
    return Listing(sorted(found.records), sorted(found.forgotten), found.left_out)


def list_blobs(git: Git, ref: str) -> Blobs:
    """The records and tombstones ``ref``'s tree holds, by session id, and what else it
    holds (none of it when ``ref`` does not exist).

    One ``git ls-tree``: names, modes, types and sizes are checked, contents are not (a
    record is parsed only when read). A folder that is left out is named, its contents
    are not; nor are those of ``digests/`` (its reader judges what it reads of it), which
    are not even listed: the root's other entries are named to ``ls-tree`` instead
    (:func:`_beside_index`), as the index holds more entries than the records.
    """
    try:
        paths = _beside_index(git, ref)
        listing = git.run(
            "--literal-pathspecs", "ls-tree", "-r", "-t", "-l", "-z", ref, "--", *paths
        )
    except UnknownRevisionError:
        return Blobs({}, {}, [])
    found: dict[bool, dict[str, str]] = {False: {}, True: {}}  # by "is a tombstone"
    left_out: list[LeftOut] = []
    skipped = "\0"  # the folder last left out, as "path/": its contents follow it

    def take(item: bytes) -> None:
        nonlocal skipped
        meta, _, raw = item.partition(b"\t")
        mode, kind, sha, size = meta.decode("ascii").split()
        path = raw.decode("utf-8", "surrogateescape")
        if path.startswith(skipped):
            return
        entry = Entry(f"{int(mode, 8):o}", path.rpartition("/")[2], sha)  # ls-tree pads modes
        problem = _problem(path, entry, kind, size)
        if problem is not None:
            left_out.append(LeftOut(f"{ref}:{shown(path)}", problem))
            skipped = f"{path}/"
        elif path == DIGESTS_DIR:
            skipped = f"{path}/"
        elif entry.mode == BLOB_MODE and "/" in path:
            tombstone = path.startswith(f"{FORGOTTEN_DIR}/")
            found[tombstone][entry.name.removesuffix(".yaml")] = sha

    out = listing.stdout
    at = 0  # what is read of it: a record as gitprov writes it at once, the rest entry by entry
    for line in _RECORD_LINE.finditer(out):
        start, at_end = line.span()
        if start != at:
            for item in zsplit(out[at:start]):
                take(item)
        at = at_end
        sha, size, bucket, name = line.groups()
        session_id = name.decode("utf-8", "surrogateescape")
        folder = bucket.decode()
        if (
            int(size) <= MAX_BLOB_BYTES
            and _is_session_id(session_id)
            and fanout(session_id) == folder
            and skipped != f"{folder}/"
        ):
            found[False][session_id] = sha.decode()
        else:  # whatever is wrong with it, said as for any entry
            take(line[0][:-1])
    for item in zsplit(out[at:]):
        take(item)
    return Blobs(found[False], found[True], left_out)
