"""The record's sections as types: what gitprov writes, named once.

A record is one YAML mapping: the session's own keys (Kedro's, or the user's), then
:class:`GitSection` (or :class:`GitError` when the state could not be captured) and
:class:`Provenance`; ``run:`` is a :class:`RunSection`, built for every entry point by
:mod:`gitprov.model.run`. ``record.schema.json`` says the same for readers in any language;
a test holds the two together. Records read back from a ref come from anyone, so readers
keep them as plain mappings and check what they use.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Literal, TypedDict, get_args

#: How records write a time: UTC with milliseconds (``2026-11-24T10:31:02.117Z``).
TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def now_utc() -> str:
    """A UTC timestamp with milliseconds, as Kedro prints its ids."""
    stamp = dt.datetime.now(dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


#: How a run ended: on its own (``success``, ``failed``) or cut short (``interrupted``:
#: Ctrl-C, SIGTERM, SIGHUP, a kill).
RunStatus = Literal["success", "failed", "interrupted"]
SUCCESS: Final = "success"
FAILED: Final = "failed"
INTERRUPTED: Final = "interrupted"
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)

#: What happened to a path, as ``git status`` says (``submodule``: any change inside one).
ChangeStatus = Literal[
    "modified",
    "added",
    "deleted",
    "renamed",
    "copied",
    "typechange",
    "untracked",
    "conflicted",
    "submodule",
]
CHANGE_STATUSES: tuple[ChangeStatus, ...] = get_args(ChangeStatus)

#: What a dirty work tree does to a run, and what it did.
DirtyPolicy = Literal["allow", "warn", "refuse"]
DIRTY_POLICIES: tuple[DirtyPolicy, ...] = get_args(DirtyPolicy)
PolicyOutcome = Literal["clean", "dirty-allowed", "dirty-warned"]
CLEAN: Final = "clean"
DIRTY_ALLOWED: Final = "dirty-allowed"
DIRTY_WARNED: Final = "dirty-warned"

#: Which untracked files ``git status`` lists (its ``--untracked-files``).
UntrackedMode = Literal["all", "normal", "no"]
UNTRACKED_MODES: tuple[UntrackedMode, ...] = get_args(UntrackedMode)


class _Change(TypedDict):
    path: str
    status: ChangeStatus


#: ``from`` is a keyword, so the old path of a rename or copy is declared this way.
_Moved = TypedDict("_Moved", {"from": str}, total=False)


class Change(_Change, _Moved):
    """One path that differs from HEAD; ``from`` where a rename or copy came from."""


class _Skipped(TypedDict):
    path: str
    reason: str


class Skipped(_Skipped, total=False):
    """A file a snapshot left out, and why (``size`` when its size was the reason)."""

    size: int


class PolicySection(TypedDict):
    dirty: DirtyPolicy
    require_pushed: bool
    outcome: PolicyOutcome


class Captured(TypedDict):
    """What :func:`gitprov.capture` reads of the work tree: the code checked out."""

    commit_sha: str | None  # short, as Kedro writes it; None on an unborn branch
    dirty: bool
    commit: str | None
    branch: str | None  # None when detached
    detached: bool
    upstream: str | None
    ahead: int | None
    behind: int | None
    change_count: int  # the true count, even when ``changes`` is capped
    changes: list[Change]
    remotes: dict[str, str]  # credentials removed
    describe: str | None


class _Recorded(Captured):
    snapshot: str | None  # the commit holding the exact tree of a dirty run
    policy: PolicySection


class GitSection(_Recorded, total=False):
    """``git:``: the code that ran, captured at the save, with its snapshot and policy."""

    snapshot_skipped: list[Skipped]
    snapshot_error: str  # why a dirty run has no snapshot


class GitError(TypedDict):
    """``git:`` of a save whose git state could not be captured (kept in the spool)."""

    error: str


class Host(TypedDict):
    hostname: str
    platform: str
    python: str


class _Provenance(TypedDict):
    format: int
    saved_at: str
    gitprov: str
    host: Host


class Provenance(_Provenance, total=False):
    #: The project's declared dependencies as installed (None: not installed).
    packages: dict[str, str | None]


class _RunError(TypedDict):
    type: str  # module-qualified unless builtin
    message: str


class RunError(_RunError, total=False):
    """Why a run did not succeed; the traceback when gitprov held the exception (Kedro
    keeps its own in the record's ``exception``)."""

    traceback: list[str]


class Nodes(TypedDict):
    """A Kedro run's nodes: how many the pipeline has, which completed, which failed."""

    total: int
    completed: list[str]
    failed: list[str]


class _Saved(TypedDict):
    name: str


class Saved(_Saved, total=False):
    """A dataset a Kedro run persisted, with the version Kedro saved it under if any."""

    version: str


class DatasetItem(TypedDict):
    """What a run read or wrote: ``dataset`` its name (a Kedro dataset's, or the path as
    given to ``gitprov run``/``record()``), ``type`` its class (or ``file``/``folder``),
    ``path`` relative to the project when inside it (a URI without credentials when
    remote), ``version`` a versioned dataset's, ``digest`` ``sha256:<hex>`` of the bytes
    (a folder's: :mod:`gitprov.state.digest`) and ``size`` in bytes; ``None`` where they
    cannot be told (remote data, a path that is not there)."""

    dataset: str
    type: str
    path: str | None
    version: str | None
    digest: str | None
    size: int | None


class ConfigFile(TypedDict):
    """A config file a Kedro run read: its digest only, never its content."""

    path: str
    digest: str | None


class ConfigSection(TypedDict):
    """A Kedro run's configuration: the environment, where it was read from, the files."""

    env: str | None
    source: str | None
    files: list[ConfigFile]


class GitUser(TypedDict):
    """Who ran it, as git knows them (``user.name``, ``user.email``; ``None`` when unset)."""

    name: str | None
    email: str | None


class _RunSection(TypedDict):
    status: RunStatus
    started_at: str
    finished_at: str | None  # None only while a Kedro run is under way
    duration_s: float | None
    error: RunError | None  # None on a success, or for a command that exited non-zero


class RunSection(_RunSection, total=False):
    """``run:``: what ran and how it ended, the same common keys from every entry point.

    What ran is ``argv`` and ``cwd`` (``gitprov.record()``, ``gitprov run``) or the
    pipeline's names, filters and runner (Kedro); how it ended adds ``exit_code`` (a
    command) or ``nodes``, ``failed_node`` and ``datasets_saved`` (Kedro); ``signal`` names
    the signal that stopped it. The user's own keys may follow what ran.

    Who ran it is ``user`` (git's); what went in and came out ``inputs`` and ``outputs``
    (every entry point), ``params`` and ``config`` (Kedro's, as the run used them).
    """

    signal: str
    argv: list[str]
    cwd: str
    exit_code: int
    pipeline_names: list[str]
    tags: list[str]
    runner: str
    nodes: Nodes
    failed_node: str | None
    datasets_saved: list[Saved]
    user: GitUser
    params: dict[str, Any]
    config: ConfigSection
    inputs: list[DatasetItem]
    outputs: list[DatasetItem]


class Unbuilt(TypedDict):
    """What a failed save keeps when not even the record could be built."""

    session_id: str
    error: str


class _Record(TypedDict):
    session_id: str
    git: GitSection | GitError
    provenance: Provenance


class Record(_Record, total=False):
    """A record as gitprov builds it; the session's own keys (any) sit beside these.
    ``parent`` is the session of the recorded run this one ran inside."""

    parent: str
    run: RunSection
