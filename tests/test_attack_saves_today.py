"""Adversarial saves against today's changes: the in-process config reader (write rules),
the plain-repository lookup without rev-parse, and the index's GC switch. Real git only."""

from __future__ import annotations

import os
import random
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitprov.git.writing import config_from_files

from conftest import git, make_repo

GITPROV = str(Path(sys.executable).parent / "gitprov")

#: Odd-but-valid (and some invalid) ways of writing the write rules into .git/config.
CONFIGS = {
    "repeated_upper_comments": (
        '[CORE]\n\tSHAREDREPOSITORY = 0660 ; octal\n[core "x"]\n\tfsync = all\n'
        "[core] # again\n\tFsync = committed,index # trailing\n"
    ),
    "bare_key_group": "[core]\n\tsharedRepository\n\tfsyncObjectFiles\n",
    "header_and_key_one_line": "[core]sharedRepository=group\n",
    "old_style_subsection": "[core.x]\n\tfsync = all\n[core]\n\tsharedRepository = group\n",
    "tabs_and_empty_value": "[core]\n\tsharedRepository\t=\tgroup\t\n\tfsync =\n",
    "vertical_tab_kept": "[core]\n\tfsync = all\x0b\n",
    "nbsp_in_value_kept": "[core]\n\tfsync = all\u00a0\n",
    # lines git refuses: the reader must leave them to git (None)
    "bare_key_then_comment": "[core]\n\tsharedRepository # group\n",
    "bare_key_then_semicolon": "[core]\n\tsharedRepository;group\n",
    "nbsp_indent": "[core]\n\u00a0sharedRepository = group\n",
    "form_feed_indent": "[core]\n\x0csharedRepository = group\n",
    "nbsp_before_header": "\u00a0[core]\n\tsharedRepository = group\n",
}


def _init(path: Path, extra: str) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    config = path / ".git" / "config"
    config.write_text(config.read_text() + extra, encoding="utf-8")
    return path


