"""Records that could not be written yet, kept whole until they can be.

Whatever stops a save (a stale lock, a full disk, a read-only repository, a bug) must not
cost the record: :func:`keep` puts it, with everything the save needed (refs, index line,
pins), in ``<git dir>/gitprov/spool/`` (or, when the git dir cannot take it, in the user's
cache folder). The next save, and ``gitprov recover``, write what is spooled; ``list`` and
``verify`` report it until then.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitprov.errors import CorruptRecordError, GitProvError
from gitprov.git import Git
from gitprov.git.objects import HASH_LEN
from gitprov.git.writing import WriteRules
from gitprov.model.document import load, validate_session_id
from gitprov.store.api import Note
from gitprov.store.records import RecordStore

#: The spool, under the common git dir.
SPOOL_DIR = ("gitprov", "spool")
#: A temporary file this old was left by a killed writer.
STALE_TMP_SECONDS = 3600.0
FORMAT = 1


@dataclass
class Spooled:
    """One record waiting to be written, and how (as the failed save would have)."""

    session_id: str
    ref: str
    notes_ref: str | None
    record: bytes
    error: str
    replace: bool = True
    note: tuple[str, str] | None = None  # (commit, line)
    pins: list[str] = field(default_factory=list)
    path: Path | None = None

    def to_yaml(self, repository: Path) -> bytes:
        body: dict[str, Any] = {
            "spool": FORMAT,
            "repository": str(repository),
            "session_id": self.session_id,
            "ref": self.ref,
            "notes_ref": self.notes_ref,
            "replace": self.replace,
            "note": None if self.note is None else list(self.note),
            "pins": self.pins,
            "error": self.error,
            "record": self.record.decode("utf-8", "surrogateescape"),
        }
        import yaml  # a spooled save is rare: not at start-up

        return yaml.safe_dump(body, sort_keys=False, allow_unicode=True).encode("utf-8")

    @classmethod
    def load(cls, path: Path) -> Spooled:
        import yaml

        body = yaml.safe_load(path.read_bytes())
        if not isinstance(body, dict) or body.get("spool") != FORMAT:
            raise GitProvError(f"{path} is not a gitprov spool file")
        note = body.get("note")
        return cls(
            session_id=str(body["session_id"]),
            ref=str(body["ref"]),
            notes_ref=body.get("notes_ref"),
            record=str(body["record"]).encode("utf-8", "surrogateescape"),
            error=str(body.get("error", "")),
            replace=bool(body.get("replace", True)),
            note=(str(note[0]), str(note[1])) if note else None,
            pins=[str(p) for p in body.get("pins") or []],
            path=path,
        )


def _cache_dir() -> Path:
    """The user's cache folder of spools, one folder in it per repository."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitprov" / "spool"


def _fallback_dir(git: Git) -> Path:
    """Where records go when the git dir cannot take them: the user's cache folder, one
    folder per repository."""
    import hashlib

    digest = hashlib.sha1(str(git.common_dir).encode(), usedforsecurity=False).hexdigest()
    return _cache_dir() / digest[:16]


def folders(git: Git, *, existing: bool = False) -> list[Path]:
    """The spool folders of this repository, the git dir's first; ``existing``: the cache's
    left out while the cache holds no spool at all (its name is a hash, and hashlib costs
    a ``list`` 4 ms of start-up)."""
    own = git.common_dir.joinpath(*SPOOL_DIR)
    if existing and not _cache_dir().is_dir():
        return [own]
    return [own, _fallback_dir(git)]


