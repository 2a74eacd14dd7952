"""The Kedro plugin's hooks, in real ``python -m kedro run`` processes (and called directly
for the faults a real run cannot produce on demand)."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node
from kedro_datasets.text import TextDataset

import gitprov
from gitprov import GitSessionStore, SessionLog
from gitprov.kedro.hooks import GitprovHooks
from gitprov.kedro.store import live_store
from gitprov.state.digest import Digests

from conftest import git, make_repo
from kedro_project import kedro_env, kedro_run, make_kedro_project

PACKAGE = "hooks_pkg"

#: A versioned text dataset: the smallest real persisted, versioned Kedro dataset.
DATASETS = """\
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractVersionedDataset


class TextDataset(AbstractVersionedDataset[Any, str]):
    def __init__(self, filepath: str, version: Any = None) -> None:
        super().__init__(PurePosixPath(filepath), version)

    def load(self) -> str:
        return Path(self._get_load_path()).read_text()

    def save(self, data: Any) -> None:
        path = Path(self._get_save_path())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(data))

    def _exists(self) -> bool:
        return Path(self._get_load_path()).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}
"""

#: make_numbers -> total -> report, plus independent ``square_i`` nodes so that parallel
#: runners really run several nodes at once.
PIPELINE = """\
from kedro.pipeline import Pipeline, node


def make_numbers(n):
    return list(range(1, n + 1))


def total(numbers, fail, interrupt):
    if interrupt:
        raise KeyboardInterrupt
    if fail:
        raise RuntimeError("asked to fail")
    return sum(numbers)


def report(value):
    return f"total={value}"


def square(n):
    return n * n


def register_pipelines():
    nodes = [
        node(make_numbers, "params:n", "numbers", name="make_numbers", tags=["prep"]),
        node(total, ["numbers", "params:fail", "params:interrupt"], "total", name="total",
             tags=["compute"]),
        node(report, "total", "report", name="report", tags=["compute"]),
    ]
    nodes += [
        node(square, "params:n", f"square_{i}", name=f"square_{i}", tags=["wide"])
        for i in range(6)
    ]
    return {"__default__": Pipeline(nodes)}
"""

CATALOG = f"""\
total:
  type: {PACKAGE}.datasets.TextDataset
  filepath: data/total.txt
  versioned: true

report:
  type: {PACKAGE}.datasets.TextDataset
  filepath: data/report.txt
