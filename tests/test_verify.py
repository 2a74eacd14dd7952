"""``gitprov verify`` at scale: a fixed number of git processes, whatever the number of
records, and snapshot trees walked once each however many snapshots share them."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import gitprov
from gitprov.audit.verify import verify as verify_records
from gitprov.store.records import record_path

from conftest import git, remove_object


def dirty_saves(repo: Path, count: int, start: int = 0) -> list[str]:
    """``count`` dirty records, each with a snapshot of its own (one file differs)."""
    snapshots = []
    for n in range(start, start + count):
        (repo / "src" / "app.py").write_text(f"print({n})\n")
        with gitprov.record(repo, session_id=f"run-{n:03d}"):
            pass
        snapshots.append(str(gitprov.SessionLog(repo).get(f"run-{n:03d}")["git"]["snapshot"]))
    return snapshots


def verify(repo: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``gitprov verify`` as a user would, with a shim on PATH logging each git call."""
    real = shutil.which("git")
    assert real is not None
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    log.write_text("")
    script = shim / "git"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-m", "gitprov", "-C", str(repo), "verify"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc, log.read_text().splitlines()


def test_verify_starts_as_many_git_processes_for_12_records_as_for_2(
    repo: Path, tmp_path: Path
) -> None:
    dirty_saves(repo, 2)
    few, few_calls = verify(repo, tmp_path)
    assert few.returncode == 0, few.stdout + few.stderr
    dirty_saves(repo, 10, start=2)
    many, many_calls = verify(repo, tmp_path)
    assert many.returncode == 0, many.stdout + many.stderr
    assert many.stdout == "ok: 12 record(s) verified\n"
    assert len(many_calls) == len(few_calls) <= 7, many_calls


def test_a_missing_file_deep_in_a_shared_folder_is_named_for_every_snapshot(
    repo: Path, tmp_path: Path
) -> None:
    deep = repo / "data" / "raw" / "2026"
    deep.mkdir(parents=True)
    (deep / "input.csv").write_text("a,b\n1,2\n")  # untracked: only in the snapshots
    snapshots = dirty_saves(repo, 2)
    blob = git(repo, "rev-parse", f"{snapshots[0]}:data/raw/2026/input.csv").strip()
    assert blob == git(repo, "rev-parse", f"{snapshots[1]}:data/raw/2026/input.csv").strip()
    remove_object(repo, blob)
    proc, _ = verify(repo, tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"run-{n:03d}: snapshot {snapshots[n][:12]}: "
        f"file data/raw/2026/input.csv ({blob[:12]}) is missing"
        for n in range(2)
    ]


def test_an_unreadable_folder_is_named_and_the_other_records_still_checked(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "only-first").mkdir()
    (repo / "only-first" / "notes.txt").write_text("first\n")
    first = dirty_saves(repo, 1)[0]
    shutil.rmtree(repo / "only-first")
    (repo / "kept.txt").write_text("second\n")
    second = dirty_saves(repo, 1, start=1)[0]
    folder = git(repo, "rev-parse", f"{first}:only-first").strip()
    kept = git(repo, "rev-parse", f"{second}:kept.txt").strip()
    remove_object(repo, folder)
    remove_object(repo, kept)
    proc, _ = verify(repo, tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"run-000: snapshot {first[:12]}: its tree {folder[:12]} cannot be read",
        f"run-001: snapshot {second[:12]}: file kept.txt ({kept[:12]}) is missing",
    ]


def hand_edit(repo: Path, records: dict[str, str]) -> None:
    """Commit ``records`` (id -> YAML text, as written by hand or by another tool) on the
    records ref, as one more commit, leaving the rest of the tree as it is."""
    stream = b"commit refs/provenance/sessions\ncommitter T <t@example.com> 0 +0000\n"
    stream += b"data 9\nhand edit\nfrom refs/provenance/sessions^0\n"
    for session_id, text in records.items():
        body = text.encode()
        stream += f"M 100644 inline {record_path(session_id)}\n".encode()
        stream += b"data %d\n%s\n" % (len(body), body)
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=stream, check=True)


