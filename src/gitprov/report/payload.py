"""What a report shows, gathered from the records: one JSON-ready mapping (the payload).

Each run is embedded once: the fields of ``gitprov list``'s row (``id``, ``t`` the start in
epoch seconds, ``dur``, ``status``, ``commit``, ``branch``, ``dirty``, ``snap``, ``what``,
``user``), its inputs and outputs (``io``), and the whole record flattened as ``gitprov
compare`` flattens it (``f``: key index, value, key index, value...; the keys, shared by all
runs, are ``keys``), so that the page compares, filters and plots any key without a second
copy of the record. A dirty run with a snapshot also carries its code diff against its
commit (``diff``), cut at :data:`DIFF_CAP`; past :data:`DIFFS_BUDGET` for the whole report,
a run carries only a note saying how to see it (``diff_note``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from gitprov.audit.compare import NOT_COMPARED, flatten
from gitprov.audit.log import SessionLog
from gitprov.errors import CorruptRecordError
from gitprov.git import Git
from gitprov.model.document import run_status
from gitprov.progress import Progress

#: A run's diff longer than this (characters) is cut, with a note.
DIFF_CAP = 100_000
#: The diffs of one report together: past this, runs carry a note instead of their diff.
DIFFS_BUDGET = 6_000_000
#: Pairs of trees per ``git diff-tree --stdin`` (its output is read whole).
DIFF_BATCH = 256

_HEX = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def epoch(text: Any) -> float | None:
    """Seconds since the epoch of a record's ISO timestamp (``...Z`` or with an offset;
    without one, UTC), ``None`` when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.timestamp()


def plain(value: Any) -> Any:
    """``value`` as strict JSON holds it: mappings with text keys, lists, text, finite
    numbers, booleans, null (a YAML date, set or binary becomes text; NaN and infinities
    their names)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def what(run: Mapping[str, Any]) -> str:
    """What ran: the pipelines' names (Kedro), else the command line."""
    pipelines = run.get("pipeline_names")
    if isinstance(pipelines, list) and pipelines:
        return ", ".join(map(str, pipelines))
    argv = run.get("argv")
    if isinstance(argv, list) and argv:
        return shlex.join(map(str, argv))
    return ""


def _io(run: Mapping[str, Any]) -> list[list[Any]]:
    """``[role, dataset, path, digest, size]`` of every input, then every output."""
    rows: list[list[Any]] = []
    for role in ("inputs", "outputs"):
        items = run.get(role)
        for item in items if isinstance(items, list) else []:
            item = _mapping(item)
            rows.append(
                [
                    role[:-1],
                    plain(item.get("dataset")),
                    plain(item.get("path")),
                    plain(item.get("digest")),
                    plain(item.get("size")),
                ]
            )
    return rows


