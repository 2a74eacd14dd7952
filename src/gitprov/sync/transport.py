"""The network half of a sync: ``git fetch`` into the remote-tracking refs, ``git push`` of
the local refs, and what git's answers mean (unreachable, moved on, refused).

Only git's own processes talk to the remote, given :attr:`Remote.spec`; every message
names the remote as :attr:`Remote.shown` and passes git's words through
:func:`redact_text`, so no credential reaches the terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gitprov.errors import (
    GitCommandError,
    GitProvError,
    PushRejectedError,
    RemoteError,
    RemoteMovedError,
)
from gitprov.git import Git
from gitprov.model.redact import redact_text, scrub_url
from gitprov.refs import fetch_refspecs, tracking_ref
from gitprov.sync.remote import Remote

#: What git says when it cannot talk to a remote at all (over any transport).
_UNREACHABLE = (
    "could not read from remote repository",
    "does not appear to be a git repository",
    "unable to access",
    "repository not found",
    "could not resolve",
    "connection refused",
    "connection timed out",
    "authentication failed",
    "permission denied",
    "no such file or directory",
)

#: Push rejections that mean "the remote moved on": fetch, merge and try again.
_MOVED = (
    "fetch first",
    "non-fast-forward",
    "stale info",
    "lock",
    "failed to update ref",
    "transaction failed",
)


@dataclass(frozen=True)
class Moved:
    """A ref's value before and after an operation (``None``: absent)."""

    ref: str
    old: str | None
    new: str | None


def ref_values(git: Git, refs: list[str]) -> dict[str, str]:
    """The value of each of ``refs`` that exists."""
    out = git.run("for-each-ref", "--format=%(refname) %(objectname)", *refs).text
    values = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {ref: sha for ref, sha in values.items() if ref in refs}


def fetch(git: Git, remote: Remote, refs: list[str]) -> list[Moved]:
    """Fetch ``refs`` into ``remote``'s tracking namespace (forced mirrors: a rewritten
    remote is taken as it is); how each tracking ref moved."""
    tracking = [tracking_ref(ref, remote.name) for ref in refs]
    before = ref_values(git, tracking)
    specs = [spec for ref in refs for spec in fetch_refspecs(ref, remote.name)]
    args = ["fetch", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules"]
    result = git.run(*args, remote.spec, *specs, ok=(0, 1, 128))
    if result.returncode != 0:
        raise _remote_error(git, remote, "fetch", result.stderr.decode(errors="replace"))
    after = ref_values(git, tracking)
    return [Moved(ref, before.get(ref), after.get(ref)) for ref in tracking]


def push(git: Git, remote: Remote, refs: list[str], leases: Mapping[str, str]) -> list[Moved]:
    """Push the ``refs`` that exist, all or none; never forced, but for a ref in ``leases``
    (rewritten to purge forgotten sessions), which goes with a lease on the remote's value
    it was rewritten from.

    Returns the refs the remote took (empty: it had them all); raises
    :class:`RemoteMovedError` when it moved on since our fetch (fetch, merge, try again).
    """
    local = ref_values(git, refs)
    present = [ref for ref in refs if ref in local]
    if not present:
        return []
    leased = [f"--force-with-lease={r}:{old}" for r, old in leases.items() if r in present]
    args = ["push", "--porcelain", "--atomic", "--no-verify", *leased, remote.spec]
    result = git.run(*args, *(f"{ref}:{ref}" for ref in present), ok=(0, 1, 128))
    statuses = _porcelain(result.text)
    stderr = result.stderr.decode(errors="replace")
    if result.returncode == 0:
        return [
            Moved(ref, summary.split("..")[0] if ".." in summary else None, local[ref])
            for flag, ref, summary in sorted(statuses, key=lambda s: refs.index(s[1]))
            if flag in ("*", " ", "+")
        ]
    rejected = [summary for flag, _, summary in statuses if flag == "!"]
    if not rejected:
        raise _remote_error(git, remote, "push", stderr)
    reasons = list(dict.fromkeys(r for r in rejected if "atomic push failed" not in r))
    if all(any(m in r for m in _MOVED) for r in reasons):
        raise RemoteMovedError(f"{remote.shown} moved on since the fetch")
    forced = [ref for flag, ref, summary in statuses if "needs force" in summary]
    if forced:  # git says so when the remote's ref names no commit: a hostile remote
        raise PushRejectedError(
            f"{' and '.join(forced)} on {remote.shown} are not commits this clone's "
            f"refs descend from, so only a forced push could replace them, and gitprov "
            f"never forces one. Your local records are intact and hold everything "
            f"readable from there; ask whoever runs the remote to delete those refs "
            f"(`git update-ref -d REF`), then sync again"
        )
    if any("shallow update not allowed" in r for r in reasons):
        raise PushRejectedError(
            f"{remote.shown} lacks history that the records pin, and this clone is "
            f"shallow, so it cannot send it. Run `git fetch --unshallow`, then push "
            f"again; your local records are intact"
        )
    said = (ln[len("remote:") :].strip() for ln in stderr.splitlines() if ln.startswith("remote:"))
    remote_said = redact_text("; ".join(line for line in said if line))
    raise PushRejectedError(
        f"{remote.shown} refused the provenance refs: {redact_text('; '.join(reasons))}"
        + (f" (the remote said: {remote_said})" if remote_said else "")
        + ". Your local records are intact; ask whoever runs the remote to allow pushes "
        "to refs/provenance/* and refs/notes/*"
    )


def _remote_error(git: Git, remote: Remote, verb: str, stderr: str) -> GitProvError:
    """A failed network command as a clear error; local refs were not touched."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line.removeprefix("fatal: ") for line in lines if line.startswith("fatal: ")]
    reason = redact_text((fatal or lines or ["no message"])[0])
    named = remote.shown
    if remote.name == remote.spec:
        url = git.run("remote", "get-url", remote.spec, ok=(0, 2, 128)).text.strip()
        named = f"{named} ({scrub_url(url)})" if url else named
    if any(p in stderr.lower() for p in _UNREACHABLE):
        return RemoteError(
            f"cannot reach remote {named}: {reason}. Check its URL (`git remote -v`), "
            f"the network and your credentials; nothing was changed locally"
        )
    return GitCommandError(f"`git {verb}` to {named} failed: {reason}", 1, redact_text(stderr))


def _porcelain(text: str) -> list[tuple[str, str, str]]:
    """``git push --porcelain`` status lines as (flag, destination ref, summary)."""
    statuses = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and len(parts[0]) == 1:
            statuses.append((parts[0], parts[1].rsplit(":", 1)[-1], parts[2]))
    return statuses
