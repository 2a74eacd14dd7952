"""The record's JSON Schema: every record each entry point writes validates against the
shipped file, and the schema rejects what no entry point writes."""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

import gitprov
from gitprov import GitProvError, GitSessionStore, SessionLog
from gitprov.cli import main
from gitprov.cli.schema import schema_text
from gitprov.signals import Stopped

from conftest import cli, git, make_repo
from kedro_project import PAUSE_ENV, kedro_env, kedro_run, make_kedro_project

SCHEMA = json.loads(schema_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def problems(record: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}"
        for e in VALIDATOR.iter_errors(record)
    ]


def all_valid(repo: Path) -> list[dict[str, Any]]:
    """Every record stored in ``repo``, each checked against the schema."""
    log = SessionLog(repo)
    records = [log.get(session_id) for session_id in log.ids()]
    assert records
    for record in records:
        assert problems(record) == [], record
    return records


def gitprov_cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("-C", str(repo), *args, process=args[0] == "run")


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_gitprov_schema_prints_the_shipped_file() -> None:
    shipped = (Path(gitprov.__file__).parent / "model" / "record.schema.json").read_text(
        encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    assert result.output == shipped
    assert json.loads(result.output) == SCHEMA
    as_yaml = CliRunner().invoke(main, ["schema", "--format", "yaml"])
    assert as_yaml.exit_code == 0 and "$schema:" in as_yaml.output


# -- Kedro --------------------------------------------------------------------------------


def stop_kedro_run(repo: Path, pause: Path, signum: int) -> None:
    """``kedro run`` stopped by ``signum`` inside its pipeline."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kedro", "run"],
        cwd=repo,
        env=kedro_env(repo, {PAUSE_ENV: str(pause)}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not pause.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signum)
    assert proc.wait(timeout=60) != 0


def test_kedro_runs_validate(tmp_path: Path) -> None:
    repo = make_repo(make_kedro_project(tmp_path / "proj"), {})
    git(repo, "tag", "-a", "v0.1", "-m", "first")
    assert kedro_run(repo).returncode == 0  # clean
    (repo / "conf/base/parameters.yml").write_text("n: 5\nfail: false\n")
    (repo / "notes.md").write_text("untracked\n")
    (repo / ".env").write_text("API_TOKEN=abc\n")  # left out of the snapshot
    git(repo, "mv", "README.md", "README.txt")
    assert kedro_run(repo, "--params", "api_token=x").returncode == 0  # dirty
    assert kedro_run(repo, "--params", "fail=true").returncode != 0  # failing
    for signum in (signal.SIGTERM, signal.SIGINT):  # interrupted
        stop_kedro_run(repo, tmp_path / f"paused-{signum}", signum)

    records = all_valid(repo)
    runs = [r["run"] for r in records]
    assert [r["status"] for r in runs] == ["success", "success", "failed", *["interrupted"] * 2]
    assert runs[3]["signal"] == "SIGTERM"
    assert runs[3]["error"] == {"type": "gitprov.signals.Stopped", "message": "stopped by SIGTERM"}
    # Ctrl-C skips Kedro's end hooks: the run ended when Kedro saved the store
    assert runs[4]["started_at"] <= runs[4]["finished_at"] <= records[4]["provenance"]["saved_at"]
    assert runs[4]["finished_at"] == records[4]["provenance"]["saved_at"]
    assert runs[4]["error"] == {"type": "KeyboardInterrupt", "message": ""}  # Kedro's exception
    git_sections = [r["git"] for r in records]
    assert git_sections[0]["describe"].startswith("v0.1-")
    assert {"renamed", "modified", "untracked"} <= {c["status"] for c in git_sections[1]["changes"]}
    assert git_sections[1]["snapshot_skipped"]
    assert "exception" in records[2]


# -- gitprov.record() ----------------------------------------------------------------------


def _raise(exc: BaseException) -> Callable[[], None]:
    def block() -> None:
        raise exc

    return block


def test_record_blocks_validate(repo: Path) -> None:
    with gitprov.record(repo, params={"lr": 0.1}) as rec:
        rec["metrics"] = {"loss": 0.5}  # the user's own keys, anywhere
        rec.run["epochs"] = 3
    (repo / "src/app.py").write_text("print(2)\n")
    for exc in (
        ValueError("boom"),
        KeyboardInterrupt(),
        Stopped(signal.SIGTERM),
        SystemExit(3),
        SystemExit(0),
    ):
        try:
            with gitprov.record(repo):
                _raise(exc)()
        except BaseException as caught:
            assert caught is exc
    records = all_valid(repo)
    statuses = [r["run"]["status"] for r in records]
    assert statuses == ["success", "failed", "interrupted", "interrupted", "failed", "success"]
    assert records[3]["run"]["signal"] == "SIGTERM"


def test_a_record_on_an_unborn_branch_validates(tmp_path: Path) -> None:
    repo = tmp_path / "new"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a\n")
    with gitprov.record(repo):
        pass
    (record,) = all_valid(repo)
    assert record["git"]["commit"] is None and record["git"]["commit_sha"] is None


# -- gitprov run ---------------------------------------------------------------------------


def test_gitprov_run_records_validate(repo: Path) -> None:
    assert gitprov_cli(repo, "run", "--", "true").returncode == 0
    (repo / "new.txt").write_text("dirty\n")
    assert gitprov_cli(repo, "run", "--", "false").returncode == 1
    assert gitprov_cli(repo, "run", "--", "no-such-command-here").returncode == 127
    killed = gitprov_cli(repo, "run", "--", "sh", "-c", "kill -TERM $$")
    assert killed.returncode == -signal.SIGTERM, killed.stderr
    runs = [r["run"] for r in all_valid(repo)]
    assert [r["status"] for r in runs] == ["success", "failed", "failed", "interrupted"]
    assert [r["exit_code"] for r in runs] == [0, 1, 127, 128 + signal.SIGTERM]
    assert runs[3]["signal"] == "SIGTERM"


# -- a sync conflict copy ------------------------------------------------------------------


def test_a_sync_conflict_copy_validates(tmp_path: Path) -> None:
    seed = make_repo(tmp_path / "seed")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(remote))
    clones = []
    for name in ("a", "b"):
        git(tmp_path, "clone", "-q", str(remote), str(tmp_path / name))
        clones.append(tmp_path / name)
        GitSessionStore(path=str(tmp_path / name / "sessions"), session_id="dup").save(
            {"owner": name}
        )
    for clone in (*clones, clones[0]):
        proc = gitprov_cli(clone, "sync")
        assert proc.returncode == 0, proc.stderr
    for clone in clones:
        records = all_valid(clone)
        assert [r.get("conflict_of") for r in records] == [None, "dup"]


# -- what a failed save keeps --------------------------------------------------------------


def _failing(*_: object, **__: object) -> Any:
    raise GitProvError("simulated failure")


@pytest.mark.parametrize("broken", ["probe", "build"])
def test_a_record_kept_by_a_failed_save_validates(
    repo: Path, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    """``probe`` failing keeps ``git: {error}``; ``build`` failing too keeps only the id
    and the reason. Both are spooled, then written by the next save."""
    with monkeypatch.context() as patch:
        patch.setattr(f"gitprov.session.{broken}", _failing)
        with gitprov.record(repo, session_id="kept") as rec:
            pass
    assert rec.session.spooled is not None
    with gitprov.record(repo, session_id="next"):
        pass
    kept = SessionLog(repo).get("kept")
    assert problems(kept) == []
    if broken == "probe":
        assert set(kept["git"]) == {"error"}
    else:
        assert set(kept) == {"session_id", "error"}


# -- the schema can fail -------------------------------------------------------------------


def _good(repo: Path) -> dict[str, Any]:
    (repo / "new.txt").write_text("dirty\n")
    with gitprov.record(repo, session_id="good", inputs=["README.md"], outputs=["new.txt"]):
        pass
    return SessionLog(repo).get("good")


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(record: dict[str, Any]) -> None:
        node = record
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return change


_DELETE = object()

BREAKAGES = {
    "wrong run status": _set("run.status", "ok"),
    "no run status": _set("run.status", _DELETE),
    "missing git.commit": _set("git.commit", _DELETE),
    "short git.commit": _set("git.commit", "abc123"),
    "unknown change status": _set("git.changes", [{"path": "x", "status": "changed"}]),
    "unknown key in git": _set("git.extra", 1),
    "unknown key in provenance": _set("provenance.extra", 1),
    "another format": _set("provenance.format", 3),
    "saved_at not a timestamp": _set("provenance.saved_at", "yesterday"),
    "no git section": _set("git", _DELETE),
    "a bad session id": _set("session_id", "../x"),
    "success with an error": _set("run.error", {"type": "E", "message": "m"}),
    "no policy": _set("git.policy", _DELETE),
    # the run: every entry point writes
    "no run.error": _set("run.error", _DELETE),
    "a run still under way": _set("run.finished_at", None),
    "success stopped by a signal": _set("run.signal", "SIGTERM"),
    "neither a command nor a pipeline": _set("run.argv", _DELETE),
    # what went in and came out, who ran it, inside what
    "a digest of another kind": _set("run.outputs.0.digest", "md5:0cc175b9c0f1b6a831c399e2"),
    "an item without its size": _set("run.inputs.0.size", _DELETE),
    "an unknown key in an item": _set("run.inputs.0.mtime", 1),
    "a negative size": _set("run.outputs.0.size", -1),
    "a user without an email": _set("run.user.email", _DELETE),
    "a parent that is no session id": _set("parent", "../x"),
    "config files by content": _set(
        "run.config",
        {
            "env": "local",
            "source": "conf",
            "files": [
                {"path": "conf/local/credentials.yml", "digest": None, "text": "key: s3cr3t"}
            ],
        },
    ),
}


@pytest.fixture
def good(repo: Path) -> dict[str, Any]:
    record = _good(repo)
    assert problems(record) == []
    return record


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_record_unlike_any_written_fails(good: dict[str, Any], breakage: str) -> None:
    record = copy.deepcopy(good)
    BREAKAGES[breakage](record)
    assert problems(record) != []


def test_users_own_keys_are_allowed_at_the_top_and_in_run(good: dict[str, Any]) -> None:
    record = copy.deepcopy(good)
    record["metrics"] = {"auc": 0.9}
    record["run"]["notes"] = "mine"
    assert problems(record) == []


def test_a_format_1_record_written_before_run_was_settled_still_validates(
    good: dict[str, Any],
) -> None:
    """Records written by gitprov before format 2 (``gitprov run`` storing ``command``, no
    ``error`` on success) stay valid as format 1, and only as format 1."""
    old = copy.deepcopy(good)
    old["provenance"]["format"] = 1
    old["run"] = {
        "status": "success",
        "command": ["python", "train.py"],
        "started_at": old["run"]["started_at"],
        "finished_at": old["run"]["finished_at"],
        "duration_s": 1.5,
        "exit_code": 0,
    }
    assert problems(old) == []
    claimed = copy.deepcopy(old)
    claimed["provenance"]["format"] = 2
    assert problems(claimed) != []
    old["run"]["status"] = "ok"  # format 1 knew these statuses too
    assert problems(old) != []
