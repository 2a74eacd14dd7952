"""GitSessionStore and the records ref, driven the way Kedro drives them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitprov import GitSessionStore, SessionLog, SessionNotFoundError
from gitprov.errors import AmbiguousSessionIdError, CorruptRecordError, InvalidSessionIdError

from conftest import git, make_repo

SID = "2026-11-24T10.30.45.123Z"


def kedro_like_save(repo: Path, session_id: str = SID, **extra: object) -> GitSessionStore:
    """Construct and fill the store as KedroSession.create() and close() do."""
    store = GitSessionStore(path=(repo / "sessions").as_posix(), session_id=session_id)
    store.update(
        {
            "project_path": repo,
            "session_id": session_id,
            "username": "ann",
            "cli": {"args": [], "params": {"pipeline": None}, "command_path": "kedro run"},
            "git": {"commit_sha": "short", "dirty": False},
            **extra,
        }
    )
    store.save()
    return store


def user_state(repo: Path) -> dict[str, object]:
    """Everything recording must leave alone, byte for byte."""
    gitdir = repo / ".git"
    files = {
        str(p.relative_to(repo)): p.read_bytes()
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }
    return {
        "index": (gitdir / "index").read_bytes(),
        "HEAD": (gitdir / "HEAD").read_bytes(),
        "head_reflog": (gitdir / "logs" / "HEAD").read_bytes(),
        "refs": git(repo, "for-each-ref", "refs/heads", "refs/tags"),
        "files": files,
    }


def test_construction_of_new_id_succeeds_and_read_raises(repo: Path) -> None:
    store = GitSessionStore(path=str(repo / "sessions"), session_id=SID)
    assert store.session_id == SID and store.path == str(repo / "sessions")
    assert dict(store) == {}
    with pytest.raises(SessionNotFoundError) as info:
        store.read()
    assert isinstance(info.value, FileNotFoundError)


def test_save_then_read_back(repo: Path) -> None:
    kedro_like_save(repo, exception={"type": "ValueError", "value": "boom", "traceback": ["x"]})
    again = GitSessionStore(path=str(repo / "sessions"), session_id=SID)
    record = again.read()
    assert dict(again) == record
    assert record["session_id"] == SID
    assert record["project_path"] == str(repo)
    assert record["exception"]["value"] == "boom"
    head = git(repo, "rev-parse", "HEAD").strip()
    assert record["git"]["commit"] == head
    assert record["git"]["commit_sha"] == head[:7]
    assert record["git"]["dirty"] is False
    assert SessionLog(repo).get(SID) == record


def test_storage_layout_and_commit(repo: Path) -> None:
    kedro_like_save(repo)
    bucket = hashlib.sha1(SID.encode()).hexdigest()[:2]
    listing = git(repo, "ls-tree", "-r", "--name-only", "refs/provenance/sessions").split()
    assert sorted(listing) == sorted(["FORMAT", f"{bucket}/{SID}.yaml"])
    text = git(repo, "show", f"refs/provenance/sessions:{bucket}/{SID}.yaml")
    assert yaml.safe_load(text)["session_id"] == SID
    assert text.startswith(f"session_id: {SID}\n")
    message = git(repo, "log", "-1", "--format=%s", "refs/provenance/sessions").strip()
    assert message == f"gitprov: save session {SID}"


def test_resave_replaces_and_history_keeps_old(repo: Path) -> None:
    kedro_like_save(repo, env="first")
    kedro_like_save(repo, env="second")
    assert SessionLog(repo).get(SID)["env"] == "second"
    assert SessionLog(repo).ids() == [SID]
    log = git(repo, "log", "--first-parent", "--format=%H", "refs/provenance/sessions").split()
    assert len(log) == 3  # the root commit holding FORMAT, then two saves
    bucket = hashlib.sha1(SID.encode()).hexdigest()[:2]
    old = git(repo, "show", f"{log[1]}:{bucket}/{SID}.yaml")
    assert yaml.safe_load(old)["env"] == "first"


def test_save_with_data_argument(repo: Path) -> None:
    store = GitSessionStore(path=str(repo), session_id="s1")
    store.save({"env": "prod"})
    assert SessionLog(repo).get("s1")["env"] == "prod"


def test_unserialisable_values_never_fail_a_save(repo: Path) -> None:
    kedro_like_save(repo, weird={"set": {1, 2}, "obj": object(), "path": Path("/x")})
    weird = SessionLog(repo).get(SID)["weird"]
    assert weird["set"] == [1, 2] and weird["path"] == "/x"
    assert weird["obj"].startswith("<object object at")


def test_dirty_run_lists_changes(repo: Path) -> None:
    (repo / "README.md").write_text("edited\n")
    (repo / "new.txt").write_text("new\n")
    kedro_like_save(repo)
    record = SessionLog(repo).get(SID)
    assert record["git"]["dirty"] is True
    assert record["git"]["changes"] == [
        {"path": "README.md", "status": "modified"},
        {"path": "new.txt", "status": "untracked"},
    ]


def test_unborn_branch_records_without_note(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a.py").write_text("a")
    kedro_like_save(tmp_path)
    record = SessionLog(tmp_path).get(SID)
    assert record["git"]["commit"] is None and record["git"]["branch"] == "main"
    assert git(tmp_path, "for-each-ref", "refs/notes").strip() == ""


def test_detached_head_run(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    kedro_like_save(repo)
    git_section = SessionLog(repo).get(SID)["git"]
    assert git_section["detached"] is True and git_section["branch"] is None


def test_unique_prefix_and_ambiguity(repo: Path) -> None:
    for sid in ("2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z", "2027-01-01T00.00.00.000Z"):
        kedro_like_save(repo, sid)
    log = SessionLog(repo)
    assert log.get("2027")["session_id"] == "2027-01-01T00.00.00.000Z"
    with pytest.raises(AmbiguousSessionIdError, match=r"'2026-01' is ambiguous \(2 sessions"):
        log.get("2026-01")
    with pytest.raises(SessionNotFoundError):
        log.get("1999")
    assert log.ids() == sorted(log.ids()) and len(log.ids()) == 3


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a/b", "x\ny", "", "z" * 300])
def test_invalid_id_fails_at_construction(repo: Path, bad: str) -> None:
    with pytest.raises(InvalidSessionIdError):
        GitSessionStore(path=str(repo), session_id=bad)
    with pytest.raises(InvalidSessionIdError):
        SessionLog(repo).get(bad)


def test_corrupt_record_is_named_and_others_still_readable(repo: Path) -> None:
    kedro_like_save(repo, "good-1")
    kedro_like_save(repo, "bad-1")
    # Replace bad-1's blob with invalid YAML using plain git plumbing (a hand edit).
    bucket = hashlib.sha1(b"bad-1").hexdigest()[:2]
    tip = git(repo, "rev-parse", "refs/provenance/sessions").strip()
    env_index = repo / ".git" / "tmp-index"
    env = {**os.environ, "GIT_INDEX_FILE": str(env_index)}
    blob = (
        subprocess.run(
            ["git", "-C", str(repo), "hash-object", "-w", "--stdin"],
            input=b"key: [unclosed\n",
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    subprocess.run(["git", "-C", str(repo), "read-tree", tip], env=env, check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "update-index",
            "--cacheinfo",
            f"100644,{blob},{bucket}/bad-1.yaml",
        ],
        env=env,
        check=True,
    )
    tree = (
        subprocess.run(
            ["git", "-C", str(repo), "write-tree"], env=env, capture_output=True, check=True
        )
        .stdout.decode()
        .strip()
    )
    commit = git(repo, "commit-tree", tree, "-p", tip, "-m", "hand edit").strip()
    git(repo, "update-ref", "refs/provenance/sessions", commit, tip)
    log = SessionLog(repo)
    with pytest.raises(CorruptRecordError, match="bad-1") as info:
        log.get("bad-1")
    assert f"git show refs/provenance/sessions:{bucket}/bad-1.yaml" in str(info.value)
    assert log.get("good-1")["session_id"] == "good-1"
    assert set(log.ids()) == {"good-1", "bad-1"}
    # the CLI lists the readable records, names the broken one on stderr, exits 1
    for args in (["list"], ["list", "--commit", "HEAD"], ["list", "--format", "json"]):
        proc = subprocess.run(
            [sys.executable, "-m", "gitprov", "-C", str(repo), *args], capture_output=True
        )
        assert proc.returncode == 1, args
        assert b"good-1" in proc.stdout and b"bad-1" not in proc.stdout, args
        errors = proc.stderr.decode().strip().splitlines()
        assert len(errors) == 1 and "session bad-1 is not valid YAML" in errors[0], args
    verify = subprocess.run(
        [sys.executable, "-m", "gitprov", "-C", str(repo), "verify"], capture_output=True
    )
    assert verify.returncode == 1 and b"bad-1: record does not parse" in verify.stdout


def test_user_state_untouched(repo: Path) -> None:
    (repo / "README.md").write_text("dirty work in progress\n")
    (repo / "staged.py").write_text("staged\n")
    git(repo, "add", "staged.py")
    git(repo, "tag", "v1")
    before = user_state(repo)
    for i in range(3):
        kedro_like_save(repo, f"s{i}")
    assert user_state(repo) == before


def test_no_identity_and_gpgsign_on(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    git(repo, "config", "commit.gpgsign", "true")
    git(repo, "config", "gpg.program", "/bin/false")
    git(repo, "config", "user.useConfigOnly", "true")
    kedro_like_save(repo)
    assert SessionLog(repo).get(SID)["session_id"] == SID


def test_leaked_git_environment_is_ignored(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_repo(tmp_path / "other")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    kedro_like_save(repo)
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_INDEX_FILE")
    monkeypatch.delenv("GIT_WORK_TREE")
    assert SessionLog(repo).ids() == [SID]
    assert git(other, "for-each-ref", "refs/provenance").strip() == ""


# gitprov.record(): the same save as the Kedro store's, without importing Kedro 8 times
SAVER = """
import sys, gitprov
repo, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(count):
    with gitprov.record(repo, session_id=f"w{worker}-s{i}") as rec:
        rec["worker"] = worker
"""


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(repo: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", SAVER, str(repo), str(w), "6"]) for w in range(8)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0] * 8
    ids = SessionLog(repo).ids()
    assert len(ids) == 48
    assert set(ids) == {f"w{w}-s{i}" for w in range(8) for i in range(6)}
    commits = git(repo, "rev-list", "--first-parent", "--count", "refs/provenance/sessions").strip()
    assert commits == "49"  # 48 saves on top of the root commit
    note = git(repo, "notes", "--ref", "provenance", "show", "HEAD")
    assert len(note.splitlines()) == 48
    fsck = subprocess.run(
        ["git", "-C", str(repo), "fsck", "--strict"], capture_output=True, text=True
    )
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr


def test_every_repository_starts_from_the_same_root(repo: Path, tmp_path: Path) -> None:
    other = make_repo(tmp_path / "other", {"x.txt": "unrelated\n"})
    kedro_like_save(repo)
    kedro_like_save(other)
    roots = [
        git(r, "rev-list", "--max-parents=0", "--first-parent", "refs/provenance/sessions").strip()
        for r in (repo, other)
    ]
    assert roots[0] == roots[1]
    assert git(repo, "show", "-s", "--format=%s", roots[0]).strip() == (
        "gitprov: start provenance records"
    )
