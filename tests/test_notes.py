"""The commit index in refs/notes/provenance, read and written beside the records."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitprov import GitSessionStore, SessionLog
from gitprov.errors import CorruptRecordError, GitProvError
from gitprov.store.notes import note_line, parse_line, with_line

from conftest import git, make_repo


def save(repo: Path, session_id: str, **data: object) -> None:
    store = GitSessionStore(path=str(repo / "sessions"), session_id=session_id, **data)
    store.save()


def note(repo: Path, rev: str = "HEAD") -> str:
    return git(repo, "notes", "--ref", "provenance", "show", rev)


def test_line_format_is_a_sorted_yaml_list(repo: Path) -> None:
    for sid in ("b-2", "a-1", "c-3"):
        save(repo, sid)
    text = note(repo)
    lines = text.splitlines()
    assert lines == sorted(lines)
    assert lines[0] == "- {session_id: a-1, branch: main, dirty: false, status: success}"
    items = yaml.safe_load(text)
    assert [i["session_id"] for i in items] == ["a-1", "b-2", "c-3"]


def test_resave_replaces_its_line(repo: Path) -> None:
    save(repo, "s1")
    store = GitSessionStore(path=str(repo), session_id="s1")
    store["exception"] = {"type": "RuntimeError", "value": "x", "traceback": []}
    store.save()
    assert note(repo).splitlines() == [
        "- {session_id: s1, branch: main, dirty: false, status: failed}"
    ]


def test_with_line_keeps_unparseable_lines_and_sorts() -> None:
    merged = with_line(b"- {session_id: z}\nnot: [yaml\n", "a", note_line({"session_id": "a"}))
    assert merged.decode().splitlines() == [
        "- {session_id: a, dirty: null}",
        "- {session_id: z}",
        "not: [yaml",
    ]


def test_for_commit_and_revision_syntax(repo: Path) -> None:
    save(repo, "on-first")
    (repo / "more.txt").write_text("m")
    git(repo, "add", "more.txt")
    git(repo, "commit", "-qm", "second")
    save(repo, "on-second")
    log = SessionLog(repo)
    assert [r["session_id"] for r in log.for_commit("HEAD")] == ["on-second"]
    assert [r["session_id"] for r in log.for_commit("HEAD~1")] == ["on-first"]
    assert log.for_commit("HEAD~1") == [
        {
            "session_id": "on-first",
            "branch": "main",
            "dirty": False,
            "status": "success",
            "commit": git(repo, "rev-parse", "HEAD~1").strip(),
        }
    ]
    with pytest.raises(GitProvError, match="not a commit"):
        log.for_commit("no-such-rev")


def test_commit_without_sessions(repo: Path) -> None:
    assert SessionLog(repo).for_commit("HEAD") == []
    save(repo, "s1")
    (repo / "x").write_text("x")
    git(repo, "add", "x")
    git(repo, "commit", "-qm", "x")
    assert SessionLog(repo).for_commit("HEAD") == []


def test_notes_off(repo: Path) -> None:
    save(repo, "s1", notes_ref=None)
    assert git(repo, "for-each-ref", "refs/notes").strip() == ""
    assert SessionLog(repo).get("s1")["session_id"] == "s1"
    with pytest.raises(GitProvError, match="turned off"):
        SessionLog(repo, notes_ref=None).for_commit("HEAD")


def test_note_written_by_git_itself_is_extended_in_place(repo: Path) -> None:
    git(repo, "notes", "--ref", "provenance", "add", "-m", "- {session_id: manual}", "HEAD")
    save(repo, "auto")
    assert note(repo).splitlines() == [
        "- {session_id: auto, branch: main, dirty: false, status: success}",
        "- {session_id: manual}",
    ]
    # one note object for HEAD, wherever it sits: git would concatenate duplicates
    listing = git(repo, "notes", "--ref", "provenance", "list").splitlines()
    assert len(listing) == 1


def test_hand_broken_note_is_named(repo: Path) -> None:
    save(repo, "s1")
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "notes", "--ref", "provenance", "add", "-f", "-m", "{{ not yaml", "HEAD")
    log = SessionLog(repo)
    with pytest.raises(CorruptRecordError, match=head):
        log.for_commit("HEAD")
    assert log.get("s1")["session_id"] == "s1"
    save(repo, "s2")  # a save on that commit still works
    assert log.get("s2")["session_id"] == "s2"


# gitprov.record(): the same save as the Kedro store's, without importing Kedro 24 times
SAVER = """
import sys, gitprov
with gitprov.record(sys.argv[1], session_id=sys.argv[2]):
    pass
"""


@pytest.mark.slow
def test_concurrent_saves_on_one_commit_keep_every_line(repo: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", SAVER, str(repo), f"c-{i:02d}"]) for i in range(24)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0] * 24
    lines = note(repo).splitlines()
    assert len(lines) == 24
    assert [yaml.safe_load(line)[0]["session_id"] for line in lines] == [
        f"c-{i:02d}" for i in range(24)
    ]
    assert len(SessionLog(repo).for_commit("HEAD")) == 24


def test_cat_sort_uniq_merges_two_clones(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin")
    a, b = tmp_path / "a", tmp_path / "b"
    git(tmp_path, "clone", "-q", str(origin), str(a))
    git(tmp_path, "clone", "-q", str(origin), str(b))
    save(a, "from-a")
    save(b, "from-b")
    git(a, "fetch", "-q", str(b), "refs/notes/provenance:refs/notes/b")
    git(a, "notes", "--ref", "provenance", "merge", "-q", "-s", "cat_sort_uniq", "refs/notes/b")
    items = yaml.safe_load(note(a))
    assert [i["session_id"] for i in items] == ["from-a", "from-b"]


@pytest.mark.parametrize(
    "fields",
    [
        {"session_id": "2026-11-24T10.30.45.123Z", "branch": "main", "dirty": True},
        {"session_id": "a:b", "branch": "feature/x", "dirty": False, "status": "failed"},
        {"session_id": "123", "branch": "true", "dirty": False, "snapshot": "0123456789"},
        {"session_id": "@odd", "branch": "it's", "dirty": None, "status": "- x"},
    ],
)
def test_parse_line_agrees_with_yaml(fields: dict[str, object]) -> None:
    line = note_line(fields)
    assert parse_line(line) == yaml.safe_load(line)[0]


def test_parse_line_reads_hand_written_yaml_and_refuses_the_rest() -> None:
    assert parse_line("-   {session_id: 7, dirty: yes}") == {"session_id": "7", "dirty": True}
    assert parse_line("- just text") is None
    assert parse_line("{{ broken") is None


def test_dirty_run_line_names_the_short_snapshot(repo: Path) -> None:
    (repo / "README.md").write_text("edited\n")
    save(repo, "d1")
    snapshot = SessionLog(repo).get("d1")["git"]["snapshot"]
    fields = "branch: main, dirty: true, status: success"
    assert note(repo).splitlines() == [f"- {{session_id: d1, {fields}, snapshot: {snapshot[:12]}}}"]
    assert SessionLog(repo).for_commit("HEAD")[0]["snapshot"] == snapshot[:12]
