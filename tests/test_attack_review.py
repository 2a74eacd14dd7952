"""Adversarial review of the start-up changes since 276aea4 (NamedTuple runner, ``on_path``,
lazy hashlib/notes, the cache spool looked for only when it exists) and index format 8: saves
racing git's own maintenance and kill -9, odd PATHs, git's failures provoked for real,
secrets, and a hostile fetched copy read through the index."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import gitprov
from gitprov.audit.log import SessionLog
from gitprov.errors import GitNotFoundError, PathRefusedError, RefLockedError, StaleValueError
from gitprov.git import Git
from gitprov.git.writing import on_path
from test_hostile_remote import plumb

from conftest import cli, git

TOKEN = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"
RECORDS = "refs/provenance/sessions"
GITPROV = [sys.executable, "-m", "gitprov"]
TRACKING = "refs/provenance/remotes/origin/sessions"


def gitprov_process(repo: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "gitprov", "-C", str(repo), *args],
        env=env if env is not None else dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def listed_ids(repo: Path) -> list[str]:
    out = cli("-C", str(repo), "list", "--format", "json")
    assert out.returncode == 0, out.stderr
    return [row["session_id"] for row in json.loads(out.stdout or "[]")]  # none: no output


def spooled(repo: Path) -> list[Path]:
    return sorted((repo / ".git" / "gitprov" / "spool").glob("*.yaml"))


# 1. saves racing git's maintenance --------------------------------------------------------


def test_run_saves_under_maintenance_each_listed_once_none_lost(repo: Path) -> None:
    stop = threading.Event()

    def churn() -> None:
        tasks = (
            ["repack", "-ad", "-q"],
            ["maintenance", "run", "--task=gc", "--task=incremental-repack", "--quiet"],
            ["pack-refs", "--all"],
            ["gc", "--prune=now", "--quiet"],
        )
        while not stop.is_set():
            for task in tasks:
                subprocess.run(["git", "-C", str(repo), *task], capture_output=True, check=False)

    churner = threading.Thread(target=churn)
    churner.start()
    saved: list[str] = []
    try:
        for i in range(8):
            sid = f"churn-{i}"
            if i % 2:
                ran = gitprov_process(repo, "run", "--id", sid, "--", "true")
                assert ran.returncode == 0, ran.stderr
            else:
                with gitprov.record(path=repo, session_id=sid, params={"i": i}):
                    pass
            saved.append(sid)
    finally:
        stop.set()
        churner.join()
    recovered = cli("-C", str(repo), "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert not spooled(repo)
    ids = listed_ids(repo)
    assert sorted(ids) == sorted(saved) == sorted(SessionLog(repo).ids())
    verified = cli("-C", str(repo), "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


# 2. kill -9 of a save ---------------------------------------------------------------------


def test_kill9_of_saves_leaves_verify_recover_and_the_index_consistent(repo: Path) -> None:
    rng = random.Random(15)
    start = time.monotonic()  # a whole run's time: kills aimed mostly at its end, the save
    ran = cli("-C", str(repo), "run", "--id", "whole", "--", "true", process=True)
    took = time.monotonic() - start
    assert ran.returncode == 0, ran.stderr
    for round_ in range(20):
        child = subprocess.Popen(
            [*GITPROV, "-C", str(repo), "run", "--id", f"k{round_}", "--", "true"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(took * rng.uniform(0.4, 1.1))
        child.send_signal(signal.SIGKILL)
        child.wait()
        if round_ % 5 == 4:  # the index built between kills too
            cli("-C", str(repo), "list")
    verified = cli("-C", str(repo), "verify")  # ok, or names what is wrong
    said = verified.stdout + verified.stderr
    assert ("ok:" in said) if verified.returncode == 0 else "problem" in said, said
    recovered = cli("-C", str(repo), "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert not spooled(repo)
    ids = listed_ids(repo)
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(SessionLog(repo).ids())
    assert "whole" in ids and set(ids) <= {"whole", *(f"k{i}" for i in range(20))}
    ran = cli("-C", str(repo), "run", "--id", "after", "--", "true")
    assert ran.returncode == 0, ran.stderr
    assert sorted(listed_ids(repo)) == sorted(SessionLog(repo).ids()) == sorted([*ids, "after"])
    assert cli("-C", str(repo), "verify").returncode == 0


# 3. PATH oddities -------------------------------------------------------------------------


def _odd_paths(tmp: Path) -> dict[str, str | None]:
    real = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    noexec = tmp / "noexec"
    noexec.mkdir()
    (noexec / "git").write_text("#!/bin/sh\necho fake\n")
    (noexec / "git").chmod(0o644)
    afile = tmp / "a-file"
    afile.write_text("")
    gitdir = tmp / "dir-named-git"
    (gitdir / "git").mkdir(parents=True)
    garbage = tmp / "garbage"  # executable, but no program the system can run (ENOEXEC)
    garbage.mkdir()
    (garbage / "git").write_bytes(b"\x7fELF\x00not a program\n")
    (garbage / "git").chmod(0o755)
    return {
        "empty": "",
        "nonexistent": str(tmp / "nowhere"),
        "a file": str(afile),
        "a file then git": f"{afile}:{real}",
        "empty entries": f"::{real}:",
        "relative": f"relative/bin:{real}",
        "non-executable git only": str(noexec),
        "non-executable git first": f"{noexec}:{real}",
        "a folder named git": str(gitdir),
        "a folder named git first": f"{gitdir}:{real}",
        "an executable git that is no program": str(garbage),
        "unset": None,
    }


def test_odd_paths_find_git_as_which_does_or_say_so(tmp_path: Path, repo: Path) -> None:
    odd = _odd_paths(tmp_path)
    for name, value in odd.items():
        env = dict(os.environ)
        env.pop("PATH", None)
        if value is not None:
            env["PATH"] = value
        with pytest.MonkeyPatch.context() as mp:  # on_path against shutil.which
            if value is None:
                mp.delenv("PATH", raising=False)
            else:
                mp.setenv("PATH", value)
            assert on_path("git") == shutil.which("git"), name
        out = gitprov_process(repo, "list", env=env)
        assert "Traceback" not in out.stderr, (name, out.stderr)
        if out.returncode == 0 or "no session is recorded" in out.stderr:
            continue
        assert out.returncode == 1, (name, out.stderr)
        assert out.stderr.startswith("gitprov: error: git "), (name, out.stderr)
        assert "PATH" in out.stderr, (name, out.stderr)


def test_a_git_that_cannot_run_is_a_git_not_found_error(
    tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd = _odd_paths(tmp_path)
    names = ("a file", "non-executable git only", "a folder named git")
    for name in (*names, "an executable git that is no program"):
        monkeypatch.setenv("PATH", str(odd[name]))
        with pytest.raises(GitNotFoundError, match="PATH"):  # found from files, or by git
            Git.discover(repo).run("version")


# 4. git's failures, provoked for real ------------------------------------------------------


def test_lock_swap_and_refused_path_map_to_their_typed_errors(repo: Path) -> None:
    g = Git.discover(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    with gitprov.record(path=repo, session_id="before"):
        pass
    tip = git(repo, "rev-parse", RECORDS).strip()
    lock = repo / ".git" / "refs" / "provenance" / "sessions.lock"
    lock.write_text("")
    own = repo / ".git" / "gitprov"
    shutil.rmtree(own, ignore_errors=True)
    own.write_text("")  # the git dir's spool cannot be made: the user's cache takes it
    try:
        with pytest.raises(RefLockedError) as held:
            g.run("update-ref", RECORDS, head, tip)
        assert Path(held.value.lock) == lock.resolve()
        with gitprov.record(path=repo, session_id="while-locked"):
            pass  # a save that cannot take the lock keeps the record
        cache = Path(os.environ["HOME"]) / ".cache" / "gitprov" / "spool"
        assert [p.name.split(".")[0] for p in cache.glob("*/*.yaml")] == ["while-locked"]
        out = cli("-C", str(repo), "list")  # the cache looked in as it now exists
        assert out.returncode == 0 and "1 record(s) are spooled" in out.stderr, out.stderr
        verified = cli("-C", str(repo), "verify")
        assert verified.returncode == 1 and "spooled" in verified.stdout + verified.stderr
    finally:
        lock.unlink()
        own.unlink()
    with pytest.raises(StaleValueError):
        g.run("update-ref", RECORDS, head, head)  # the ref is not at ``head``
    assert git(repo, "rev-parse", RECORDS).strip() != head
    git(repo, "init", "-q", "nested")
    with pytest.raises(PathRefusedError) as refused:
        g.run("update-index", "--add", "-z", "--stdin", input=b"nested\0")
    assert refused.value.path == "nested"
    assert cli("-C", str(repo), "recover").returncode == 0
    assert sorted(SessionLog(repo).ids()) == ["before", "while-locked"]
    assert sorted(listed_ids(repo)) == ["before", "while-locked"]


# 5. secrets --------------------------------------------------------------------------------


def test_secrets_from_params_argv_env_and_a_dirty_file_never_raw(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "src" / "app.py").write_text(f"TOKEN = '{TOKEN}'\npassword = 'hunter2xyz'\n")
    (repo / "creds.env").write_text(f"GITHUB_TOKEN={TOKEN}\n")
    env = {**os.environ, "GITHUB_TOKEN": TOKEN, "MY_PASSWORD": "hunter2xyz"}
    ran = gitprov_process(repo, "run", "--id", "leaky", "--", "true", "--token", TOKEN, env=env)
    assert ran.returncode == 0, ran.stderr
    params = {"token": TOKEN, "x": TOKEN, "note": "forget-me-7f3a"}
    with gitprov.record(path=repo, session_id="leaky-py", params=params):
        pass
    report = tmp_path / "r.html"
    outs = [
        cli("-C", str(repo), "list", "--format", "json", "--columns", "params.token,params.x"),
        cli("-C", str(repo), "list", "--format", "csv", "--columns", "params.token,run.argv"),
        cli("-C", str(repo), "list", "--where", "params.x=*", "--format", "json"),
        cli("-C", str(repo), "report", "-o", str(report)),
    ]
    texts = [o.stdout + o.stderr for o in outs] + [report.read_text()]
    for text in texts:
        assert TOKEN not in text and "hunter2xyz" not in text
    index = list((repo / ".git" / "gitprov").glob("index*"))
    assert index
    assert any(b"forget-me-7f3a" in path.read_bytes() for path in index)  # indexed
    for path in index:
        raw = path.read_bytes()
        assert TOKEN.encode() not in raw and b"hunter2xyz" not in raw, path
    forgot = cli("-C", str(repo), "forget", "leaky", "leaky-py", "--reason", "leak")
    assert forgot.returncode == 0, forgot.stderr
    assert listed_ids(repo) == []
    for path in (repo / ".git" / "gitprov").glob("index*"):
        raw = path.read_bytes()
        assert TOKEN.encode() not in raw and b"forget-me-7f3a" not in raw, path


# 6. a hostile fetched copy -----------------------------------------------------------------


def test_a_hostile_fetched_copy_is_named_never_crashes_never_pushed(
    repo: Path, tmp_path: Path
) -> None:
    from gitprov.store.records import fanout

    with gitprov.record(path=repo, session_id="mine", params={"a": 1}):
        pass

    def blob(data: bytes) -> str:
        return plumb(repo, "hash-object", "-w", "--stdin", data=data)

    def tree(rows: list[tuple[str, str, str]]) -> str:
        lines = b"".join(
            f"{mode} {kind} {sha}\t{name}\0".encode()
            for mode, kind, sha, name in [
                (m, {"040000": "tree", "160000": "commit"}.get(m, "blob"), s, n) for m, s, n in rows
            ]
        )
        return plumb(repo, "mktree", "-z", "--missing", data=lines)

    deep = "".join("  " * d + "k:\n" for d in range(2000)).encode()
    records = {
        "hugekey": b"session_id: hugekey\nparams:\n  " + b"k" * 5000 + b": 1\n",
        "nul": b"session_id: nul\nparams: {a: 1}\n\0\0binary\n",
        "deep": b"session_id: deep\nparams:\n" + deep,
        "good": b"session_id: good\nparams: {b: 2}\n",
    }
    by_folder: dict[str, list[tuple[str, str, str]]] = {}
    for sid, data in records.items():
        by_folder.setdefault(fanout(sid), []).append(("100644", blob(data), f"{sid}.yaml"))
    wrong = "00" if fanout("wrongfan") != "00" else "01"
    by_folder.setdefault(wrong, []).append(
        ("100644", blob(b"session_id: wrongfan\n"), "wrongfan.yaml")
    )
    link = fanout("linked")
    by_folder.setdefault(link, []).append(("120000", blob(b"/etc/passwd"), "linked.yaml"))
    sub = fanout("submod")
    head = git(repo, "rev-parse", "HEAD").strip()
    by_folder.setdefault(sub, []).append(("160000", head, "submod.yaml"))
    top = [("100644", blob(b"1\n"), "FORMAT")]
    top += [("040000", tree(rows), name) for name, rows in by_folder.items()]
    commit = plumb(repo, "commit-tree", tree(top), "-m", "hostile")
    plumb(repo, "update-ref", TRACKING, commit)

    out = cli("-C", str(repo), "list", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    shown = {row["session_id"] for row in json.loads(out.stdout)}
    assert {"mine", "good"} <= shown
    assert not shown & {"wrongfan", "linked", "submod", "nul"}
    for name in ("wrongfan", "linked", "submod", "nul", "deep"):
        assert name in out.stderr or name not in shown, (name, out.stderr)
    for name in ("wrongfan", "linked", "submod"):
        assert name in out.stderr, (name, out.stderr)
    unreadable = {"deep", "hugekey", "nul"}  # named by ids(), refused when read
    assert sorted(shown) == sorted(set(SessionLog(repo).ids()) - unreadable)
    where = cli("-C", str(repo), "list", "--where", "params.b=2", "--format", "ids")
    assert where.returncode == 0 and where.stdout.split() == ["good"], where.stderr
    again = cli("-C", str(repo), "list", "--format", "json")  # the warm index says it again
    assert {r["session_id"] for r in json.loads(again.stdout)} == shown
    for name in ("wrongfan", "linked", "submod"):
        assert name in again.stderr, (name, again.stderr)
    bare = tmp_path / "other.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    pushed = cli("-C", str(repo), "push", str(bare))
    assert pushed.returncode == 0, pushed.stderr
    names = git(bare, "ls-tree", "-r", "--name-only", RECORDS).split()
    assert not [n for n in names if any(bad in n for bad in ("wrongfan", "linked", "submod"))]


def test_index_writers_racing_each_other_and_saves_agree_with_the_log(repo: Path) -> None:
    """Several ``list --where`` processes bring one index up to date at once, while saves
    and a forget land: each answer holds each session at most once, and the last one
    exactly what ``SessionLog`` reads."""
    for i in range(6):
        with gitprov.record(path=repo, session_id=f"base-{i}", params={"i": i}):
            pass
    cmd = [sys.executable, "-m", "gitprov", "-C", str(repo), "list", "--where", "params.i>=0"]
    readers = [
        subprocess.Popen([*cmd, "--format", "ids"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for i in range(6, 10):
        with gitprov.record(path=repo, session_id=f"base-{i}", params={"i": i}):
            pass
    assert cli("-C", str(repo), "forget", "base-0", "--reason", "x").returncode == 0
    for reader in readers:
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0 and b"Traceback" not in err, err
        ids = out.decode().split()
        assert len(ids) == len(set(ids)) and set(ids) <= {f"base-{i}" for i in range(10)}
    final = cli("-C", str(repo), "list", "--where", "params.i>=0", "--format", "ids")
    assert sorted(final.stdout.split()) == sorted(SessionLog(repo).ids())
    assert "base-0" not in final.stdout and len(final.stdout.split()) == 9