"""

SPAWN = {"KEDRO_MP_CONTEXT": "spawn"}
MAIN_NODES = ["make_numbers", "total", "report"]
ALL_NODES = MAIN_NODES + [f"square_{i}" for i in range(6)]


def project(tmp_path: Path, settings: str | None = None) -> Path:
    """A Kedro project in a fresh repository, with a clean work tree."""
    root = make_kedro_project(tmp_path / "proj", PACKAGE)
    files = {
        f"src/{PACKAGE}/datasets.py": DATASETS,
        f"src/{PACKAGE}/pipeline_registry.py": PIPELINE,
        "conf/base/catalog.yml": CATALOG,
        "conf/base/parameters.yml": "n: 4\nfail: false\ninterrupt: false\n",
        "requirements.txt": "kedro\nPyYAML\n",
        ".gitignore": "__pycache__/\ndata/\n",
    }
    if settings is not None:
        files[f"src/{PACKAGE}/settings.py"] = settings
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return make_repo(root, {})


def run_and_read(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """``kedro run *args``; its exit status and its record."""
    before = set(SessionLog(root).ids())
    proc = kedro_run(root, *args, env=env)
    new = set(SessionLog(root).ids()) - before
    assert len(new) == 1, proc.stdout + proc.stderr
    return proc.returncode, SessionLog(root).get(new.pop())


def test_successful_run(tmp_path: Path) -> None:
    root = project(tmp_path)
    code, record = run_and_read(
        root, "--tags", "prep,compute", "--params", "api_key=s3cr3t two words,db.password=hunter2"
    )
    assert code == 0
    run = record["run"]
    assert list(run) == [
        "status",
        "pipeline_names",
        "tags",
        "runner",
        "user",
        "params",
        "config",
        "inputs",
        "started_at",
        "finished_at",
        "duration_s",
        "nodes",
        "failed_node",
        "error",
        "datasets_saved",
        "outputs",
    ]
    assert run["status"] == "success"
    assert run["pipeline_names"] == ["__default__"]
    assert run["tags"] == ["compute", "prep"]
    assert run["runner"] == "SequentialRunner"
    assert run["started_at"] <= run["finished_at"] and 0 <= run["duration_s"] < 60
    assert run["nodes"] == {"total": 3, "completed": MAIN_NODES, "failed": []}
    assert run["failed_node"] is None and run["error"] is None
    session_id = record["session_id"]
    assert run["datasets_saved"] == [{"name": "total", "version": session_id}, {"name": "report"}]
    assert (root / "data" / "total.txt" / session_id / "total.txt").read_text() == "10"
    # What the project depends on, from its requirements.txt.
    assert record["provenance"]["packages"] == {
        "kedro": version("kedro"),
        "pyyaml": version("PyYAML"),
    }
    # What went in and came out: the parameters used, the files written (total, the
    # versioned one, is loaded by report: an input too).
    assert run["params"]["n"] == 4 and run["params"]["fail"] is False
    assert [i["dataset"] for i in run["inputs"]] == ["total"]
    assert [o["dataset"] for o in run["outputs"]] == ["total", "report"]
    assert run["outputs"][0]["version"] == session_id == run["inputs"][0]["version"]
    assert run["outputs"][0]["digest"] == run["inputs"][0]["digest"]
    assert run["outputs"][1]["path"] == "data/report.txt" and run["outputs"][1]["size"] == 8
    # The secrets given on the command line reached neither the record nor git.
    assert run["params"]["api_key"] == "***" and run["params"]["db"] == {"password": "***"}
    assert record["runtime_params"] == {"api_key": "***", "db": {"password": "***"}}
    assert "api_key=***" in record["cli"]["command_path"]
    everything = git(root, "log", "-p", "--all")
    assert "refs/provenance" in git(root, "for-each-ref")
    for secret in ("s3cr3t", "two words", "hunter2"):
        assert secret not in everything
    assert "status: success" in git(root, "notes", "--ref", "provenance", "show", "HEAD")


def test_failed_run(tmp_path: Path) -> None:
    root = project(tmp_path)
    code, record = run_and_read(root, "--nodes", "make_numbers,total", "--params", "fail=true")
    assert code != 0
    run = record["run"]
    assert run["status"] == "failed"
    assert run["node_names"] == ["make_numbers", "total"]
    assert run["nodes"] == {"total": 2, "completed": ["make_numbers"], "failed": ["total"]}
    assert run["failed_node"] == "total"
    assert run["error"] == {"type": "RuntimeError", "message": "asked to fail"}
    assert run["datasets_saved"] == []
    assert record["exception"]["value"] == "asked to fail"  # Kedro's own, still there
    assert "status: failed" in git(root, "notes", "--ref", "provenance", "show", "HEAD")


@pytest.mark.parametrize("runner", ["SequentialRunner", "ParallelRunner"])
def test_a_failed_output_save_blames_its_node(tmp_path: Path, runner: str) -> None:
    root = project(tmp_path)
    (root / "data" / "report.txt").mkdir(parents=True)  # report's save cannot write a file
    code, record = run_and_read(
        root, "--runner", runner, "--nodes", "make_numbers,total,report", env=SPAWN
    )
    assert code != 0
    run = record["run"]
    assert run["status"] == "failed"
    assert run["nodes"]["completed"] == ["make_numbers", "total"]  # Kedro said report ran
    assert run["nodes"]["failed"] == ["report"] and run["failed_node"] == "report"
    assert run["error"]["message"].startswith("saving its output report failed: ")
    assert [d["name"] for d in run["datasets_saved"]] == ["total"]


def test_interrupted_run(tmp_path: Path) -> None:
    root = project(tmp_path)
    code, record = run_and_read(root, "--params", "interrupt=true")
    assert code != 0
    run = record["run"]
    assert run["status"] == "interrupted"
    assert "make_numbers" in run["nodes"]["completed"]
    assert "total" not in run["nodes"]["completed"]
    assert record["exception"]["type"] == "KeyboardInterrupt"


@pytest.mark.parametrize(
    ("runner", "context"),
    [("ThreadRunner", None), ("ParallelRunner", "fork"), ("ParallelRunner", "spawn")],
)
def test_parallel_runners_complete_lists(tmp_path: Path, runner: str, context: str | None) -> None:
    root = project(tmp_path)
    env = {"KEDRO_MP_CONTEXT": context} if context else None
    code, record = run_and_read(root, "--runner", runner, env=env)
    assert code == 0
    run = record["run"]
    assert run["runner"] == runner
    assert run["status"] == "success"
    assert sorted(run["nodes"]["completed"]) == sorted(ALL_NODES)
    assert run["nodes"]["failed"] == []
    saved = sorted(run["datasets_saved"], key=lambda d: d["name"])
    assert saved == [{"name": "report"}, {"name": "total", "version": record["session_id"]}]
    # the names the workers loaded and saved come back: one item each
    assert sorted(o["dataset"] for o in run["outputs"]) == ["report", "total"]
    assert [i["dataset"] for i in run["inputs"]] == ["total"]
    assert all(str(o["digest"]).startswith("sha256:") for o in run["outputs"] + run["inputs"])


def test_parallel_runner_failure_comes_back_from_the_workers(tmp_path: Path) -> None:
    root = project(tmp_path)
    code, record = run_and_read(
        root,
        "--runner",
        "ParallelRunner",
        "--params",
        "fail=true",
        env={"KEDRO_MP_CONTEXT": "spawn"},
    )
    assert code != 0
    run = record["run"]
    assert run["status"] == "failed"
    assert run["failed_node"] == "total" and run["nodes"]["failed"] == ["total"]
    assert run["error"] == {"type": "RuntimeError", "message": "asked to fail"}
    assert "make_numbers" in run["nodes"]["completed"]


#: Kedro's logging, one line per record, named by its logger, from INFO up: what gitprov
#: logs is then told apart from what Kedro logs (paths, which may contain "gitprov").
LOGGING = """\
version: 1
disable_existing_loggers: false
formatters:
  named: {format: "%(name)s|%(levelname)s|%(message)s"}
