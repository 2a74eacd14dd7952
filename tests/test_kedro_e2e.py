"""End to end: a real Kedro project in a real git repository, run with ``python -m kedro run``.

No mocks. The expensive part (each ``kedro run`` is a 2-3 s subprocess) happens once per
module in the fixtures below; the tests then inspect what those runs left behind.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitprov import GitProvError, GitSessionStore, SessionLog, SessionNotFoundError

from conftest import cli, git, make_repo
from kedro_project import FAIL_MESSAGE, MARKER_ENV, kedro_env, kedro_run, make_kedro_project

USER = getpass.getuser()


# -- helpers ------------------------------------------------------------------------------


def user_state(repo: Path) -> dict[str, Any]:
    """Everything of the user's that a run must leave alone, byte for byte."""
    gitdir = repo / ".git"
    return {
        "index": (gitdir / "index").read_bytes(),
        "HEAD": (gitdir / "HEAD").read_bytes(),
        "head_reflog": (gitdir / "logs" / "HEAD").read_bytes(),
        "refs": git(repo, "for-each-ref", "refs/heads", "refs/tags", "refs/stash"),
        "files": {
            p.relative_to(repo).as_posix(): p.read_bytes()
            for p in sorted(repo.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(repo).parts
        },
    }


def settle(repo: Path) -> None:
    """Let git refresh the index's stat data once (Kedro itself runs ``git status``)."""
    git(repo, "status", "--porcelain")


def note_entries(repo: Path, rev: str = "HEAD") -> list[dict[str, Any]]:
    """The note on ``rev``, one dict per line, without the optional ``snapshot`` field
    (checked here instead: the short id of a commit, the one the record names)."""
    text = git(repo, "notes", "--ref", "provenance", "show", rev)
    lines = text.splitlines()
    assert lines == sorted(lines), text
    assert all(line.startswith("- {session_id: ") for line in lines), text
    entries = yaml.safe_load(text)
    assert isinstance(entries, list), text
    result = []
    for item in entries:
        assert set(item) <= {"session_id", "branch", "dirty", "status", "snapshot"}, item
        snapshot = item.pop("snapshot", None)
        if snapshot is not None:
            assert git(repo, "cat-file", "-t", snapshot).strip() == "commit"
            record = SessionLog(repo).get(str(item["session_id"]))
            assert len(snapshot) == 12 and record["git"]["snapshot"].startswith(snapshot)
        result.append(item)
    return result


def entry(session_id: str, *, dirty: bool, status: str, branch: str = "main") -> dict[str, Any]:
    """A note line as DESIGN.md section 5 shows it, parsed."""
    return {"session_id": session_id, "branch": branch, "dirty": dirty, "status": status}


def stored_paths(repo: Path) -> list[str]:
    out = git(repo, "ls-tree", "-r", "--name-only", "refs/provenance/sessions")
    return sorted(out.splitlines())


def record_file(session_id: str) -> str:
    """Where DESIGN.md section 5 says a record lives in the records ref's tree."""
    return f"{hashlib.sha1(session_id.encode()).hexdigest()[:2]}/{session_id}.yaml"


@dataclass
class Run:
    proc: subprocess.CompletedProcess[str]
    new_ids: list[str]
    before: dict[str, Any]
    after: dict[str, Any]
    note: list[dict[str, Any]]
    stored: list[str]

    @property
    def session_id(self) -> str:
        assert len(self.new_ids) == 1, (self.new_ids, self.proc.stdout, self.proc.stderr)
        return self.new_ids[0]

    @property
    def output(self) -> str:
        """stdout and stderr with Rich's line wrapping undone."""
        return " ".join((self.proc.stdout + self.proc.stderr).split())


def run_once(project: Path, repo: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    """One ``kedro run``, with everything the tests want to know about it."""
    settle(repo)
    before_ids = SessionLog(repo).ids()
    before = user_state(repo)
    proc = kedro_run(project, *args, env=env)
    after = user_state(repo)
    new_ids = [i for i in SessionLog(repo).ids() if i not in before_ids]
    return Run(
        proc=proc,
        new_ids=new_ids,
        before=before,
        after=after,
        note=note_entries(repo),
        stored=stored_paths(repo),
    )


@dataclass
class Runs:
    repo: Path
    project: Path
    head: str
    short: str
    clean: Run
    clean_marker: str
    dirty: Run
    dirty_marker: str
    failed: Run
    failed_marker_exists: bool


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Runs:
    """A project at the root of its repository, run clean, then dirty, then failing."""
    base = tmp_path_factory.mktemp("e2e")
    repo = base / "repo"
    make_kedro_project(repo)
    make_repo(repo, {"README.md": "demo\n"})
    git(repo, "tag", "-a", "v0.1", "-m", "first release")
    head = git(repo, "rev-parse", "HEAD").strip()
    short = git(repo, "rev-parse", "--short", "HEAD").strip()
    marker = base / "marker.txt"  # outside the work tree
    env = {MARKER_ENV: str(marker)}

    clean = run_once(repo, repo, env=env)
    clean_marker = marker.read_text() if marker.exists() else ""

    (repo / "conf/base/parameters.yml").write_text("n: 5\nfail: false\n")
    (repo / "notes").mkdir()
    (repo / "notes/new.md").write_text("an untracked note\n")
    marker.unlink(missing_ok=True)
    dirty = run_once(repo, repo, env=env)
    dirty_marker = marker.read_text() if marker.exists() else ""

    git(repo, "checkout", "-q", "--", "conf/base/parameters.yml")
    (repo / "notes/new.md").unlink()
    (repo / "notes").rmdir()
    marker.unlink(missing_ok=True)
    failed = run_once(repo, repo, "--params", "fail=true", env=env)

    return Runs(
        repo=repo,
        project=repo,
        head=head,
        short=short,
        clean=clean,
        clean_marker=clean_marker,
        dirty=dirty,
        dirty_marker=dirty_marker,
        failed=failed,
        failed_marker_exists=marker.exists(),
    )


@dataclass
class SubdirRun:
    repo: Path
    project: Path
    head: str
    run: Run


@pytest.fixture(scope="module")
def subdir(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> SubdirRun:
    """The Kedro project two levels below the repository root, run on a dirty tree."""
    repo = tmp_path_factory.mktemp("e2e-sub") / "mono"
    project = make_kedro_project(repo / "analysis" / "kedro", package="sub_pkg")
    make_repo(repo, {"README.md": "monorepo\n", "lib/util.py": "X = 1\n"})
    (project / "conf/base/parameters.yml").write_text("n: 3\nfail: false\n")
    (repo / "lib/util.py").write_text("X = 2\n")
    (repo / "todo.txt").write_text("untracked at the root\n")
    head = git(repo, "rev-parse", "HEAD").strip()
    return SubdirRun(repo=repo, project=project, head=head, run=run_once(project, repo))


# -- the clean run ------------------------------------------------------------------------


def test_clean_run_succeeds_and_leaves_exactly_one_record(runs: Runs) -> None:
    run = runs.clean
    assert run.proc.returncode == 0, run.output
    assert runs.clean_marker == "total=10\n"  # the last node ran: n: 4, 1+2+3+4
    assert len(run.new_ids) == 1
    assert run.stored == sorted(["FORMAT", record_file(run.session_id)])
    assert SessionLog(runs.repo).ids()[0] == run.session_id


def test_clean_record_has_kedros_keys(runs: Runs) -> None:
    sid = runs.clean.session_id
    record = SessionLog(runs.project).get(sid)
    assert list(record)[:4] == ["session_id", "project_path", "username", "cli"]
    assert record["session_id"] == sid
    assert record["project_path"] == str(runs.project.resolve())
    assert record["username"] == USER
    assert record["cli"]["command_path"] == "kedro run"
    assert record["cli"]["command_name"] == "run"
    assert record["cli"]["params"]["params"] == {}
    assert "exception" not in record
    assert "runtime_params" not in record
    assert record["git"]["commit_sha"] == runs.short
    assert record["git"]["dirty"] is False


def test_clean_record_has_the_full_git_section(runs: Runs) -> None:
    git_section = SessionLog(runs.repo).get(runs.clean.session_id)["git"]
    assert git_section["commit"] == runs.head
    assert len(git_section["commit"]) == 40
    assert git_section["branch"] == "main"
    assert git_section["detached"] is False
    assert git_section["upstream"] is None
    assert git_section["ahead"] is None and git_section["behind"] is None
    assert git_section["changes"] == []
    assert git_section["remotes"] == {}
    assert git_section["describe"] == f"v0.1-0-g{runs.short}"
    assert list(SessionLog(runs.repo).get(runs.clean.session_id))[-2:] == ["git", "provenance"]


def test_record_reads_back_through_the_kedro_store(runs: Runs) -> None:
    sid = runs.clean.session_id
    store = GitSessionStore(path=(runs.project / "sessions").as_posix(), session_id=sid)
    record = store.read()
    assert record == SessionLog(runs.project).get(sid)
    assert dict(store) == record
    raw = git(runs.repo, "show", f"refs/provenance/sessions:{record_file(sid)}")
    assert yaml.safe_load(raw) == record
    assert raw.startswith(f"session_id: {sid}\n")


def test_unknown_id_is_not_found_through_the_kedro_store(runs: Runs) -> None:
    store = GitSessionStore(
        path=(runs.project / "sessions").as_posix(), session_id="1999-01-01T00.00.00.000Z"
    )
    assert dict(store) == {}
    with pytest.raises(SessionNotFoundError):
        store.read()


def test_clean_run_is_indexed_in_the_note_on_head(runs: Runs) -> None:
    assert runs.clean.note == [entry(runs.clean.session_id, dirty=False, status="success")]
    found = SessionLog(runs.repo).for_commit("HEAD")
    ids = [r["session_id"] for r in found]
    assert ids == [runs.clean.session_id, runs.dirty.session_id, runs.failed.session_id]


# -- the dirty run ------------------------------------------------------------------------


def test_dirty_run_ran_the_uncommitted_code(runs: Runs) -> None:
    assert runs.dirty.proc.returncode == 0, runs.dirty.output
    assert runs.dirty_marker == "total=15\n"  # n: 5 from the modified parameters.yml


def test_dirty_record_lists_modified_and_untracked_paths(runs: Runs) -> None:
    record = SessionLog(runs.repo).get(runs.dirty.session_id)
    git_section = record["git"]
    assert git_section["dirty"] is True
    assert git_section["commit"] == runs.head
    assert git_section["commit_sha"] == runs.short
    assert git_section["branch"] == "main"
    assert git_section["changes"] == [
        {"path": "conf/base/parameters.yml", "status": "modified"},
        {"path": "notes/new.md", "status": "untracked"},
    ]
    assert "exception" not in record


def test_dirty_record_snapshot_holds_the_code_that_ran(runs: Runs) -> None:
    snapshot = SessionLog(runs.repo).get(runs.dirty.session_id)["git"]["snapshot"]
    assert git(runs.repo, "cat-file", "-t", snapshot).strip() == "commit"
    changed = git(runs.repo, "diff", "--name-status", runs.head, snapshot).splitlines()
    assert changed == ["M\tconf/base/parameters.yml", "A\tnotes/new.md"]
    assert git(runs.repo, "show", f"{snapshot}:conf/base/parameters.yml") == "n: 5\nfail: false\n"
    assert git(runs.repo, "show", f"{snapshot}:notes/new.md") == "an untracked note\n"
    assert SessionLog(runs.repo).get(runs.clean.session_id)["git"].get("snapshot") is None


def test_dirty_run_note_line(runs: Runs) -> None:
    assert runs.dirty.note == [
        entry(runs.clean.session_id, dirty=False, status="success"),
        entry(runs.dirty.session_id, dirty=True, status="success"),
    ]


# -- the failing run ----------------------------------------------------------------------


def test_failing_run_exits_non_zero_before_the_last_node(runs: Runs) -> None:
    run = runs.failed
    assert run.proc.returncode != 0
    assert FAIL_MESSAGE in run.output
    assert runs.failed_marker_exists is False


def test_failing_run_still_leaves_a_record_with_the_exception(runs: Runs) -> None:
    record = SessionLog(runs.repo).get(runs.failed.session_id)
    exception = record["exception"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == FAIL_MESSAGE
    assert isinstance(exception["traceback"], list) and exception["traceback"]
    assert any("pipeline_registry.py" in frame for frame in exception["traceback"])
    assert record["runtime_params"] == {"fail": True}
    assert record["git"]["dirty"] is False
    assert record["git"]["commit"] == runs.head
    assert list(record)[-3:] == ["exception", "git", "provenance"]


def test_failing_run_note_says_failed(runs: Runs) -> None:
    assert [e["session_id"] for e in runs.failed.note] == [
        runs.clean.session_id,
        runs.dirty.session_id,
        runs.failed.session_id,
    ]
    assert [e["status"] for e in runs.failed.note] == ["success", "success", "failed"]
    assert runs.failed.stored == sorted(
        ["FORMAT", *(record_file(r.session_id) for r in (runs.clean, runs.dirty, runs.failed))]
    )


# -- what a run must not touch ------------------------------------------------------------


@pytest.mark.parametrize("which", ["clean", "dirty", "failed"])
def test_run_leaves_index_head_refs_and_work_tree_unchanged(runs: Runs, which: str) -> None:
    run: Run = getattr(runs, which)
    for key in ("index", "HEAD", "head_reflog", "refs", "files"):
        assert run.after[key] == run.before[key], f"{which} run changed {key}"
    assert "refs/heads/main" in run.after["refs"]
    assert "refs/tags/v0.1" in run.after["refs"]
    assert "sessions" not in {Path(name).parts[0] for name in run.after["files"]}


# -- a project in a subdirectory of the repository ----------------------------------------


def test_project_in_subdirectory(subdir: SubdirRun) -> None:
    run = subdir.run
    assert run.proc.returncode == 0, run.output
    record = SessionLog(subdir.project).get(run.session_id)
    assert record["project_path"] == str(subdir.project.resolve())
    assert record["git"]["commit"] == subdir.head
    assert record["git"]["dirty"] is True
    assert record["git"]["changes"] == [
        {"path": "analysis/kedro/conf/base/parameters.yml", "status": "modified"},
        {"path": "lib/util.py", "status": "modified"},
        {"path": "todo.txt", "status": "untracked"},
    ]
    assert run.note == [entry(run.session_id, dirty=True, status="success")]
    assert SessionLog(subdir.repo).get(run.session_id) == record
    changed = git(subdir.repo, "diff", "--name-only", subdir.head, record["git"]["snapshot"])
    assert changed.split() == ["analysis/kedro/conf/base/parameters.yml", "lib/util.py", "todo.txt"]
    for key in ("index", "HEAD", "refs", "files"):
        assert run.after[key] == run.before[key], key


def test_cli_from_the_subdirectory(subdir: SubdirRun) -> None:
    proc = cli("-C", str(subdir.project / "src"), "list", "--format", "ids")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [subdir.run.session_id]


# -- no git repository --------------------------------------------------------------------


def test_project_outside_git_fails_before_the_pipeline(tmp_path: Path) -> None:
    project = make_kedro_project(tmp_path / "plain")
    marker = tmp_path / "marker.txt"
    proc = kedro_run(
        project, env={MARKER_ENV: str(marker), "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    )
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0
    assert not marker.exists()
    assert "not inside a git repository" in output
    assert "git init" in output
    assert "Running node" not in output
    assert not (project / ".git").exists()
    assert not (project / "sessions").exists()


# -- the CLI on the recorded runs ---------------------------------------------------------


def test_cli_list_ids_and_table(runs: Runs) -> None:
    ids = [runs.failed.session_id, runs.dirty.session_id, runs.clean.session_id]  # newest first
    proc = cli("-C", str(runs.project), "list", "--format", "ids")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ids

    table = cli("-C", str(runs.project), "list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "SESSION", "STARTED", "DURATION", "STATUS", "COMMIT", "BRANCH", "TREE", "WHAT", "USER"
    ]  # fmt: skip
    # id, date, time, duration, status, commit, branch, tree, what (the pipeline), user
    assert [[*line.split()[:1], *line.split()[4:]] for line in lines[1:]] == [
        [ids[0], "failed", runs.head[:12], "main", "clean", "__default__", USER],
        [ids[1], "success", runs.head[:12], "main", "dirty", "__default__", USER],
        [ids[2], "success", runs.head[:12], "main", "clean", "__default__", USER],
    ]


def test_cli_list_filters(runs: Runs) -> None:
    def ids(*args: str) -> list[str]:
        proc = cli("-C", str(runs.project), "list", "--format", "ids", *args)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert ids("--dirty") == [runs.dirty.session_id]
    assert ids("--clean") == [runs.failed.session_id, runs.clean.session_id]
    assert ids("--commit", "HEAD") == [
        runs.failed.session_id,
        runs.dirty.session_id,
        runs.clean.session_id,
    ]
    assert ids("--limit", "1") == [runs.failed.session_id]
    assert ids("--status", "failed", "--where", "run.pipeline_names~default") == [
        runs.failed.session_id
    ]
    as_json = json.loads(cli("-C", str(runs.project), "list", "--format", "json").stdout)
    assert [r["dirty"] for r in as_json] == [False, True, False]


def test_cli_show(runs: Runs) -> None:
    sid = runs.dirty.session_id
    proc = cli("-C", str(runs.project), "show", sid)
    assert proc.returncode == 0, proc.stderr
    shown = yaml.safe_load(proc.stdout)
    assert shown == SessionLog(runs.repo).get(sid)
    assert shown["git"]["changes"][1] == {"path": "notes/new.md", "status": "untracked"}

    as_json = cli("-C", str(runs.project), "show", "--format", "json", sid)
    assert json.loads(as_json.stdout) == shown

    prefix = cli("-C", str(runs.project), "show", sid[:-1])
    assert prefix.returncode == 0, prefix.stderr
    assert yaml.safe_load(prefix.stdout)["session_id"] == sid


def test_cli_show_unknown_id(runs: Runs) -> None:
    proc = cli("-C", str(runs.project), "show", "1999-01-01T00.00.00.000Z")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("gitprov: error: no session 1999-01-01T00.00.00.000Z")


# -- the project's own repository, wherever the run starts ---------------------------------

#: What users write in settings.py, meaning the project's ``sessions`` folder.
RELATIVE = {"path": "./sessions"}

#: Runs a Kedro session from a script, as a scheduler or a notebook does: the project is
#: given by path, the current folder is anywhere.
SESSION_SCRIPT = """\
import sys
from pathlib import Path

from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

project = Path(sys.argv[1])
bootstrap_project(project)
with KedroSession.create(project_path=project) as session:
    session.run()
"""


def provenance_refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "refs/provenance", "refs/notes").strip()


def assert_recorded_in_the_project(project: Path) -> None:
    """One record, in the project's repository, naming the project's commit."""
    (session_id,) = SessionLog(project).ids()
    record = SessionLog(project).get(session_id)
    assert record["project_path"] == str(project.resolve())
    assert record["git"]["commit"] == git(project, "rev-parse", "HEAD").strip()
    assert record["git"]["commit_sha"] == git(project, "rev-parse", "--short", "HEAD").strip()
    assert record["git"]["dirty"] is False
    assert note_entries(project) == [entry(session_id, dirty=False, status="success")]


def test_relative_store_path_from_a_nested_repository(tmp_path: Path) -> None:
    """``kedro run`` from the project's ``data/``, itself a clone of another repository
    (git-ignored by the project): Kedro finds the project above; so must the store."""
    project = make_kedro_project(tmp_path / "proj", store_args=RELATIVE)
    (project / ".gitignore").write_text("__pycache__/\n*.pyc\ndata/\n")
    make_repo(project, {"README.md": "project\n"})
    data = make_repo(project / "data", {"README.md": "the data's own repository\n"})
    marker = tmp_path / "marker.txt"
    proc = kedro_run(project, env={MARKER_ENV: str(marker)}, cwd=data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert marker.read_text() == "total=10\n"
    assert_recorded_in_the_project(project)
    assert provenance_refs(data) == ""


def test_relative_store_path_from_a_script_in_another_repository(tmp_path: Path) -> None:
    project = make_repo(make_kedro_project(tmp_path / "proj", store_args=RELATIVE), {})
    elsewhere = make_repo(tmp_path / "elsewhere", {"README.md": "another repository\n"})
    proc = subprocess.run(
        [sys.executable, "-c", SESSION_SCRIPT, str(project)],
        cwd=elsewhere,
        env=kedro_env(project),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_recorded_in_the_project(project)
    assert provenance_refs(elsewhere) == ""


@pytest.mark.parametrize("where", ["absolute", "relative", "outside git"])
def test_a_store_path_outside_the_projects_repository_is_refused_before_the_run(
    tmp_path: Path, where: str
) -> None:
    other = make_repo(tmp_path / "other", {"README.md": "another repository\n"})
    path = {
        "absolute": str(other / "sessions"),
        "relative": "../other/sessions",
        "outside git": str(tmp_path / "nowhere" / "sessions"),
    }[where]
    project = make_repo(make_kedro_project(tmp_path / "proj", store_args={"path": path}), {})
    marker = tmp_path / "marker.txt"
    env = {MARKER_ENV: str(marker), "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    proc = kedro_run(project, env=env)
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0
    assert not marker.exists() and "Running node" not in output
    expected = "in no git repository" if where == "outside git" else f"repository {other}"
    assert expected in output
    assert f"but the Kedro project {project} is in {project}" in output
    assert "Leave `path` out of SESSION_STORE_ARGS" in output
    assert provenance_refs(project) == "" and provenance_refs(other) == ""


def test_a_project_path_in_another_repository_is_not_recorded(tmp_path: Path) -> None:
    """A store built outside a Kedro session cannot check its path when built; the
    ``project_path`` a session puts in it is checked when it saves."""
    project = make_repo(tmp_path / "proj", {"src/app.py": "print(1)\n"})
    other = make_repo(tmp_path / "other", {"README.md": "another repository\n"})
    store = GitSessionStore(path=str(other / "sessions"), session_id="elsewhere-1")
    store.update(project_path=project / "src", session_id="elsewhere-1")
    with pytest.raises(GitProvError, match="session elsewhere-1 was not recorded") as error:
        store.save()
    assert f"its project_path {project / 'src'} is in {project}" in str(error.value)
    assert provenance_refs(project) == "" and provenance_refs(other) == ""
    store["project_path"] = other  # the same repository: recorded
    store.save()
    assert SessionLog(other).get("elsewhere-1")["project_path"] == str(other)
