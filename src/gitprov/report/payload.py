"""What a report shows, gathered from the records: one JSON-ready mapping (the payload).

Each run is embedded once: the fields of ``gitprov list``'s row and the whole record
flattened as ``gitprov compare`` flattens it, so that the page shows, compares, filters and
plots any key from one copy (:data:`FIELDS` says how a run is laid out). Keys, values and
diffs are each stored once however many runs share them: at 10,000 runs that halves the
file. A dirty run with a snapshot carries its code diff against its commit, cut at
:data:`DIFF_CAP` characters; past :data:`DIFFS_BUDGET` for the whole report, a run carries
only a note saying how to see it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gitprov.audit.compare import NOT_COMPARED, flatten
from gitprov.audit.log import SessionLog
from gitprov.errors import CorruptRecordError
from gitprov.git import Git
from gitprov.progress import Progress
from gitprov.store.records import record_path

if TYPE_CHECKING:
    from gitprov.index.api import IndexEntry

#: A run's diff longer than this (characters) is cut, with a note.
DIFF_CAP = 100_000
#: The diffs of one report together: past this, runs carry a note instead of their diff.
DIFFS_BUDGET = 6_000_000
#: Pairs of trees per ``git diff-tree --stdin`` (its output is read whole).
DIFF_BATCH = 256

_HEX = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_JSON_SCALARS = frozenset({str, int, bool})


def plain(value: Any) -> Any:
    """``value`` as strict JSON holds it: mappings with text keys, lists, text, finite
    numbers, booleans, null (a YAML date, set or binary becomes text; NaN and infinities
    their names; an integer JavaScript cannot hold exactly, its digits)."""
    if type(value) is int and not -(2**53) <= value <= 2**53:
        return str(value)
    if value is None or type(value) in _JSON_SCALARS or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


class _Interned:
    """Distinct things in first-seen order, each referred to by its index: dotted keys, or
    values (``1`` and ``True``, ``1`` and ``1.0`` kept apart, as ``compare`` tells them)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._index: dict[Any, int] = {}

    def __call__(self, item: Any) -> int:
        kind = type(item)
        token = json.dumps(item) if kind is list or kind is dict else (kind, item)
        at = self._index.get(token)
        if at is None:
            at = self._index[token] = len(self.items)
            self.items.append(item)
        return at


def flat_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record flattened as ``compare`` flattens it, ``provenance`` included (the run's
    detail shows it; the page leaves :data:`~gitprov.audit.compare.NOT_COMPARED` out of
    comparisons, as ``compare`` does), each value as strict JSON holds it."""
    whole = {k: v for k, v in record.items() if k != "session_id"}
    return {key: plain(value) for key, value in flatten(whole).items()}


def run_entry(entry: IndexEntry, record: Mapping[str, Any]) -> dict[str, Any]:
    """One run: its row's fields as the query index read them (as ``gitprov list`` shows
    them), and its record flattened (``f``)."""
    return {
        "id": entry.session_id,
        "t": entry.started,
        "dur": plain(entry.duration),
        "status": entry.status,
        "commit": entry.commit,
        "branch": entry.branch,
        "dirty": entry.dirty,
        "snap": entry.snapshot,
        "what": entry.what,
        "user": entry.user,
        "started": entry.started_at,
        "source": entry.source,
        "f": flat_record(record),
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
    with Progress("Diffing snapshots", len(pairs)) as bar:
        for start in range(0, len(pairs), DIFF_BATCH):
            batch = pairs[start : start + DIFF_BATCH]
            found.update(_diff_batch(git, batch))
            bar.advance(len(batch))
    return found


def _diff_batch(git: Git, batch: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """:func:`_diffs` of one batch, through one ``diff-tree``."""
    found: dict[tuple[str, str], str] = {}
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


def summarize(runs: list[dict[str, Any]], committers: Mapping[str, str]) -> dict[str, Any]:
    """The report's summary: counts by status, who and where, the first and last start."""
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


