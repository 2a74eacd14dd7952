"""An adversary's and an auditor's look at issues 15 and 16 (the query index, ``list``,
``report``, the terminal): each test is a way one of them broke, kept so it stays fixed."""

from __future__ import annotations

from pathlib import Path

import gitprov

from conftest import cli


def gitprov_cli(repo: Path, *args: str) -> tuple[int, str, str]:
    done = cli("-C", str(repo), *args)
    return done.returncode, done.stdout, done.stderr


def test_an_integer_too_large_for_a_float_is_indexed(repo: Path) -> None:
    """``record(metrics={'n': 10**400})`` saves fine and ``show`` reads it; the index took
    the whole record for unreadable (OverflowError), so ``list`` exited 1 naming it."""
    with gitprov.record(repo, "huge", metrics={"n": 10**400, "m": -(10**400)}):
        pass
    with gitprov.record(repo, "small", metrics={"n": 1, "m": 1}):
        pass
    code, out, err = gitprov_cli(repo, "list", "--format", "ids")
    assert (code, sorted(out.split()), err) == (0, ["huge", "small"], "")
    code, out, err = gitprov_cli(repo, "list", "--format", "ids", "--where", "metrics.n>1e300")
    assert (code, out.split(), err) == (0, ["huge"], "")
    code, out, err = gitprov_cli(repo, "list", "--format", "ids", "--where", "metrics.m<0")
    assert (code, out.split(), err) == (0, ["huge"], "")
    code, out, _ = gitprov_cli(repo, "verify")
    assert code == 0, out
