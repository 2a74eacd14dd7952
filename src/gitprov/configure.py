"""``gitprov init``: make plain git show, keep and carry the provenance refs.

Every step is idempotent and reports what it did. A value the user already set differently
is never overwritten (the step is refused with a message), and an existing hook is kept and
chained, the way pre-commit installs its own.
"""

from __future__ import annotations

import importlib.resources
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from gitprov.git import Git
from gitprov.refs import (
    DEFAULT_NOTES_REF,
    DEFAULT_REF,
    NOTES_REF_CONFIG,
    REF_CONFIG,
    exact_glob,
    fetch_refspecs,
    tracking_ref,
)

HOOK_MARKER = b"gitprov pre-push hook"
#: Where the hook finds gitprov: the shipped file leaves it empty, install writes it.
_PYTHON_LINE = b"INSTALL_PYTHON=''"
#: A foreign hook gitprov's replaced is kept beside it under its name plus this, and still
#: runs first (``gitprov hook pre-push --installed-as``).
LEGACY_SUFFIX = ".legacy"


@dataclass(frozen=True)
class Step:
    """One outcome of ``init``: ``changed``, ``ok`` (already so) or ``refused``."""

    outcome: str
    message: str


def _values(git: Git, key: str) -> list[str]:
    result = git.run("config", "--get-all", key, ok=(0, 1))
    return result.text.splitlines()


def _add(git: Git, key: str, value: str, why: str) -> Step:
    """Add ``value`` to a multi-valued key unless it is there already."""
    if value in _values(git, key):
        return Step("ok", f"{key} includes {value}")
    git.run("config", "--add", key, value)
    return Step("changed", f"added {key} = {value} ({why})")


def _set(git: Git, key: str, value: str, why: str) -> Step:
    """Set a single-valued key, but never over a different value the user chose."""
    current = _values(git, key)
    if current == [value]:
        return Step("ok", f"{key} = {value}")
    if current:
        return Step(
            "refused",
            f"{key} is already {current[-1]!r}; left alone. So that {why}, run: "
            f"git config {key} {value}",
        )
    git.run("config", key, value)
    return Step("changed", f"set {key} = {value} ({why})")


def _legacy_refspec(ref: str, remote: str) -> str:
    """The non-forced refspec earlier versions of ``init`` wrote; ``init`` upgrades it."""
    return fetch_refspecs(ref, remote)[0][1:]


def _upgrade(git: Git, key: str, old: str, new: str, why: str) -> Step:
    """Add ``new`` to a multi-valued key, replacing ``old`` (an earlier init's value)."""
    values = _values(git, key)
    if old in values and new not in values:
        git.run("config", "--fixed-value", "--replace-all", key, new, old)
        return Step("changed", f"upgraded {key}: {old} -> {new} ({why})")
    if old in values:
        git.run("config", "--fixed-value", "--unset-all", key, old)
        return Step("changed", f"removed {key} = {old}, replaced by {new} ({why})")
    return _add(git, key, new, why)


def hooks_dir(git: Git) -> Path:
    """The hooks folder git really uses (``core.hooksPath``, worktrees and all)."""
    path = Path(git.run("rev-parse", "--git-path", "hooks").text.strip())
    return path if path.is_absolute() else git.root / path


def hook_body() -> bytes:
    """The pre-push hook as installed: the shipped file, naming this Python (the one
    gitprov is installed in) for the hook to run gitprov with."""
    source = importlib.resources.files("gitprov") / "hooks" / "pre-push"
    line = b"INSTALL_PYTHON=" + shlex.quote(sys.executable).encode()
    return source.read_bytes().replace(_PYTHON_LINE, line, 1)


def install_hook(git: Git) -> Step:
    """Install the pre-push hook; a foreign hook is kept as ``pre-push.legacy`` and chained.

    An earlier gitprov hook, or one naming another Python, is replaced."""
    body = hook_body()
    folder = hooks_dir(git)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "pre-push"
    legacy = folder / f"pre-push{LEGACY_SUFFIX}"
    note = ""
    if target.exists() or target.is_symlink():
        current = target.read_bytes() if target.exists() else b""
        if current == body:
            return Step("ok", f"pre-push hook installed in {folder}")
        if HOOK_MARKER not in current:
            if legacy.exists() or legacy.is_symlink():
                return Step(
                    "refused",
                    f"{target} is not gitprov's and {legacy} exists too; merge them by hand, "
                    f"then run `gitprov init --hooks` again",
                )
            os.replace(target, legacy)
            note = f"; your previous hook is kept as {legacy.name} and still runs first"
    tmp = folder / ".pre-push.gitprov-tmp"
    tmp.write_bytes(body)
    tmp.chmod(0o755)
    os.replace(tmp, target)
    return Step("changed", f"installed the pre-push hook in {folder}{note}")


def init(
    git: Git,
    *,
    remotes: list[str] | None = None,
    hooks: bool = False,
    ref: str = DEFAULT_REF,
    notes_ref: str = DEFAULT_NOTES_REF,
) -> list[Step]:
    """Configure the repository; returns what was done, step by step."""
    notes_name = notes_ref.removeprefix("refs/notes/")
    steps = [
        _set(git, key, value, "gitprov's commands and hook use it")
        for key, value, default in (
            (REF_CONFIG, ref, DEFAULT_REF),
            (NOTES_REF_CONFIG, notes_ref, DEFAULT_NOTES_REF),
        )
        if value != default or _values(git, key)
    ]
    shown = exact_glob(notes_ref)
    steps += [
        _upgrade(
            git, "notes.displayRef", notes_ref, shown, "git log shows the sessions of each commit"
        ),
        _upgrade(
            git, "notes.rewriteRef", notes_ref, shown, "amend and rebase carry sessions along"
        ),
        _set(
            git,
            f"notes.{notes_name}.mergeStrategy",
            "cat_sort_uniq",
            "notes from two clones merge line by line",
        ),
    ]
    known = [line for line in git.run("remote").text.splitlines() if line]
    chosen = known if remotes is None else remotes
    for remote in chosen:
        if remote not in known:
            steps.append(
                Step("refused", f"no remote named {remote!r}; add it with `git remote add`")
            )
            continue
        for r in (ref, notes_ref):
            forced, exclude = fetch_refspecs(r, remote)
            why = f"git fetch brings {remote}'s records to {tracking_ref(r, remote)}"
            key = f"remote.{remote}.fetch"
            steps.append(_upgrade(git, key, _legacy_refspec(r, remote), forced, why))
            steps.append(_add(git, key, exclude, f"no ref below {r} on {remote} blocks it"))
    if not chosen:
        steps.append(Step("ok", "no remotes yet: run `gitprov init` again after adding one"))
    if hooks:
        steps.append(install_hook(git))
    return steps