def keep(git: Git, rules: WriteRules, entry: Spooled) -> Path:
    """Write ``entry`` to the spool, flushed to disk; return where it is."""
    content = entry.to_yaml(git.common_dir)
    errors = []
    for index, folder in enumerate(folders(git)):
        target = folder / f"{entry.session_id}.{time.time_ns()}.yaml"
        tmp = folder / f".tmp-{os.getpid()}-{target.name}"
        try:
            if index == 0:
                rules.mkdir(folder.parent)
                rules.mkdir(folder)
            else:
                folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            try:
                os.write(fd, content)
                os.fsync(fd)
            finally:
                os.close(fd)
            rules.adjust(tmp)
            os.replace(tmp, target)
            return target
        except OSError as exc:
            errors.append(f"{folder}: {exc.strerror or exc}")
            with contextlib.suppress(OSError):
                tmp.unlink()
    raise GitProvError("cannot spool the record either (" + "; ".join(errors) + ")")


def pending(git: Git) -> list[Path]:
    """The spooled records of this repository, oldest first; temporary files a killed
    writer left are removed on the way."""
    found: list[Path] = []
    now = time.time()
    for folder in folders(git, existing=True):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if e.name.startswith(".tmp-"):
                with contextlib.suppress(OSError):
                    if now - e.stat().st_mtime > STALE_TMP_SECONDS:
                        os.unlink(e.path)
            elif e.name.endswith(".yaml"):
                found.append(Path(e.path))
    return sorted(found, key=lambda p: p.name.rsplit(".", 2)[-2])


def _checked(entry: Spooled, hash_len: int) -> Spooled:
    """``entry`` if everything it would write is well formed (a spool file is a file
    anyone could have edited, and its ids become tree entries and parents)."""
    object_id = re.compile(f"[0-9a-f]{{{hash_len * 2}}}")
    validate_session_id(entry.session_id)
    for ref in (entry.ref, entry.notes_ref):
        if ref is not None and not ref.startswith("refs/"):
            raise GitProvError(f"{ref!r} is not a full ref name")
    for sha in [*entry.pins, *([entry.note[0]] if entry.note else [])]:
        if not object_id.fullmatch(sha):
            raise GitProvError(f"{sha!r} is not an object id of this repository")
    if entry.note is not None:
        from gitprov.store import notes

        parsed = notes.parse_line(entry.note[1])
        if parsed is None or parsed["session_id"] != entry.session_id:
            raise GitProvError(f"its index line is not {entry.session_id}'s")
    return entry


def write_all(
    git: Git, rules: WriteRules, *, replace: bool = False
) -> tuple[list[str], list[tuple[Path, str]]]:
    """Write every spooled record as its save would have (``replace``: also over a record
    the id got meanwhile); return the ids written and the entries that still fail (with
    why). A pin whose commit git no longer has is dropped: a parent that does not exist
    would corrupt the ref."""
    import yaml

    from gitprov.model.digests import record_digests

    written: list[str] = []
    failed: list[tuple[Path, str]] = []
    for path in pending(git):
        try:
            entry = _checked(Spooled.load(path), HASH_LEN[git.object_format])
            store = RecordStore(git, entry.ref, entry.notes_ref, rules)
            with git.local_objects() as cat:
                pins = [pin for pin in entry.pins if cat.read(pin) is not None]
            note = Note(*entry.note) if entry.note else None
            try:  # indexed as its save would have; a record that does not parse is not
                digests = record_digests(load(entry.record, entry.session_id, str(path)))
            except CorruptRecordError:
                digests = []
            store.save(
                entry.session_id,
                entry.record,
                note=note,
                pins=pins,
                replace=entry.replace or replace,
                digests=digests,
            )
        except (GitProvError, OSError, yaml.YAMLError, KeyError, TypeError, IndexError) as exc:
            failed.append((path, str(exc)))
            continue
        path.unlink(missing_ok=True)
        written.append(entry.session_id)
    return written, failed


def notice(git: Git) -> str | None:
    """One line about records spooled and not yet written, if there are any."""
    waiting = pending(git)
    if not waiting:
        return None
    return (
        f"{len(waiting)} record(s) are spooled and not yet written ({waiting[0].parent}); "
        f"`gitprov recover` writes them"
    )
