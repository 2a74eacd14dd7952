"""``run:``, built in one place (``gitprov.model.run``) for the three entry points: the
same common keys in the same order, the same statuses, and the same shape of ``error``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
from click.testing import CliRunner
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node

import gitprov
from gitprov import GitSessionStore, SessionLog
from gitprov.cli import main
from gitprov.cli.schema import schema_text
from gitprov.kedro.hooks import GitprovHooks
from gitprov.model import sections as model
from gitprov.model.run import Started, close, error_of, finish, section, status_of
from gitprov.signals import Stopped

from conftest import make_repo

SCHEMA = json.loads(schema_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

#: The keys every ``run:`` has, in this order, whatever wrote it.
COMMON = ["status", "started_at", "finished_at", "duration_s", "error"]


def common(run: dict[str, Any]) -> list[str]:
    return [key for key in run if key in COMMON]


# -- each entry point, ending each way ---------------------------------------------------------


def _fail() -> None:
    raise ValueError("boom")


def _interrupt() -> None:
    raise KeyboardInterrupt


def by_record(repo: Path, status: str) -> dict[str, Any]:
    block = {"success": lambda: None, "failed": _fail, "interrupted": _interrupt}[status]
    try:
        with gitprov.record(repo, session_id="r"):
            block()
    except (ValueError, KeyboardInterrupt):
        pass
    return SessionLog(repo).get("r")


def by_gitprov_run(repo: Path, status: str) -> dict[str, Any]:
    """In-process; a command killed by a signal would take this process with it, so
    ``interrupted`` is a subprocess in test_record_schema and test_run."""
    command = {"success": "true", "failed": "false"}[status]
    result = CliRunner().invoke(main, ["-C", str(repo), "run", "--id", "r", "--", command])
    assert result.exit_code == (0 if status == "success" else 1), result.output
    return SessionLog(repo).get("r")


def by_kedro(repo: Path, status: str) -> dict[str, Any]:
    """The plugin's hooks as Kedro calls them; ``interrupted`` as Ctrl-C leaves it: no end
    hook, and the store saved on the way out."""
    hooks = GitprovHooks()
    store = GitSessionStore(path=str(repo / "sessions"), session_id="r")
    copy = Pipeline([node(lambda x: x, "a", "b", name="copy")])
    run_params = {"run_id": "r", "pipeline_names": None, "tags": None, "runner": "None"}
    hooks.before_pipeline_run(run_params=run_params, pipeline=copy, catalog=DataCatalog())
    if status == "success":
        hooks.after_node_run(node=copy.nodes[0], run_id="r", inputs={})
        hooks.after_pipeline_run(run_params=run_params)
    elif status == "failed":
        hooks.on_node_error(error=ValueError("boom"), node=copy.nodes[0], run_id="r", inputs={})
        hooks.on_pipeline_error(error=ValueError("boom"), run_params=run_params)
    else:  # what Kedro's session keeps of the KeyboardInterrupt leaving it
        store["exception"] = {"type": "KeyboardInterrupt", "value": "", "traceback": ["..."]}
    store.save()
    return SessionLog(repo).get("r")


ENTRY_POINTS = {"record()": by_record, "gitprov run": by_gitprov_run, "kedro": by_kedro}
CASES = [
    (entry, status)
    for entry in ENTRY_POINTS
    for status in model.RUN_STATUSES
    if (entry, status) != ("gitprov run", "interrupted")
]


@pytest.mark.parametrize(("entry", "status"), CASES)
def test_every_entry_point_writes_the_same_common_keys(repo: Path, entry: str, status: str) -> None:
    record = ENTRY_POINTS[entry](repo, status)
    assert list(VALIDATOR.iter_errors(record)) == []
    run = record["run"]
    assert common(run) == COMMON
    assert run["status"] == status
    assert run["started_at"] <= run["finished_at"] <= record["provenance"]["saved_at"]
    assert run["duration_s"] >= 0
    if status == "success":
        assert run["error"] is None
    elif run["error"] is not None:
        assert set(run["error"]) - {"traceback"} == {"type", "message"}
    silent = ("gitprov run", "failed")  # the exit code says why
    assert (run["error"] is None) == (status == "success" or (entry, status) == silent)
    what_ran = {"argv", "cwd"} if entry != "kedro" else {"pipeline_names", "tags", "runner"}
    assert what_ran <= set(run)


def test_what_ran_is_argv_and_cwd_for_both_commands_and_blocks(tmp_path: Path) -> None:
    block = by_record(make_repo(tmp_path / "a"), "success")["run"]
    assert block["argv"] == sys.argv and block["cwd"] == os.getcwd()
    command = by_gitprov_run(make_repo(tmp_path / "b"), "success")["run"]
    assert command["argv"] == ["true"] and command["cwd"] == str(tmp_path / "b")
    assert command["exit_code"] == 0


# -- the builder ------------------------------------------------------------------------------


def test_section_orders_keys_the_same_way_for_every_entry_point() -> None:
    started = Started()
    kedro = section(
        "success",
        started,
        ran={"runner": "R", "pipeline_names": ["p"], "tags": [], "node_names": ["n"]},
        ended={"datasets_saved": [], "failed_node": None, "nodes": {}},
    )
    timing = ["started_at", "finished_at", "duration_s"]
    kedro_ran = ["pipeline_names", "tags", "node_names", "runner"]
    kedro_ended = ["nodes", "failed_node", "error", "datasets_saved"]
    assert list(kedro) == ["status", *kedro_ran, *timing, *kedro_ended]
    command = section(
        "interrupted",
        started,
        ran={"epochs": 3, "cwd": "/w", "argv": ["x"]},
        ended={"exit_code": 143},
        signal="SIGTERM",
        error={"type": "E", "message": "m"},
    )
    ran_then_own = ["argv", "cwd", "epochs"]
    assert list(command) == ["status", *ran_then_own, *timing, "exit_code", "signal", "error"]


def test_a_success_has_no_error() -> None:
    run = section("success", Started(), ran={}, error={"type": "E", "message": "m"})
    assert run["error"] is None


def test_finish_ends_an_open_section_in_place_and_keeps_a_nodes_error() -> None:
    started = Started()
    run = section("interrupted", started, ran={"argv": ["x"]}, finished=False)
    assert (run["finished_at"], run["duration_s"]) == (None, None)
    same = run
    run["error"] = {"type": "E", "message": "the node's"}
    finish(run, "failed", started, error={"type": "F", "message": "the pipeline's"})
    assert run is same and run["status"] == "failed" and run["finished_at"] is not None
    assert run["error"] == {"type": "E", "message": "the node's"}
    assert common(dict(run)) == COMMON


def test_close_ends_a_run_still_under_way_at_the_save() -> None:
    run = {"status": "interrupted", "started_at": "2026-11-24T10:30:00.000Z", "finished_at": None}
    closed = close(run, "2026-11-24T10:31:02.117Z")
    assert closed["finished_at"] == "2026-11-24T10:31:02.117Z"
    assert closed["duration_s"] == 62.117
    assert run["finished_at"] is None  # a new mapping: build() is pure
    ended = {**run, "finished_at": "2026-11-24T10:30:01.000Z"}
    assert close(ended, "2026-11-24T10:31:02.117Z") is ended
    for other in ("not a run", {"status": "success"}, {**run, "started_at": "yesterday"}):
        assert close(other, "2026-11-24T10:31:02.117Z") is other
    # why it ended: the exception Kedro recorded, unless the run knew already
    kedros = {"type": "KeyboardInterrupt", "value": "", "traceback": []}
    assert close(run, "2026-11-24T10:31:02.117Z", kedros)["error"] == {
        "type": "KeyboardInterrupt",
        "message": "",
    }
    known = {**run, "error": {"type": "E", "message": "a node's"}}
    assert close(known, "2026-11-24T10:31:02.117Z", kedros)["error"] == known["error"]


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (SystemExit(0), "success"),
        (SystemExit(None), "success"),
        (SystemExit(2), "failed"),
        (ValueError(), "failed"),
        (KeyboardInterrupt(), "interrupted"),
        (GeneratorExit(), "interrupted"),
    ],
)
def test_status_of_an_exception(exc: BaseException, status: str) -> None:
    assert status_of(exc) == status


def test_error_of_names_the_type_as_kedro_does() -> None:
    assert error_of(ValueError("v")) == {"type": "ValueError", "message": "v"}
    assert error_of(Stopped(15)) == {
        "type": "gitprov.signals.Stopped",
        "message": "stopped by SIGTERM",
    }
    assert error_of(OSError("x"), message="cannot run y")["message"] == "cannot run y"
    try:
        raise KeyError("k")
    except KeyError as exc:
        lines = error_of(exc, with_traceback=True)["traceback"]
    assert lines[0] == "Traceback (most recent call last):" and lines[-1] == "KeyError: 'k'"


# -- the model and the schema say the same ------------------------------------------------------


def test_the_models_literals_are_the_schemas_enums() -> None:
    defs = SCHEMA["$defs"]
    assert defs["status"]["enum"] == list(model.RUN_STATUSES)
    assert defs["change"]["properties"]["status"]["enum"] == list(model.CHANGE_STATUSES)
    policy = defs["git"]["properties"]["policy"]["properties"]
    assert policy["dirty"]["enum"] == list(model.DIRTY_POLICIES)
    assert policy["outcome"]["enum"] == list(get_args(model.PolicyOutcome))


@pytest.mark.parametrize(
    ("typed", "where"),
    [
        (model.GitSection, "git"),
        (model.Change, "change"),
        (model.Skipped, "git/properties/snapshot_skipped/items"),
        (model.PolicySection, "git/properties/policy"),
        (model.GitError, "git_error"),
        (model.Provenance, "provenance"),
        (model.Host, "provenance/properties/host"),
        (model.RunError, "error"),
        (model.Nodes, "run/properties/nodes"),
        (model.Saved, "run/properties/datasets_saved/items"),
        (model.GitUser, "run/properties/user"),
        (model.ConfigSection, "run/properties/config"),
        (model.ConfigFile, "config_file"),
        (model.DatasetItem, "dataset_item"),
    ],
)
def test_the_models_sections_have_the_schemas_keys(typed: type, where: str) -> None:
    schema = SCHEMA["$defs"]
    for step in where.split("/"):
        schema = schema[step]
    assert set(typed.__annotations__) == set(schema["properties"])
    assert typed.__required_keys__ == set(schema["required"])  # type: ignore[attr-defined]


def test_the_run_sections_common_keys_are_the_schemas_required() -> None:
    run = SCHEMA["$defs"]["run"]
    assert set(run["required"]) == set(COMMON) == model.RunSection.__required_keys__
    assert set(model.RunSection.__annotations__) <= set(run["properties"])
    assert set(model.Record.__annotations__) <= set(SCHEMA["properties"])
