"""``gitprov hook pre-push``: what the installed pre-push hook runs (hidden from the help).

The hook file itself only finds a Python with gitprov and hands over (as pre-commit's hook
template does), so every fact (ref names, the config that renames them, the legacy hook's
name, what a URL may show) lives here and in the modules it imports, not in shell.

It pushes the records ref and the notes ref to the remote being pushed to, never forced
and without running the hooks again (``--no-verify``). It never blocks the push: when the
remote's records have moved on, it says what to run instead. A hook that was installed
before gitprov's (``pre-push.legacy``) runs first, with the same arguments and input, and
still decides: when it fails, the push stops as it always did.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from gitprov.child import run_hook
from gitprov.cli.main import Target, main
from gitprov.configure import LEGACY_SUFFIX
from gitprov.errors import GitProvError
from gitprov.git import Git
from gitprov.model.redact import redact_text

#: The variable the pre-commit framework names the remote in (it passes no arguments).
PRE_COMMIT_REMOTE = "PRE_COMMIT_REMOTE_NAME"


@main.group("hook", hidden=True)
def hook() -> None:
    """The git hooks gitprov installs (run by git, not by hand)."""


@hook.command("pre-push")
@click.option(
    "--installed-as",
    type=click.Path(dir_okay=False),
    help="The hook file git ran; its .legacy sibling, if any, runs first.",
)
@click.argument("remote", required=False)
@click.argument("url", required=False)
@click.pass_obj
def pre_push(target: Target, installed_as: str | None, remote: str | None, url: str | None) -> None:
    """Push the provenance records with the code; never block the push."""
    args = [a for a in (remote, url) if a is not None]
    if installed_as is not None:
        _run_legacy(Path(installed_as + LEGACY_SUFFIX), args)
    remote = remote or os.environ.get(PRE_COMMIT_REMOTE, "")
    if not remote or _dry_run():
        return
    shown = redact_text(remote)
    try:
        git = Git.discover(target.path)
        refs = _existing_commits(git, target.refs(git))
        if not refs:
            return
        pushed = git.run("push", "--no-verify", "--quiet", remote, *refs, ok=range(256))
        failure = pushed.returncode != 0
        output = (pushed.stdout + pushed.stderr).decode(errors="replace")
    except (GitProvError, OSError) as exc:  # said, and the push goes on
        failure, output = True, str(exc)
    except Exception as exc:  # whatever went wrong, the push goes on
        failure, output = True, f"{type(exc).__name__}: {exc}"
    if failure:
        click.echo(
            f"gitprov: provenance records were not pushed to {shown} (your push is unaffected):",
            err=True,
        )
        for line in output.splitlines():
            click.echo(f"gitprov:   {redact_text(line)}", err=True)
        click.echo(
            f"gitprov: run `gitprov sync {shown}` to merge the remote's records and push them.",
            err=True,
        )


def _run_legacy(legacy: Path, args: list[str]) -> None:
    """Run the hook gitprov's replaced, as git would have; its failure stops the push."""
    if not os.access(legacy, os.X_OK):
        return
    data = None if sys.stdin.isatty() else sys.stdin.buffer.read()
    try:
        code = run_hook([str(legacy), *args], data)
    except OSError as exc:
        click.echo(f"gitprov: the pre-push hook {legacy} cannot run: {exc}", err=True)
        sys.exit(1)
    if code != 0:
        sys.exit(code)


def _dry_run() -> bool:
    """Whether this is ``git push --dry-run`` (which runs the hook too): git is the parent
    or, under the pre-commit framework, the grandparent. Without ``/proc``, it is not."""
    pid = os.getppid()
    for _ in range(2):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if any(_says_dry_run(arg) for arg in argv[1:]):
                return True
            stat = Path(f"/proc/{pid}/stat").read_bytes()
            pid = int(stat.rpartition(b") ")[2].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def _says_dry_run(arg: bytes) -> bool:
    """``--dry-run`` as git takes it: whole, as an unambiguous prefix (``--dry``), or
    as ``n`` in a cluster of short options (``-vn``; ``-o`` takes the rest as its value)."""
    if arg.startswith(b"--"):
        return len(arg) >= 4 and b"--dry-run".startswith(arg)
    if arg.startswith(b"-"):
        return b"n" in arg[1:].partition(b"o")[0]
    return False


def _existing_commits(git: Git, names: tuple[str, str]) -> list[str]:
    """The refs among ``names`` that exist and name commits (one process for both)."""
    listed = git.run("for-each-ref", "--format=%(objecttype) %(refname)", *names).text
    found = {line.partition(" ")[2] for line in listed.splitlines() if line.startswith("commit ")}
    return [name for name in names if name in found]