def _git_core(repo: Path) -> dict[str, str] | None:
    """``core.*`` (no subsections) as git reads it, or None when git refuses the config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    proc = subprocess.run(
        ["git", "-C", str(repo), "config", "-z", "--get-regexp", r"^core\."],
        capture_output=True,
        env=env,
        check=False,
    )
    if proc.returncode not in (0, 1):
        return None
    values = {}
    for item in proc.stdout.split(b"\0"):
        if item:
            key, sep, value = item.decode().partition("\n")
            if key.count(".") == 1:
                values[key] = value if sep else "true"
    return values


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_in_process_core_config_equals_git(tmp_path: Path, name: str) -> None:
    repo = _init(tmp_path / "r", CONFIGS[name])
    mine = config_from_files(repo / ".git", "core")
    theirs = _git_core(repo)
    if theirs is None:
        assert mine is None, f"git refuses this config, the reader took {mine}"
    elif mine is not None:
        assert mine == theirs


def _saver_code(repo: Path, ids: str) -> str:
    """A process saving ``ids`` (comma separated), printing each id once saved."""
    return (
        "import sys, gitprov\n"
        f"for sid in {ids!r}.split(','):\n"
        f"    with gitprov.record({str(repo)!r}, session_id=sid, params={{'id': sid}}):\n"
        "        pass\n"
        "    print(sid, flush=True)\n"
    )


def _modes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode)
        for p in root.rglob("*")
        if "tmp_" not in p.name
    }


@pytest.mark.parametrize(
    "extra",
    [
        "[core]\n\tsharedRepository # refused by git\n",
        "[Core] ; shared\n\tSharedRepository = group ; c\n[core]\n\tfsync = all # c\n",
        '[core "x"]\n\tsharedRepository = 0600\n[CORE]\n\tSHAREDREPOSITORY = 0660\n',
        "[core]\n\tsharedRepository\n",
    ],
)
def test_saved_files_get_the_modes_git_gives(tmp_path: Path, extra: str) -> None:
    repo = _init(tmp_path / "r", extra)
    refused = _git_core(repo) is None
    (repo / "a.txt").write_text("a\n")
    commit = subprocess.run(
        [GITPROV, "-C", str(repo), "run", "--", "true"], capture_output=True, text=True
    )
    if refused:  # git fails every command here: so must gitprov, not write around it
        assert commit.returncode != 0
        assert not list((repo / ".git" / "refs").rglob("provenance*"))
        return
    assert commit.returncode == 0, commit.stderr
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "-m", "git's own files")
    dot = repo / ".git"
    head = dot / "refs" / "heads" / "main"
    blob = git(repo, "rev-parse", "HEAD:a.txt").strip()
    git_object = stat.S_IMODE((dot / "objects" / blob[:2] / blob[2:]).stat().st_mode)
    git_dir = stat.S_IMODE((dot / "objects" / blob[:2]).stat().st_mode)
    git_ref = stat.S_IMODE(head.stat().st_mode)
    ours = [p for p in (dot / "refs").rglob("*") if "provenance" in str(p) and p.is_file()]
    assert ours
    for ref in ours:
        assert stat.S_IMODE(ref.stat().st_mode) == git_ref, ref
    for name, mode in _modes(dot / "objects").items():
        path = dot / "objects" / name
        if path.is_dir() and len(path.name) == 2:
            assert mode == git_dir, name
        elif path.is_file() and len(path.parent.name) == 2:
            assert mode == git_object, name


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GITPROV, "-C", str(repo), *args], capture_output=True, text=True, timeout=60
    )


def _check_consistent(repo: Path, saved: list[str]) -> None:
    assert saved
    assert len(saved) == len(set(saved))
    fsck = subprocess.run(
        ["git", "-C", str(repo), "fsck", "--full", "--strict"], capture_output=True, text=True
    )
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    verify = _run(repo, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    listed = _run(repo, "list", "--format", "ids")
    assert listed.returncode == 0, listed.stderr
    ids = listed.stdout.split()
    assert len(ids) == len(set(ids)), "a session listed twice"
    assert set(saved) <= set(ids), f"lost: {sorted(set(saved) - set(ids))}"


def test_concurrent_savers_beside_repack_and_gc(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    savers = [
        subprocess.Popen(
            [sys.executable, "-c", _saver_code(repo, ",".join(f"s{n}-{i}" for i in range(400)))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    end = time.monotonic() + 25
    maintenance = [
        ["repack", "-adq"],
        ["gc", "-q", "--prune=now"],
        ["maintenance", "run", "--task=gc", "--quiet"],
    ]
    rounds = 0
    while time.monotonic() < end and any(p.poll() is None for p in savers):
        git(repo, *maintenance[rounds % len(maintenance)])
        rounds += 1
    saved: list[str] = []
    for proc in savers:
        if proc.poll() is None:
            proc.terminate()  # between or inside saves: only what it printed counts
        out, err = proc.communicate(timeout=30)
        assert proc.returncode in (0, -15), err
        saved += out.split()
    assert rounds >= 3
    # a saver stopped inside a save may have spooled that record (kept, not lost): written
    # as a user would, before the check
    recovered = _run(repo, "recover")
    assert recovered.returncode == 0, recovered.stderr
    _check_consistent(repo, saved)


def test_kill_9_mid_save_keeps_the_repository_consistent(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    rng = random.Random(15)
    saved: list[str] = []
    for round_ in range(15):
        ids = ",".join(f"k{round_}-{i}" for i in range(50))
        proc = subprocess.Popen(
            [sys.executable, "-c", _saver_code(repo, ids)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        time.sleep(rng.uniform(0.2, 1.2))
        proc.kill()
        out, _ = proc.communicate(timeout=30)
        saved += out.split()
    # the repository still takes a save after every crash (no lock left behind)
    after = subprocess.run(
        [sys.executable, "-c", _saver_code(repo, "after")], capture_output=True, text=True
    )
    assert after.returncode == 0, after.stderr
    saved += after.stdout.split()
    _check_consistent(repo, saved)