handlers:
  console: {class: logging.StreamHandler, formatter: named, stream: ext://sys.stdout}
root: {level: INFO, handlers: [console]}
"""


def gitprov_output(output: str) -> list[str]:
    """The lines gitprov wrote: its loggers' records, its ``gitprov:`` messages, and
    tracebacks or warnings through its own source files."""
    package = str(Path(gitprov.__file__).parent) + os.sep
    return [
        line
        for line in output.splitlines()
        if line.split("|", 1)[0].split(".")[0] == "gitprov"
        or line.startswith("gitprov:")
        or package in line
    ]


def test_without_the_store_the_hooks_do_nothing(tmp_path: Path) -> None:
    logging_yml = tmp_path / "logging.yml"
    logging_yml.write_text(LOGGING)
    env = {"KEDRO_LOGGING_CONFIG": str(logging_yml)}
    recorded = project(tmp_path / "recorded")  # the control: gitprov's lines are seen
    proc = kedro_run(recorded, "--runner", "ThreadRunner", env=env)
    assert proc.returncode == 0, proc.stderr
    (session_id,) = SessionLog(recorded).ids()
    assert f"gitprov.session|INFO|gitprov: recorded session {session_id} " in "\n".join(
        gitprov_output(proc.stdout + proc.stderr)
    )

    root = project(tmp_path, settings='"""No SESSION_STORE_CLASS: Kedro\'s default store."""\n')
    proc = kedro_run(root, "--runner", "ThreadRunner", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Completed 9 out of 9 tasks" in proc.stdout  # the run was logged...
    assert gitprov_output(proc.stdout + proc.stderr) == []  # ...and nothing by gitprov
    assert git(root, "for-each-ref", "refs/provenance", "refs/notes").strip() == ""
    assert not (root / "sessions").exists()


def test_kedro_gitprov_command(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert kedro_run(root).returncode == 0
    (session_id,) = SessionLog(root).ids()
    proc = subprocess.run(
        [sys.executable, "-m", "kedro", "gitprov", "list", "--format", "ids"],
        cwd=root,
        env=kedro_env(root),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == session_id  # after Kedro's own logging


# -- faults a real run cannot produce on demand: the hooks called directly -----------------


def pipeline() -> Pipeline:
    return Pipeline([node(lambda x: x, "a", "b", name="copy")])


def params(**extra: Any) -> dict[str, Any]:
    return {"pipeline_names": None, "tags": None, "runner": "None", **extra}


def test_hooks_without_a_registered_store(repo: Path) -> None:
    hooks = GitprovHooks()
    run_params = params(run_id="never-registered")
    hooks.before_pipeline_run(run_params=run_params, pipeline=pipeline(), catalog=DataCatalog())
    hooks.after_node_run(node=pipeline().nodes[0], run_id="never-registered", inputs={})
    hooks.after_dataset_saved(dataset_name="b")
    hooks.on_node_error(
        error=ValueError("x"), node=pipeline().nodes[0], run_id="never-registered", inputs={}
    )
    hooks.on_pipeline_error(error=ValueError("x"), run_params=run_params)
    hooks.after_pipeline_run(run_params=run_params)
    assert live_store("never-registered") is None
    assert git(repo, "for-each-ref", "refs/provenance").strip() == ""


def test_registry_entry_gone_mid_run(repo: Path) -> None:
    hooks = GitprovHooks()
    store = GitSessionStore(path=str(repo / "sessions"), session_id="gone-1")
    run_params = params(run_id="gone-1")
    hooks.before_pipeline_run(run_params=run_params, pipeline=pipeline(), catalog=DataCatalog())
    assert store["run"]["status"] == "interrupted"
    del store
    gc.collect()
    assert live_store("gone-1") is None
    hooks.after_node_run(node=pipeline().nodes[0], run_id="gone-1", inputs={})
    hooks.after_dataset_saved(dataset_name="b")
    hooks.after_pipeline_run(run_params=run_params)  # no store to write to: no crash
    assert git(repo, "for-each-ref", "refs/provenance").strip() == ""


@pytest.mark.parametrize("end", ["after_pipeline_run", "on_pipeline_error"])
def test_a_session_kedro_run_did_not_start_is_recorded_when_its_pipeline_ends(
    repo: Path, end: str
) -> None:
    """A notebook's session is never closed: its record is written at the pipeline's end,
    success or failure; ``kedro run``'s own session waits for the close that follows."""
    hooks = GitprovHooks()
    stores = {
        "notebook": GitSessionStore(path=str(repo / "sessions"), session_id="nb"),
        "kedro-run": GitSessionStore(path=str(repo / "sessions"), session_id="cli"),
    }
    stores["kedro-run"]["cli"] = {"command_name": "run", "command_path": "kedro run"}
    for store in stores.values():
        run_params = params(run_id=store.session_id)
        hooks.before_pipeline_run(run_params=run_params, pipeline=pipeline(), catalog=DataCatalog())
        if end == "after_pipeline_run":
            hooks.after_pipeline_run(run_params=run_params)
        else:
            hooks.on_pipeline_error(error=ValueError("x"), run_params=run_params)
    assert SessionLog(repo).ids() == ["nb"]
    status = "success" if end == "after_pipeline_run" else "failed"
    assert SessionLog(repo).get("nb")["run"]["status"] == status
    stores["notebook"].save()  # closed after all: the same record, replaced
    stores["kedro-run"].save()
    assert SessionLog(repo).ids() == ["cli", "nb"]


def test_a_run_cut_short_still_lists_what_it_loaded_and_saved(repo: Path) -> None:
    """Ctrl-C skips both end hooks; Kedro's save on the way out still gets the datasets,
    digested only from the cache: a run being stopped does not stop to hash its outputs."""
    hooks = GitprovHooks()
    store = GitSessionStore(path=str(repo / "sessions"), session_id="cut")
    (repo / "in.txt").write_text("input\n")
    settled = time.time_ns() - 3600 * 10**9
    os.utime(repo / "in.txt", ns=(settled, settled))
    with Digests(repo / ".git") as digests:  # an earlier run read it: the cache holds it
        known = digests.of(repo / "in.txt")
    catalog = DataCatalog(
        {
            "a": TextDataset(filepath=str(repo / "in.txt")),
            "b": TextDataset(filepath=str(repo / "out.txt")),
        }
    )
    run_params = params(run_id="cut", project_path=str(repo))
    hooks.before_pipeline_run(run_params=run_params, pipeline=pipeline(), catalog=catalog)
    hooks.after_node_run(node=pipeline().nodes[0], run_id="cut", inputs={"a": "input\n"})
    catalog["b"].save("output\n")
    hooks.after_dataset_saved(dataset_name="b")
    store["exception"] = {"type": "KeyboardInterrupt", "value": "", "traceback": ["..."]}
    store.save()
    run = SessionLog(repo).get("cut")["run"]
    assert run["status"] == "interrupted"
    assert [(i["dataset"], i["path"]) for i in run["inputs"]] == [("a", "in.txt")]
    assert [(o["dataset"], o["path"]) for o in run["outputs"]] == [("b", "out.txt")]
    assert run["inputs"][0]["digest"] == known
    assert run["outputs"][0]["digest"] is None  # just written: never read while stopping


def test_older_kedro_run_params(repo: Path) -> None:
    """Kedro < 1.3 names the id ``session_id``; older still, one ``pipeline_name``."""
    hooks = GitprovHooks()
    store = GitSessionStore(path=str(repo / "sessions"), session_id="old-1")
    run_params = {"session_id": "old-1", "pipeline_name": "training", "tags": ("b", "a")}
    hooks.before_pipeline_run(run_params=run_params, pipeline=pipeline(), catalog=DataCatalog())
    hooks.after_node_run(node=pipeline().nodes[0], run_id="old-1", inputs={})
    hooks.after_pipeline_run(run_params=run_params)
    store.save()
    run = SessionLog(repo).get("old-1")["run"]
    assert run["pipeline_names"] == ["training"] and run["tags"] == ["a", "b"]
    assert run["status"] == "success" and run["nodes"]["completed"] == ["copy"]


def test_signal_handlers_last_as_long_as_the_pipeline(repo: Path) -> None:
    """SIGTERM/SIGHUP are caught from the start of a recorded pipeline to its end (however
    it ends), and only where the handler was the default one."""

    def users(signum: int, frame: object) -> None:
        raise AssertionError("not sent")

    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, users)
        hooks = GitprovHooks()
        stores = [GitSessionStore(path=str(repo / "sessions"), session_id=f"h-{i}") for i in (1, 2)]
        for store, end in zip(stores, ("after_pipeline_run", "on_pipeline_error"), strict=True):
            run_params = params(run_id=store.session_id)
            hooks.before_pipeline_run(
                run_params=run_params, pipeline=pipeline(), catalog=DataCatalog()
            )
            assert callable(signal.getsignal(signal.SIGTERM))  # ours, while the run lasts
            assert signal.getsignal(signal.SIGHUP) is users  # the user's, left alone
            if end == "after_pipeline_run":
                hooks.after_pipeline_run(run_params=run_params)
            else:
                hooks.on_pipeline_error(error=ValueError("x"), run_params=run_params)
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
            assert signal.getsignal(signal.SIGHUP) is users
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