def test_odd_types_and_broken_records_are_one_line_each_and_the_rest_is_checked(
    repo: Path, tmp_path: Path
) -> None:
    dirty_saves(repo, 1)
    head = git(repo, "rev-parse", "HEAD").strip()
    missing = "0" * 40
    hand_edit(
        repo,
        {
            "odd-commit": "session_id: odd-commit\ngit:\n  commit: 12345\n",
            "odd-git": "session_id: odd-git\ngit:\n- a\n- b\n",
            "odd-run": f"session_id: odd-run\nrun:\n- 1\n- 2\ngit:\n  commit: {head}\n",
            "odd-snapshot": (
                f"session_id: odd-snapshot\ngit:\n  commit: '{missing}'\n  snapshot:\n    a: 1\n"
            ),
            "no-yaml": "session_id: [no-yaml\n",
            "not-a-mapping": "- just\n- a list\n",
        },
    )
    proc, _ = verify(repo, tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    named = [line.split(":", 1)[0] for line in lines]
    expected = ["no-yaml", "not-a-mapping", "odd-commit", "odd-git", "odd-run", "odd-snapshot"]
    assert named == [*expected, "odd-snapshot"], lines  # and its missing commit
    said = dict(reversed(list(zip(named, lines, strict=True))))  # each record's first line
    for broken in ("no-yaml", "not-a-mapping", "odd-git"):
        assert said[broken].startswith(f"{broken}: record does not parse: "), said[broken]
    assert "git.commit" in said["odd-commit"] and "missing" not in said["odd-commit"]
    assert "run" in said["odd-run"].split(":", 1)[1]
    assert "git.snapshot" in said["odd-snapshot"]
    assert lines[-1] == f"odd-snapshot: commit {missing} is missing from the repository"
    assert proc.stderr.splitlines()[-1] == "7 problem(s) in 7 record(s)"


def test_a_named_broken_record_is_one_line_and_the_good_one_passes(
    repo: Path, tmp_path: Path
) -> None:
    dirty_saves(repo, 1)
    hand_edit(repo, {"bad": "session_id: bad\ngit: 12345\n"})
    log = gitprov.SessionLog(repo)
    checked, problems = verify_records(log, ["run-000"])
    assert (checked, problems) == (1, [])
    checked, problems = verify_records(log, ["bad", "run-000"])
    assert checked == 2
    assert len(problems) == 1 and problems[0].startswith("bad: record does not parse: ")


def test_a_commit_only_a_branch_keeps_is_named_and_a_pinned_one_passes(
    repo: Path, tmp_path: Path
) -> None:
    with gitprov.record(repo, session_id="pinned"):
        pass
    git(repo, "switch", "-q", "-c", "side")
    (repo / "side.txt").write_text("side\n")
    git(repo, "add", "side.txt")
    git(repo, "commit", "-q", "-m", "side")
    side = git(repo, "rev-parse", "HEAD").strip()
    hand_edit(repo, {"unpinned": f"session_id: unpinned\ngit:\n  commit: '{side}'\n"})
    proc, calls = verify(repo, tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"unpinned: commit {side} is not reachable from refs/provenance/sessions; "
        "git gc may delete it"
    ]
    assert sum(" rev-list " in call for call in calls) == 1, calls


def test_a_commit_that_is_no_object_id_is_named_not_looked_up(repo: Path, tmp_path: Path) -> None:
    with gitprov.record(repo, session_id="fine"):
        pass
    hand_edit(
        repo,
        {
            "by-name": "session_id: by-name\ngit:\n  commit: HEAD\n",
            "two-lines": 'session_id: two-lines\ngit:\n  snapshot: "HEAD\\nHEAD"\n',
        },
    )
    proc, _ = verify(repo, tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines() == [
        "by-name: commit 'HEAD' is not an object id",
        "two-lines: snapshot 'HEAD\\nHEAD' is not an object id",
    ]


def test_progress_on_a_terminal_only(repo: Path, tmp_path: Path) -> None:
    from test_index import _stderr_on_a_terminal

    dirty_saves(repo, 3)
    script = "import sys\nfrom gitprov.cli import main\nmain(['-C', sys.argv[1], 'verify'])"
    shown = _stderr_on_a_terminal(script, str(repo))
    assert b"\rVerifying records: 100% (3/3), done." in shown, shown
    assert re.search(rb"\rReading snapshots: 100% \((\d+)/\1\), done\.", shown), shown
    proc, _ = verify(repo, tmp_path)  # stderr a pipe: nothing but the verdict
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "ok: 3 record(s) verified\n", "")
