"""The content digests a record lists: what a run read (``run.inputs``) and wrote
(``run.outputs``), each item ``{dataset, type, path, version, digest, size}`` with ``digest``
``sha256:<64 hex>`` or ``None`` (:mod:`gitprov.state.digest`).

Pure functions of a record mapping: the save indexes a record under these digests
(:meth:`gitprov.store.records.PendingSave.save`), and ``SessionLog.which`` checks a record
against the index with them. Records come from anyone, so anything that is not a mapping,
a list or a well-formed digest is skipped, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

#: A digest as records write it.
DIGEST = re.compile(r"sha256:([0-9a-f]{64})")

#: Which side of a run a dataset item is on.
Role = Literal["output", "input"]
#: The ``run:`` keys that list dataset items, by the role they play.
LISTS: tuple[tuple[str, Role], ...] = (("outputs", "output"), ("inputs", "input"))


def digest_hex(digest: str) -> str | None:
    """The 64 hex digits of ``sha256:<hex>``; ``None`` for anything else."""
    found = DIGEST.fullmatch(digest)
    return found.group(1) if found else None


def items(record: Mapping[str, Any]) -> Iterator[tuple[Role, Mapping[str, Any]]]:
    """(role, item) of every dataset item of ``record`` that is a mapping, outputs first."""
    run = record.get("run")
    if not isinstance(run, Mapping):
        return
    for key, role in LISTS:
        listed = run.get(key)
        if isinstance(listed, list):
            yield from ((role, item) for item in listed if isinstance(item, Mapping))


def record_digests(record: Mapping[str, Any]) -> list[str]:
    """The well-formed digests of ``record``'s inputs and outputs, sorted, each once."""
    found = {item.get("digest") for _, item in items(record)}
    return sorted(d for d in found if isinstance(d, str) and DIGEST.fullmatch(d))


def listing(record: Mapping[str, Any], digest: str) -> list[tuple[Role, Mapping[str, Any]]]:
    """The items of ``record`` whose digest is ``digest`` (outputs first)."""
    return [(role, item) for role, item in items(record) if item.get("digest") == digest]