class _Keys:
    """Dotted keys interned: each run's flattened record refers to them by index. The
    whole record is kept (``provenance`` too, for the run's detail); the page leaves
    :data:`~gitprov.audit.compare.NOT_COMPARED` out of comparisons, as ``compare`` does."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}

    def flat(self, record: Mapping[str, Any]) -> list[Any]:
        out: list[Any] = []
        for key, value in flatten({k: v for k, v in record.items() if k != "session_id"}).items():
            at = self._index.get(key)
            if at is None:
                at = self._index[key] = len(self.names)
                self.names.append(key)
            out += [at, plain(value)]
        return out


def run_entry(session_id: str, record: Mapping[str, Any], keys: _Keys) -> dict[str, Any]:
    """One run of the payload (see the module's docstring)."""
    run = _mapping(record.get("run"))
    git = _mapping(record.get("git"))
    provenance = _mapping(record.get("provenance"))
    started = _text(run.get("started_at")) or _text(provenance.get("saved_at"))
    duration = run.get("duration_s")
    dirty = git.get("dirty")
    user = _mapping(run.get("user")).get("name") or record.get("username")
    branch = _text(git.get("branch")) or ("(detached)" if git.get("detached") else None)
    return {
        "id": session_id,
        "t": epoch(started),
        "started": started,
        "dur": plain(duration) if isinstance(duration, (int, float)) else None,
        "status": run_status(record),
        "commit": _text(git.get("commit")),
        "branch": branch,
        "dirty": dirty if isinstance(dirty, bool) else None,
        "snap": _text(git.get("snapshot")),
        "what": what(run),
        "user": str(user) if user else None,
        "io": _io(run),
        "f": keys.flat(record),
    }


def _commit_facts(git: Git, runs: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """The committers of the commits the runs ran on, and the tree of every commit a diff
    needs (a run's commit and snapshot), for those this repository holds."""
    committers: dict[str, str] = {}
    trees: dict[str, str] = {}
    wanted = {r["commit"] for r in runs if r["commit"]} | {r["snap"] for r in runs if r["snap"]}
    with git.objects() as cat:
        for sha in sorted(s for s in wanted if _HEX.fullmatch(s)):
            commit = cat.read(sha)
            if commit is None or commit.type != "commit":
                continue
            header = commit.data.split(b"\n\n", 1)[0].decode("utf-8", "replace")
            for line in header.split("\n"):
                if line.startswith("tree "):
                    trees[sha] = line[5:].strip()
                elif line.startswith("committer "):
                    committers[sha] = line[10:].rsplit(">", 1)[0] + ">"
    return committers, trees


def _diffs(git: Git, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The patch between each pair of trees, through ``git diff-tree --stdin`` (one process
    per :data:`DIFF_BATCH` pairs; ``--always`` echoes every pair, so the output splits on
    those lines: a line of a patch never is two object ids alone)."""
    found: dict[tuple[str, str], str] = {}
    for start in range(0, len(pairs), DIFF_BATCH):
        batch = pairs[start : start + DIFF_BATCH]
        heads = {f"{a} {b}": (a, b) for a, b in batch}
        out = git.run(
            "diff-tree",
            "--stdin",
            "--always",
            "-r",
            "-p",
            "-M",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            input="".join(f"{head}\n" for head in heads).encode(),
        ).stdout.decode("utf-8", "replace")
        current: tuple[str, str] | None = None
        lines: list[str] = []
        for line in out.splitlines(keepends=True):
            pair = heads.get(line.rstrip("\n"))
            if pair is not None:
                if current is not None:
                    found[current] = "".join(lines)
                current, lines = pair, []
            else:
                lines.append(line)
        if current is not None:
            found[current] = "".join(lines)
    return found


def _attach_diffs(git: Git, runs: list[dict[str, Any]], trees: dict[str, str]) -> None:
    """Give every run with a snapshot its diff (or ``diff_note`` saying why not)."""
    empty = git.run("hash-object", "-t", "tree", "--stdin", input=b"").text.strip()
    wanted: dict[str, tuple[str, str]] = {}
    for run in runs:
        if not run["snap"]:
            continue
        base = trees.get(run["commit"]) if run["commit"] else empty
        if run["snap"] not in trees or base is None:
            run["diff_note"] = (
                "the code of this run is not in this repository; fetch the provenance refs "
                "from a remote that has it (gitprov fetch)"
            )
        else:
            wanted[run["id"]] = (base, trees[run["snap"]])
    patches = _diffs(git, sorted(set(wanted.values())))
    budget = DIFFS_BUDGET
    for run in runs:
        pair = wanted.get(run["id"])
        if pair is None:
            continue
        patch = patches.get(pair, "")
        whole = f"`gitprov diff {run['id']}` shows it whole"
        if budget <= 0:
            run["diff_note"] = f"diff left out: the report's diffs reached their size; {whole}"
            continue
        if len(patch) > DIFF_CAP:
            run["diff_note"] = f"diff cut at {DIFF_CAP:,} of {len(patch):,} characters; {whole}"
            patch = patch[:DIFF_CAP]
        run["diff"] = patch
        budget -= len(patch)


def _summary(runs: list[dict[str, Any]], committers: Mapping[str, str]) -> dict[str, Any]:
    times = [r["t"] for r in runs if r["t"] is not None]
    return {
        "runs": len(runs),
        "status": dict(Counter(r["status"] for r in runs).most_common()),
        "branches": sorted({r["branch"] for r in runs if r["branch"]}),
        "users": sorted({r["user"] for r in runs if r["user"]}),
        "committers": sorted({committers[r["commit"]] for r in runs if r["commit"] in committers}),
        "first": min(times, default=None),
        "last": max(times, default=None),
        "dirty": sum(1 for r in runs if r["dirty"]),
        "snapshots": sum(1 for r in runs if r["snap"]),
    }


def collect(
    log: SessionLog, ids: Iterable[str] | None = None, *, columns: Iterable[str] = ()
) -> dict[str, Any]:
    """The payload of a report of ``ids`` (default: every run), newest first, with a
    progress line on a terminal. Records that do not parse are listed under ``broken``,
    what the log skipped under ``skipped``; neither stops the report."""
    wanted = log.ids() if ids is None else list(ids)
    keys = _Keys()
    runs: list[dict[str, Any]] = []
    broken: dict[str, CorruptRecordError] = {}
    with Progress("Reading runs", len(wanted)) as bar:
        for session_id, record in log.items(wanted, skip_missing=True, broken=broken):
            runs.append(run_entry(session_id, record, keys))
            bar.advance()
    runs.sort(key=lambda r: (r["t"] is not None, r["t"] or 0, r["id"]), reverse=True)
    committers, trees = _commit_facts(log.git, runs)
    _attach_diffs(log.git, runs, trees)
    root = log.git.worktree if log.git.worktree is not None else log.git.git_dir
    return {
        "repository": root.name,
        "ref": log.ref,
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "columns": list(columns),
        "keys": keys.names,
        "not_compared": [k for k in NOT_COMPARED if k != "session_id"],
        "summary": _summary(runs, committers),
        "runs": runs,
        "broken": {i: str(exc) for i, exc in broken.items()},
        "skipped": [str(item) for item in log.skipped],
    }