#: A run in the payload: a list in this order. ``id``, ``t`` (start, epoch seconds),
#: ``dur`` and ``note`` (why a diff is cut or missing) are themselves; ``f`` is the flattened
#: record as key index, value index, key index...; ``diff`` an index into ``diffs``; the
#: others are indexes into ``values``.
FIELDS = (
    "id", "t", "dur", "status", "commit", "branch", "dirty", "snap", "what", "user",
    "started", "source", "f", "diff", "note",
)  # fmt: skip
_DIRECT = frozenset({"id", "t", "dur", "note"})


def encode(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """``runs`` as the payload holds them (:data:`FIELDS`): keys, values and diffs stored
    once however many runs share them (most values recur: commits, statuses, hosts)."""
    keys, values, diffs = _Interned(), _Interned(), _Interned()
    encoded = []
    for run in runs:
        run = dict(run, note=run.get("diff_note"))
        row: list[Any] = []
        for name in FIELDS:
            if name in _DIRECT:
                row.append(run[name])
            elif name == "f":
                row.append([i for k, v in run["f"].items() for i in (keys(k), values(v))])
            elif name == "diff":
                row.append(diffs(run["diff"]) if "diff" in run else None)
            else:
                row.append(values(run[name]))
        encoded.append(row)
    return {
        "fields": list(FIELDS),
        "keys": keys.items,
        "values": values.items,
        "diffs": diffs.items,
        "runs": encoded,
    }


def read_runs(
    log: SessionLog, entries: Sequence[IndexEntry]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The runs of ``entries`` (as :meth:`SessionLog.query` answers), each record read by
    its blob id through one ``cat-file`` and parsed as the index parses it, with a progress
    line on a terminal; and why each record that does not parse does not, by id."""
    from gitprov.index.fastyaml import parse_record

    runs: list[dict[str, Any]] = []
    broken: dict[str, str] = {}
    with Progress("Reading runs", len(entries)) as bar:
        for entry, data in zip(entries, _blobs(log.git, [e.blob for e in entries]), strict=True):
            bar.advance()
            where = f"{entry.source}:{record_path(entry.session_id)}"
            if data is None:
                broken[entry.session_id] = entry.problem or f"{where} cannot be read"
                continue
            try:
                record = parse_record(data, entry.session_id, where)
            except CorruptRecordError as exc:
                broken[entry.session_id] = str(exc)
                continue
            runs.append(run_entry(entry, record))
    return runs, broken


def _blobs(git: Git, shas: list[str]) -> Iterator[bytes | None]:
    """The content of each blob of ``shas`` (``None``: missing, or not a blob), read by one
    ``cat-file --batch`` given them all at once (the records are all kept anyway)."""
    asked = [sha if _HEX.fullmatch(sha) else "-" for sha in shas]
    out = git.run("cat-file", "--batch", input="".join(f"{sha}\n" for sha in asked).encode())
    data, at = out.stdout, 0
    for _ in asked:
        end = data.index(b"\n", at)
        header = data[at:end].split()
        at = end + 1
        if len(header) != 3:  # "<name> missing"
            yield None
            continue
        size = int(header[2])
        yield data[at : at + size] if header[1] == b"blob" else None
        at += size + 1


def collect(
    log: SessionLog, entries: Sequence[IndexEntry], *, columns: Iterable[str] = ()
) -> dict[str, Any]:
    """The payload of a report of ``entries`` (:meth:`SessionLog.query`'s answer), newest
    first. Records that do not parse are listed under ``broken``, what the log skipped
    under ``skipped``; neither stops the report."""
    runs, broken = read_runs(log, entries)
    runs.sort(key=lambda r: (r["t"] is not None, r["t"] or 0, r["id"]), reverse=True)
    committers, trees = _commit_facts(log.git, runs)
    _attach_diffs(log.git, runs, trees)
    root = log.git.worktree if log.git.worktree is not None else log.git.git_dir
    return {
        "repository": root.name,
        "ref": log.ref,
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "columns": list(columns),
        "not_compared": [k for k in NOT_COMPARED if k != "session_id"],
        "summary": summarize(runs, committers),
        **encode(runs),
        "broken": broken,
        "skipped": [str(item) for item in log.skipped],
    }
