"""Comparing runs: their records flattened to dotted keys, and the keys whose values differ.

A record becomes one value per dotted path (``run.params.lr``, ``git.branch``); a list of
mappings that each carry a distinct name is keyed by it (``run.outputs.model.digest``, by
``dataset``; ``git.changes.src/app.py.status``, by ``path``), any other list is one value.
``session_id`` is the column each run is shown under and ``provenance`` says when and by
which gitprov the record was saved, not what ran, so neither is compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitprov.errors import GitProvError
from gitprov.git import Git

#: Top-level keys that are not compared (see the module's docstring).
NOT_COMPARED = ("session_id", "provenance")

#: What names an item of a list of mappings, tried in this order (``inputs``/``outputs``:
#: ``dataset``; ``git.changes``, ``config.files``, ``snapshot_skipped``: ``path``;
#: ``datasets_saved``: ``name``).
ITEM_NAMES = ("dataset", "path", "name")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``value`` as ``{dotted key: leaf}``, in the record's order. Empty mappings and lists
    have no keys (a run that read nothing shows empty cells under another's inputs); an
    item keyed by its name does not repeat it (``run.inputs.raw.digest``, no
    ``run.inputs.raw.dataset``) unless it holds nothing else
    (``run.datasets_saved.model: model``)."""
    flat: dict[str, Any] = {}
    _flatten_into(value, prefix, flat)
    return flat


#: Leaves of these types are kept as they are, without a call of their own (the query
#: index flattens every record: most values are these).
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _flatten_into(value: Any, prefix: str, flat: dict[str, Any]) -> None:
    """:func:`flatten`, adding to ``flat`` (one dict for the whole record: the query index
    flattens every record)."""
    kind = type(value)  # by identity first: the ABC's isinstance is slow
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        children: Any = value.items()
    elif isinstance(value, list) and not value:
        return
    elif isinstance(value, list) and (name := _item_name(value)) is not None:
        children = [(item[name], _without(item, name)) for item in value]
    else:
        flat.setdefault(prefix, value)  # a key spelt with dots never hides the nested one
        return
    scalars = _SCALARS
    for key, child in children:
        path = f"{prefix}.{key}" if prefix else str(key)
        if type(child) in scalars:
            flat.setdefault(path, child)
        else:
            _flatten_into(child, path, flat)


def _without(item: Mapping[str, Any], name: str) -> Any:
    """``item`` without its ``name`` key, or the name when it holds nothing else."""
    rest = {k: v for k, v in item.items() if k != name}
    return rest or item[name]


def _item_name(items: list[Any]) -> str | None:
    """The key of :data:`ITEM_NAMES` whose string value tells every item apart, if any."""
    if not all(type(item) is dict or isinstance(item, Mapping) for item in items):
        return None
    for name in ITEM_NAMES:
        names = [item.get(name) for item in items]
        if all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names):
            return name
    return None


def flatten_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record's compared keys (all but :data:`NOT_COMPARED`), flattened."""
    return flatten({k: v for k, v in record.items() if k not in NOT_COMPARED})


def same(values: Sequence[tuple[bool, Any]]) -> bool:
    """Whether every (present, value) is the same: absent differs from ``null``, and
    ``true`` from ``1`` (``1`` and ``1.0`` are the same number)."""
    (present, first), rest = values[0], values[1:]
    flag = isinstance(first, bool)
    return all(p == present and isinstance(v, bool) == flag and v == first for p, v in rest)


def merged_keys(flats: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every key of ``flats``, each placed after the key it follows in the first run that
    has it (so ``run.params.momentum``, only in a later run, stays among the params)."""
    order: list[str] = []
    for flat in flats:
        at = 0
        for key in flat:
            if key in order:
                at = order.index(key) + 1
            else:
                order.insert(at, key)
                at += 1
    return order


@dataclass(frozen=True)
class Comparison:
    """Runs side by side: ``sessions`` (their ids, in the order given), their ``records``
    and each record flattened (``flat``; a key a run lacks is absent), aligned."""

    sessions: list[str]
    records: list[dict[str, Any]]
    flat: list[dict[str, Any]]

    def keys(self, *, equal: bool = False) -> list[str]:
        """The keys whose values differ between the runs (every key with ``equal``)."""
        keys = merged_keys(self.flat)
        if equal:
            return keys
        return [k for k in keys if not same([(k in f, f.get(k)) for f in self.flat])]

    def values(self, *, equal: bool = False) -> dict[str, list[Any]]:
        """``{key: [one value per run]}`` for :meth:`keys`; ``None`` where a run lacks it."""
        return {k: [f.get(k) for f in self.flat] for k in self.keys(equal=equal)}


def compare(records: Sequence[dict[str, Any]]) -> Comparison:
    """The :class:`Comparison` of ``records`` (whole records, as ``SessionLog.get`` reads)."""
    return Comparison(
        [str(r.get("session_id")) for r in records],
        list(records),
        [flatten_record(r) for r in records],
    )


def code_diff(git: Git, old: dict[str, Any], new: dict[str, Any], *, patch: bool) -> str:
    """``git diff --stat`` (and the patch with ``patch``) from the code ``old`` ran to the
    code ``new`` ran: each run's snapshot, else its commit."""
    from gitprov.audit.checkout import code_commit  # and its snapshot machinery

    commits = [code_commit(record) for record in (old, new)]
    for record, commit in zip((old, new), commits, strict=True):
        if git.run("cat-file", "-e", f"{commit}^{{tree}}", ok=(0, 1, 128)).returncode != 0:
            raise GitProvError(
                f"the code of session {record.get('session_id')} ({commit[:12]}) is not in "
                f"this repository; fetch the provenance refs from a remote that has it "
                f"(gitprov fetch)"
            )
    shown = ["--stat", "--patch"] if patch else ["--stat"]
    return git.run("diff", "--no-color", "--no-ext-diff", *shown, *commits).text
