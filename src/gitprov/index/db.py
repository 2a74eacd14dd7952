"""The index's SQLite file, ``<git common dir>/gitprov/index.sqlite``: opened, made, or
bypassed.

Only a cache of the records: a file that is damaged or of an older format is made anew
(one warning when it was damaged); one from a newer gitprov, or locked by another process
beyond the timeout, is left alone and the index is built in memory for this process (one
warning); so is it, silently, where the git dir cannot be written or the repository is
bare. WAL mode lets readers read while one process catches the index up.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import suppress
from pathlib import Path

from gitprov.git import Git


def warn(message: str, *args: object) -> None:
    """One warning on the logger ``gitprov.index`` (logging is imported when there is one:
    not at every command's start)."""
    import logging

    logging.getLogger("gitprov.index").warning(message, *args)


#: The format of the file (``PRAGMA user_version``); another one is rebuilt, or bypassed
#: when newer. Bumped also when what a record is read as changes (6: integers beyond a
#: float's range, ``git`` keys with dots, the reader's depth and node limits), so that no
#: file keeps an answer the reader would no longer give. 8: each distinct value stored
#: once (``vals``); the record that stands for a session marked in ``recs``; statuses
#: indexed. 9: a leaf a field says exactly is no row, only a bit of ``cols``
#: (:data:`gitprov.index.extract.COLUMNED`).
FORMAT = 9
INDEX_FILE = ("gitprov", "index.sqlite")  # of the default records ref (see index_path)
#: How long a process waits for another one catching the index up (seconds).
TIMEOUT = 10.0

SCHEMA = (
    # a records ref read (local: pos 0, then fetched copies in sorted order), at which commit
    "CREATE TABLE sources (ref TEXT PRIMARY KEY, pos INTEGER NOT NULL, tip TEXT)",
    # what each source's tree holds (tomb: a tombstone), by session
    "CREATE TABLE files (ref TEXT NOT NULL, tomb INTEGER NOT NULL, sid TEXT NOT NULL, "
    "blob TEXT NOT NULL, PRIMARY KEY (ref, tomb, sid)) WITHOUT ROWID",
    "CREATE INDEX files_sid ON files (sid, tomb)",
    # what a source holds that was left out (untrusted.LeftOut), named to the caller
    "CREATE TABLE left_out (ref TEXT NOT NULL, place TEXT NOT NULL, reason TEXT NOT NULL)",
    # one parsed record (a blob read as a session's): ok = it parsed; ref = the source it
    # is listed from, when it stands for its session (else NULL: one record a session);
    # cols = the leaves its fields say, which are no rows (extract.COLUMNED)
    "CREATE TABLE recs (id INTEGER PRIMARY KEY, sid TEXT NOT NULL, blob TEXT NOT NULL, "
    "ok INTEGER NOT NULL, started REAL, started_at TEXT, duration REAL, status TEXT, "
    "commit_ TEXT, branch TEXT, dirty INTEGER, snapshot TEXT, what TEXT, user TEXT, "
    "problem TEXT, ref TEXT, cols INTEGER NOT NULL DEFAULT 0, UNIQUE (sid, blob))",
    "CREATE INDEX recs_broken ON recs (sid) WHERE ok = 0",
    # the listing, in its order
    "CREATE INDEX recs_listed ON recs (started, sid) WHERE ref IS NOT NULL",
    # the leaves worth querying (extract.in_table): each distinct value of a key once (most
    # recur: a hundred thousand records hold a few hundred thousand values, not millions),
    # and which record holds which; num: numbers, and dates as epoch seconds
    "CREATE TABLE keys (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)",
    "CREATE TABLE vals (id INTEGER PRIMARY KEY, kid INTEGER NOT NULL, kind TEXT NOT NULL, "
    "text TEXT NOT NULL, num)",
    "CREATE TABLE kv (rec INTEGER NOT NULL, kid INTEGER NOT NULL, val INTEGER NOT NULL, "
    "PRIMARY KEY (rec, kid)) WITHOUT ROWID",
)


#: Indexes of the values, of who holds them and of statuses, made after their rows on a
#: big build (much faster than row by row): ``(name, statement)``. ``vals_text`` also
#: finds a value already stored (by key, text and kind).
LATE_INDEXES = (
    ("vals_num", "CREATE INDEX IF NOT EXISTS vals_num ON vals (kid, kind, num) "
     "WHERE num IS NOT NULL"),
    ("vals_text", "CREATE INDEX IF NOT EXISTS vals_text ON vals (kid, text, kind, num)"),
    ("kv_val", "CREATE INDEX IF NOT EXISTS kv_val ON kv (val)"),
    ("recs_status", "CREATE INDEX IF NOT EXISTS recs_status ON recs (status) "
     "WHERE ref IS NOT NULL"),
)  # fmt: skip


def memory() -> sqlite3.Connection:
    """An index for this process only."""
    db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    _create(db)
    return db


def _create(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")
    for table in [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]:
        db.execute(f'DROP TABLE "{table}"')
    for statement in SCHEMA + tuple(statement for _, statement in LATE_INDEXES):
        db.execute(statement)
    db.execute(f"PRAGMA user_version = {FORMAT}")
    db.execute("COMMIT")


def damaged(exc: Exception) -> bool:
    """Whether ``exc`` says the file is damaged (a text that is not UTF-8 included)."""
    text = str(exc)
    return isinstance(exc, UnicodeDecodeError) or any(
        sign in text for sign in ("not a database", "malformed", "corrupt", "Could not decode")
    )


def remove(path: Path) -> None:
    """Delete the index file and its WAL companions (a damaged file is only a cache)."""
    for suffix in ("", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def _create_file(git: Git, path: Path) -> None:
    """The empty file, with the modes ``core.sharedRepository`` asks for (SQLite gives its
    WAL companions the same)."""
    from gitprov.git.writing import WriteRules

    rules = WriteRules.of(git)
    rules.mkdir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    os.close(fd)
    rules.adjust(path)


def index_path(git: Git, ref: str) -> Path:
    """The index file of the records ``ref``: one per records ref, as one file's sources
    are a ref and its fetched copies (two refs sharing it would rebuild it in turn)."""
    from gitprov.refs import DEFAULT_REF

    if ref == DEFAULT_REF:
        return git.common_dir.joinpath(*INDEX_FILE)
    import hashlib  # only for another ref than the default: not at every command's start

    digest = hashlib.sha256(ref.encode()).hexdigest()[:16]
    return git.common_dir.joinpath(INDEX_FILE[0], f"index-{digest}.sqlite")


def connect(git: Git, ref: str, timeout: float = TIMEOUT) -> tuple[sqlite3.Connection, bool]:
    """The index database of the records ``ref``, and whether it is only in memory."""
    if git.worktree is None:
        return memory(), True
    path = index_path(git, ref)
    for attempt in range(2):
        try:
            if not path.exists():
                _create_file(git, path)
            db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        except (OSError, sqlite3.Error):
            return memory(), True  # a read-only git dir: nothing to keep the index in
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > FORMAT:
                db.close()
                warn(
                    "gitprov: warning: the query index %s was made by a newer gitprov "
                    "(format %s); it is left as it is and this command indexes in memory",
                    path,
                    version,
                )
                return memory(), True
            if db.execute("PRAGMA journal_mode=WAL").fetchone()[0] != "wal":
                raise sqlite3.OperationalError("WAL mode is not available")
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: a lost write is a rebuild
            db.execute("PRAGMA secure_delete=ON")  # what forget purged is not kept in free pages
            if version < FORMAT:
                _create(db)
            return db, False
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            db.close()
            if damaged(exc) and attempt == 0:
                warn(
                    "gitprov: warning: the query index %s is damaged (%s); it is built anew",
                    path,
                    exc,
                )
                remove(path)
                continue
            if "locked" in str(exc) or "busy" in str(exc):
                locked(path)
            return memory(), True
    return memory(), True  # pragma: no cover - the loop returns


def locked(path: Path) -> None:
    warn(
        "gitprov: warning: the query index %s is locked by another process; this command "
        "indexes in memory",
        path,
    )
