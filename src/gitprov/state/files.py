"""What a plain run read and wrote: the paths given to ``gitprov run --input/--output`` and
``gitprov.record(inputs=..., outputs=...)``, as the record's dataset items.

An item is the Kedro plugin's (:class:`gitprov.model.sections.DatasetItem`): ``dataset`` is
the path as given (a glob names each file it matched), ``type`` ``file`` or ``folder``,
``path`` relative to the repository when inside it (so records compare across clones),
``digest`` and ``size`` from :mod:`gitprov.state.digest`; a URI (``s3://...``) is recorded
without its credentials and with ``digest: null``. A path that is not there (an
output the run did not write) is recorded as given, with ``digest: null``: a glob that
matches nothing stays one item, as a shell passes an unmatched pattern on.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from gitprov.model.redact import scrub_url
from gitprov.model.sections import DatasetItem
from gitprov.state.digest import Digests


def shown(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (POSIX separators) when inside it, else absolute."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def expand(patterns: Iterable[str | os.PathLike[str]], cwd: Path) -> list[str]:
    """The paths ``patterns`` name from ``cwd``, in order, each once (``**`` reaches
    subfolders); an unmatched glob is kept as it is."""
    found: dict[str, None] = {}
    for pattern in (os.fspath(p) for p in patterns):
        matched = sorted(glob.glob(pattern, root_dir=cwd, recursive=True))
        if not glob.has_magic(pattern) or not matched:
            matched = [pattern]
        found.update(dict.fromkeys(matched))
    return list(found)


def path_items(
    patterns: Iterable[str | os.PathLike[str]], cwd: Path, root: Path, digests: Digests
) -> list[DatasetItem]:
    """The items of the paths ``patterns`` name from ``cwd``, digested now."""
    items = []
    for given in expand(patterns, cwd):
        if "://" in given:  # remote data: its URI without credentials, no digest
            uri = scrub_url(given)
            items.append(
                DatasetItem(
                    dataset=uri, type="file", path=uri, version=None, digest=None, size=None
                )
            )
            continue
        local = Path(os.path.abspath(cwd / given))
        item = DatasetItem(
            dataset=given,
            type="folder" if local.is_dir() else "file",
            path=shown(local, root),
            version=None,
            digest=None,
            size=None,
        )
        with suppress(OSError):  # not there, or neither a file nor a folder
            item["digest"], item["size"] = digests.measure(local)
        items.append(item)
    return items
