"""The dirty policy: may a run start on uncommitted (or unpushed) code?

Checked when the store is built, i.e. before a Kedro pipeline runs, so a refused run costs
nothing; the policy and its outcome are written into the record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gitprov.errors import DirtyWorkTreeError, GitProvError, UnpushedCommitError, option
from gitprov.git import Git
from gitprov.model.sections import (
    CLEAN,
    DIRTY_ALLOWED,
    DIRTY_POLICIES,
    DIRTY_WARNED,
    Captured,
    Change,
    DirtyPolicy,
    PolicyOutcome,
    PolicySection,
)

logger = logging.getLogger(__name__)


def _named(changes: list[Change], shown: int = 10) -> str:
    names = [f"{c['path']} ({c['status']})" for c in changes[:shown]]
    more = len(changes) - shown
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class Policy:
    dirty: DirtyPolicy = "allow"
    require_pushed: bool = False

    def __post_init__(self) -> None:
        if self.dirty not in DIRTY_POLICIES:
            raise GitProvError(
                f"{option('dirty', self.dirty)} is not a dirty policy: use one of "
                f"{', '.join(DIRTY_POLICIES)}"
            )

    @property
    def needs_check_at_start(self) -> bool:
        return self.dirty != "allow" or self.require_pushed

    def check(self, git: Git, section: Captured) -> PolicyOutcome:
        """Apply the policy to the tree described by ``section``; return the outcome."""
        if self.require_pushed:
            commit = section["commit"]
            pushed = (
                commit is not None
                and git.run(
                    "for-each-ref",
                    "--contains",
                    commit,
                    "--count=1",
                    "--format=%(refname)",
                    "refs/remotes",
                ).text.strip()
            )
            if not pushed:
                raise UnpushedCommitError(
                    f"{option('require_pushed', True)}: HEAD "
                    f"({(commit or 'no commit yet')[:12]}) is on no remote-tracking branch, "
                    f"so nobody else could check this code out. Push it first (git push), "
                    f"or use {option('require_pushed', False)}."
                )
        if not section["dirty"]:
            return CLEAN
        if self.dirty == "refuse":
            raise DirtyWorkTreeError(
                f"{option('dirty', 'refuse')}: the work tree has uncommitted changes: "
                f"{_named(section['changes'])}. Commit or stash them, or use "
                f"{option('dirty', 'warn')} (or allow)."
            )
        if self.dirty == "warn":
            logger.warning(
                "gitprov: running on uncommitted changes: %s", _named(section["changes"])
            )
            return DIRTY_WARNED
        return DIRTY_ALLOWED

    def describe(self, outcome: PolicyOutcome) -> PolicySection:
        """What the record says about the policy."""
        return PolicySection(dirty=self.dirty, require_pushed=self.require_pushed, outcome=outcome)
