"""Every name gitprov gives things in a repository, and which two refs a command uses.

The names: the records ref and the commit index (notes) by default, the config keys that
name other ones, where a remote's copies are fetched to and the refspecs that put them
there, and the lock files. :func:`resolve` picks a repository's refs the same way for
every entry point (the CLI, ``gitprov.record()``, ``gitprov run``, the Kedro store,
``SessionLog``, sync and audit): the caller's option, else the repository's config
(``gitprov --ref ... --notes-ref ... init`` writes it), else the default.
"""

from __future__ import annotations

import enum
import re
from typing import TYPE_CHECKING, Final, TypeAlias, overload

from gitprov.git.writing import config_from_files, parse_config

if TYPE_CHECKING:  # annotations only: the repository is always handed in
    from gitprov.git import Git

DEFAULT_REF: Final = "refs/provenance/sessions"
DEFAULT_NOTES_REF: Final = "refs/notes/provenance"

#: Where non-default ref names are kept (by ``gitprov --ref/--notes-ref ... init``), so that
#: later commands, the library and the pre-push hook use them without being told again.
_SECTION = "gitprov"
REF_CONFIG: Final = f"{_SECTION}.ref"
NOTES_REF_CONFIG: Final = f"{_SECTION}.notesRef"

#: The flock every save holds while it reads the tip, writes its objects and moves the
#: refs (in the common git dir).
WRITE_LOCK: Final = "gitprov-write.lock"
#: The flock a fetch, push or sync holds (in the common git dir).
SYNC_LOCK: Final = "gitprov-sync.lock"


class Configured(enum.Enum):
    """The type of :data:`CONFIGURED`."""

    CONFIGURED = "configured"


#: ``notes_ref``'s default everywhere: the repository's ``gitprov.notesRef``, else
#: :data:`DEFAULT_NOTES_REF`. ``None`` cannot be that default, because ``notes_ref=None``,
#: passed on purpose, turns the commit index off (and the config never does).
CONFIGURED: Final = Configured.CONFIGURED

#: What every entry point's ``notes_ref`` option takes: a ref name, ``None`` (no commit
#: index) or :data:`CONFIGURED`.
NotesRefOption: TypeAlias = "str | Configured | None"


@overload
def resolve(
    git: Git, ref: str | None = ..., notes_ref: str | Configured = ...
) -> tuple[str, str]: ...
@overload
def resolve(git: Git, ref: str | None, notes_ref: None) -> tuple[str, None]: ...
@overload
def resolve(
    git: Git, ref: str | None = ..., notes_ref: str | Configured | None = ...
) -> tuple[str, str | None]: ...
def resolve(
    git: Git, ref: str | None = None, notes_ref: str | Configured | None = CONFIGURED
) -> tuple[str, str | None]:
    """The records ref and the notes ref of ``git``'s repository.

    Each is the option when given, else the repository's config (``gitprov.ref``,
    ``gitprov.notesRef``), else the default. ``ref=None`` means not given;
    ``notes_ref=None`` means no commit index, and :data:`CONFIGURED` (the default) means
    not given. The config is read from the files in-process; ``git config`` runs only when
    they hold something only git can tell (includes, ``git -c``, quoting), and never when
    both options are given.
    """
    if ref is not None and notes_ref is not CONFIGURED:
        return ref, notes_ref
    config = _config(git)
    return (
        config.get(REF_CONFIG.lower(), DEFAULT_REF) if ref is None else ref,
        config.get(NOTES_REF_CONFIG.lower(), DEFAULT_NOTES_REF)
        if notes_ref is CONFIGURED
        else notes_ref,
    )


def _config(git: Git) -> dict[str, str]:
    """The repository's ``gitprov.*`` keys (lowercased): from the files, else from git."""
    found = config_from_files(git.common_dir, _SECTION)
    if found is not None:
        return found
    keys = "|".join(re.escape(key.lower()) for key in (REF_CONFIG, NOTES_REF_CONFIG))
    pattern = f"^({keys})$"  # matched against lowercased section and key names
    return parse_config(git.run("config", "-z", "--get-regexp", pattern, ok=(0, 1)).stdout)


def namespace(ref: str) -> str:
    """The folder ``ref`` and its copies live in: ``refs/provenance``."""
    return ref.rpartition("/")[0]


def tracking_prefix(ref: str) -> str:
    """What every remote's copy of ``ref`` starts with: ``refs/provenance/remotes/``."""
    return f"{namespace(ref)}/remotes/"


def tracking_ref(ref: str, remote: str) -> str:
    """Where a remote's copy of ``ref`` is fetched to, never onto the local ref itself.

    ``refs/provenance/sessions`` -> ``refs/provenance/remotes/<remote>/sessions`` and
    ``refs/notes/provenance`` -> ``refs/notes/remotes/<remote>/provenance`` (still under
    ``refs/notes/``, so ``git notes`` commands accept it).
    """
    return f"{tracking_prefix(ref)}{remote}/{ref.rpartition('/')[2]}"


def is_tracking_ref(name: str, ref: str) -> bool:
    """Whether ``name`` is some remote's copy of ``ref`` (:func:`tracking_ref`)."""
    prefix, suffix = tracking_prefix(ref), f"/{ref.rpartition('/')[2]}"
    return name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix + suffix)


def fetch_refspecs(ref: str, remote: str) -> list[str]:
    """How ``ref`` is fetched from ``remote``: into its tracking namespace, never onto the
    local ref.

    Forced (``+``): a tracking ref is a mirror of the remote's, and a remote whose records
    were rewritten (``gitprov forget``) must never make a plain ``git fetch`` or ``git
    pull`` fail; the local refs still move only by gitprov's compare-and-swap. A pattern
    (``.../session*``), because git refuses a whole ``git fetch`` when an exact configured
    source ref is missing on the remote, as it is on every remote before the first push of
    records; and a negative refspec, so that a remote ref below the name (``.../sessions/x``)
    cannot clash with the tracking ref itself.
    """
    return [f"+{ref[:-1]}*:{tracking_ref(ref, remote)[:-1]}*", f"^{ref}/*"]


def exact_glob(ref: str) -> str:
    """``ref`` as a glob matching only itself (``refs/notes/provenanc[e]``): git warns
    about a notes ref named in ``notes.displayRef``/``notes.rewriteRef`` that does not
    exist yet (a fresh clone), and says nothing of a glob that matches nothing."""
    return f"{ref[:-1]}[{ref[-1]}]"
