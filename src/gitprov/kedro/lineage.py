"""What a Kedro run read and wrote: its datasets and config files, each with a digest.

A dataset item is ``{dataset, type, path, version, digest, size}``: ``path`` relative to the
project when the data lies inside it (so records compare across clones), absolute when
outside, a URI with its credentials removed when remote; ``version`` the version a
versioned dataset loaded or saved (and ``path`` that version's file); ``digest`` and
``size`` from :mod:`gitprov.state.digest` for local files and folders, ``None`` for remote
data and for datasets that live in memory. A config file is ``{path, digest}``: the files
Kedro's config loader reads for the catalog, parameters, credentials and globals, git-ignored
ones included; their content is never read into a record (``credentials.yml`` holds
secrets), only hashed.

Kedro is duck-typed here (``_describe()``, versioned datasets' path methods, the loader's
``config_patterns``): a dataset or loader that does not look like Kedro's own yields an
item with what could be told, never an error, because a record must not fail a run.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path, PurePosixPath
from typing import Any

from gitprov.model.sections import ConfigFile, ConfigSection, DatasetItem
from gitprov.state.digest import Digests
from gitprov.state.files import shown

#: The config loader keys every ``kedro run`` reads (its catalog, with the credentials it
#: names, and the parameters; globals feed interpolation in all of them).
RUN_CONFIG_KEYS = ("catalog", "credentials", "parameters", "globals")
_CONFIG_SUFFIXES = (".yml", ".yaml", ".json")
_LOCAL = ("file", "local", None, "")


def _location(dataset: Any, loaded: bool) -> tuple[str | None, str | None, str | None]:
    """(protocol, path, version) of ``dataset``'s data, as far as it can be told."""
    try:
        described = dataset._describe()
    except Exception:
        return None, None, None
    if not isinstance(described, dict):
        return None, None, None
    raw = described.get("filepath", described.get("path"))
    if raw is None:
        return None, None, None
    protocol = described.get("protocol")
    version = None
    if getattr(dataset, "_version", None) is not None:
        try:
            version = dataset.resolve_load_version() if loaded else dataset.resolve_save_version()
            if version:
                raw = dataset._get_versioned_path(version)
        except Exception:
            version = None
    return (str(protocol) if protocol else None), str(raw), version


def dataset_item(
    name: str, dataset: Any, project: Path, digests: Digests, *, loaded: bool
) -> DatasetItem:
    """The record's item for dataset ``name`` that the run ``loaded`` (else saved): take it
    after the save, so that the digest is that of what was written."""
    from gitprov.model.redact import scrub_url

    kind = type(dataset)
    item = DatasetItem(
        dataset=name,
        type=f"{kind.__module__}.{kind.__qualname__}",
        path=None,
        version=None,
        digest=None,
        size=None,
    )
    protocol, raw, version = _location(dataset, loaded)
    item["version"] = version
    if raw is None:
        return item
    if protocol not in _LOCAL or "://" in raw:
        uri = raw if "://" in raw else f"{protocol}://{raw.lstrip('/')}"
        item["path"] = scrub_url(uri)
        return item
    local = Path(raw) if os.path.isabs(raw) else project / raw
    item["path"] = shown(local, project)
    with suppress(OSError):  # not there (a load that failed): no digest
        item["digest"], item["size"] = digests.measure(local)
    return item


def config_files(loader: Any, project: Path, digests: Digests) -> list[ConfigFile]:
    """The config files ``loader`` (Kedro's ``OmegaConfigLoader``) reads for a run, in the
    base and the run environment, sorted by path."""
    try:
        source = Path(str(loader.conf_source))
        patterns = loader.config_patterns
        envs = {loader.base_env, loader.env or loader.default_run_env}
    except AttributeError:
        return []
    if not source.is_dir():  # a packaged or remote config: nothing to hash here
        return []
    found: set[Path] = set()
    for env in filter(None, envs):
        folder = source / str(env)
        for key in RUN_CONFIG_KEYS:
            for pattern in patterns.get(key, ()):
                # as fsspec's glob, which Kedro uses: a trailing ** reaches files too
                globs = [str(pattern)] + ([f"{pattern}/*"] if str(pattern).endswith("**") else [])
                for path in (p for g in globs for p in folder.glob(g)):
                    relative = PurePosixPath(path.relative_to(folder).as_posix())
                    hidden = any(part.startswith(".") for part in relative.parts)
                    if path.is_file() and path.suffix in _CONFIG_SUFFIXES and not hidden:
                        found.add(path)
    files = []
    for path in found:
        try:
            digest: str | None = digests.of(path)
        except OSError:
            digest = None
        files.append(ConfigFile(path=shown(path, project), digest=digest))
    return sorted(files, key=lambda f: f["path"])


def config_section(loader: Any, project: Path, digests: Digests) -> ConfigSection:
    """``run.config``: the run's environment, the config source, and :func:`config_files`."""
    env = getattr(loader, "env", None) or getattr(loader, "default_run_env", None) or None
    from gitprov.model.redact import scrub_url

    source = getattr(loader, "conf_source", None)
    if source is not None:
        text = str(source)
        source = scrub_url(text) if "://" in text else shown(Path(text), project)
    return ConfigSection(
        env=None if env is None else str(env),
        source=source,
        files=config_files(loader, project, digests),
    )
