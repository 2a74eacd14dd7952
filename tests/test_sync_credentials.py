"""A remote given with credentials in its URL (issue 12, point 3).

``gitprov sync https://oauth2:TOKEN@host/org/repo.git`` gives git the real URL, but no
credential of it reaches a commit message, a ref name, a reflog, stdout or stderr, here or
in the remote. Real bare remotes, reached through ``file://user:TOKEN@/path`` and through
``url.<path>.insteadOf`` (so an ``https://`` URL with a token resolves to a local path);
the failing paths through loopback only.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from gitprov import GitSessionStore, SessionLog

from conftest import cli, every_object, git, make_repo

TOKENS = {
    "file": "FileTok-5e1a",
    "insteadof": "InsteadTok-6f2b",
    "named": "NamedTok-7a3c",
    "unreachable": "GoneTok-8b4d",
    "refused": "RefusedTok-9c5e",
}


def gitprov(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = cli("-C", str(repo), *args)
    for what, token in TOKENS.items():
        assert token not in proc.stdout + proc.stderr, (what, proc)
    return proc


def ok(repo: Path, *args: str) -> str:
    proc = gitprov(repo, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def save(repo: Path, session_id: str) -> None:
    GitSessionStore(path=str(repo / "sessions"), session_id=session_id).save({"k": "v"})


def setup(root: Path) -> tuple[Path, Path, Path]:
    """A bare remote and two clones of it."""
    seed = make_repo(root / "seed", {"README.md": "hello\n"})
    remote = root / "remote.git"
    git(root, "clone", "-q", "--bare", str(seed), str(remote))
    git(root, "clone", "-q", str(remote), str(root / "a"))
    git(root, "clone", "-q", str(remote), str(root / "b"))
    return remote, root / "a", root / "b"


def assert_no_token_in(repo: Path) -> None:
    """Commit messages, ref names, reflogs and every object of ``repo``."""
    messages = git(repo, "log", "--all", "--format=%B")
    names = git(repo, "for-each-ref", "--format=%(refname)")
    objects = every_object(repo)
    gitdir = Path(git(repo, "rev-parse", "--absolute-git-dir").strip())
    reflogs = "".join(p.read_text() for p in (gitdir / "logs").rglob("*") if p.is_file())
    for what, token in TOKENS.items():
        assert token not in messages, what
        assert token not in names, what
        assert token.encode() not in objects, what
        assert token not in reflogs, what


def test_a_url_with_credentials_reaches_no_message_ref_or_output(tmp_path: Path) -> None:
    remote, a, b = setup(tmp_path)

    # file://user:TOKEN@/path: git ignores the user information of a file URL
    save(b, "b-1")
    ok(b, "sync")
    save(a, "a-1")
    url = f"file://user:{TOKENS['file']}@{remote}"
    out = ok(a, "sync", url)
    assert out.startswith(f"file://{remote}: 1 record in, 1 record out")
    assert f"gitprov: merge 1 record from file://{remote}\n" in git(
        a, "log", "--all", "--format=%B"
    )
    assert ok(a, "fetch", url).count("/url-") == 2
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", str(empty))
    fetched = ok(a, "fetch", f"file://user:{TOKENS['file']}@{empty}")
    assert fetched.count(f"file://{empty} has none yet") == 2
    assert f"file://{remote} already has every local record" in ok(a, "push", url)
    # the tracking namespace is still named after the whole URL, as before
    digest = hashlib.sha1(url.encode()).hexdigest()[:12]
    assert f"refs/provenance/remotes/url-{digest}/sessions" in git(a, "for-each-ref")

    # an https URL with a token that insteadOf resolves to the bare remote
    url = f"https://oauth2:{TOKENS['insteadof']}@git.example.com/org/repo.git"
    git(a, "config", f"url.{remote}.insteadOf", url)
    save(b, "b-2")
    ok(b, "sync")
    save(a, "a-2")
    out = ok(a, "sync", url)
    assert out.startswith("https://git.example.com/org/repo.git: 1 record in, 1 record out")
    messages = git(a, "log", "--all", "--format=%B")
    assert "gitprov: merge 1 record from https://git.example.com/org/repo.git\n" in messages

    # a configured remote whose URL holds a token
    named = f"https://ci:{TOKENS['named']}@git.example.com/org/repo.git"
    git(a, "config", "--add", f"url.{remote}.insteadOf", named)
    git(a, "remote", "add", "creds", named)
    save(b, "b-3")
    ok(b, "sync")
    save(a, "a-3")
    assert ok(a, "sync", "creds").startswith("creds: 1 record in, 1 record out")

    # a remote that refuses names the URL without its token
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho 'closed to {url}' >&2\nexit 1\n")
    hook.chmod(0o755)
    save(a, "a-4")
    refused = gitprov(a, "push", url)
    assert refused.returncode == 1
    assert "https://git.example.com/org/repo.git refused the provenance refs" in refused.stderr
    assert "closed to https://***@git.example.com/org/repo.git" in refused.stderr

    ok(b, "sync")
    assert SessionLog(b).ids() == ["a-1", "a-2", "a-3", "b-1", "b-2", "b-3"]
    for repo in (a, b, remote):
        assert_no_token_in(repo)


def test_an_unreachable_url_with_credentials_fails_without_them(tmp_path: Path) -> None:
    _, a, _ = setup(tmp_path)
    save(a, "a-1")
    url = f"https://user:{TOKENS['unreachable']}@127.0.0.1:1/org/x.git"  # loopback, closed
    git(a, "remote", "add", "gone", f"https://ci:{TOKENS['named']}@127.0.0.1:1/org/x.git")
    before = git(a, "for-each-ref")
    for args, named in (
        (["sync", url], "https://127.0.0.1:1/org/x.git"),
        (["fetch", url], "https://127.0.0.1:1/org/x.git"),
        (["push", url], "https://127.0.0.1:1/org/x.git"),
        (["sync", "gone"], "gone (https://127.0.0.1:1/org/x.git)"),
    ):
        proc = gitprov(a, *args)
        assert proc.returncode == 1, proc
        assert proc.stderr.startswith(f"gitprov: error: cannot reach remote {named}: "), proc
        assert git(a, "for-each-ref") == before
    assert_no_token_in(a)


def test_a_query_key_in_an_unreachable_url_is_never_shown(tmp_path: Path) -> None:
    """git's own message quotes the URL it could not reach; its ``?key=`` stays hidden."""
    _, a, _ = setup(tmp_path)
    save(a, "a-1")
    secret = "QueryKey-1d6f"
    for args in (["sync"], ["fetch"], ["push"]):
        proc = cli("-C", str(a), *args, f"https://127.0.0.1:1/org/x.git?key={secret}")
        assert proc.returncode == 1, proc
        assert secret not in proc.stdout + proc.stderr, proc.stderr
