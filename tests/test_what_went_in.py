"""What went in and what came out, from every entry point: a real Kedro project reading a
CSV and writing a file and a folder through kedro-datasets (its parameters, config files
and dataset digests), a notebook-style session never closed, ``gitprov run --input/--output``,
``record(inputs=..., outputs=...)``, who ran it, and the run it ran inside.

The Kedro part runs ``kedro run`` once and one notebook-style script (under ``gitprov run``)
once, in module-scoped fixtures; the tests read what those runs left.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import gitprov
from gitprov import SessionLog
from gitprov.model.run import PARENT_ENV
from gitprov.store.records import record_path

from conftest import cli, git, make_repo
from kedro_project import kedro_env, kedro_run, make_kedro_project

PACKAGE = "lineage_pkg"
SECRET = "s3cr3t-only-in-credentials"

PIPELINE = """\
from kedro.pipeline import Pipeline, node


def summarize(raw: str, scale: int) -> str:
    rows = [line for line in raw.splitlines()[1:] if line]
    return f"rows={len(rows)} scale={scale}\\n"


def split(raw: str) -> dict[str, str]:
    rows = raw.splitlines()[1:]
    return {f"row{i}": line + "\\n" for i, line in enumerate(rows, 1)}


def register_pipelines() -> dict[str, Pipeline]:
    return {
        "__default__": Pipeline(
            [
                node(summarize, ["raw", "params:scale"], "report", name="summarize"),
                node(split, "raw", "parts", name="split"),
            ]
        )
    }
"""

CATALOG = """\
raw:
  type: text.TextDataset
  filepath: data/01_raw/in.csv

report:
  type: text.TextDataset
  filepath: data/08_reporting/out.txt

parts:
  type: partitions.PartitionedDataset
  path: data/08_reporting/parts
  dataset: text.TextDataset
  filename_suffix: .txt
"""

#: A notebook's way: bootstrap, create, run, and never close; then a second session that
#: is closed after its run (its record is replaced, not doubled).
NOTEBOOK = """\
import sys
from pathlib import Path

from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

project = Path(sys.argv[1])
bootstrap_project(project)
never_closed = KedroSession.create(project_path=project)
never_closed.run()
closed = KedroSession.create(project_path=project)
closed.run()
closed.close()
print("ids:", never_closed.session_id, closed.session_id)
"""


def sha256sum(path: Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return "sha256:" + out.stdout.split()[0]


def folder_sum(folder: Path) -> str:
    """A folder's digest as the record documents it, with standard tools."""
    script = "find . -type f | sort | xargs sha256sum | sed 's|  \\./|  |' | sha256sum"
    out = subprocess.run(["sh", "-c", script], cwd=folder, capture_output=True, text=True)
    return "sha256:" + out.stdout.split()[0]


def by_dataset(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["dataset"]: item for item in items}


@dataclass
class Project:
    repo: Path
    kedro: dict[str, Any]  # the record of `kedro run`
    command: dict[str, Any]  # the `gitprov run` the notebook script ran in
    never_closed: dict[str, Any]
    closed: dict[str, Any]
    new_ids: list[str]  # of the notebook script's command


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Project:
    repo = make_kedro_project(tmp_path_factory.mktemp("lineage") / "proj", PACKAGE)
    files = {
        f"src/{PACKAGE}/pipeline_registry.py": PIPELINE,
        "conf/base/catalog.yml": CATALOG,
        "conf/base/parameters.yml": "scale: 1\n",
        ".gitignore": "__pycache__/\n*.pyc\ndata/\nconf/local/*.yml\n",  # as Kedro's template
    }
    for name, text in files.items():
        (repo / name).write_text(text, encoding="utf-8")
    make_repo(repo, {})
    git(repo, "config", "user.name", "Ada Lovelace")
    git(repo, "config", "user.email", "ada@example.com")
    (repo / "conf/local/parameters.yml").write_text("scale: 7\n")  # git-ignored override
    (repo / "conf/local/credentials.yml").write_text(f"db:\n  password: {SECRET}\n")
    (repo / "data/01_raw").mkdir(parents=True)
    (repo / "data/01_raw/in.csv").write_text("id,value\n1,10\n2,20\n3,30\n")

    proc = kedro_run(repo)
    assert proc.returncode == 0, proc.stderr
    (kedro_id,) = SessionLog(repo).ids()

    (repo.parent / "notebook.py").write_text(NOTEBOOK)
    before = set(SessionLog(repo).ids())
    ran = subprocess.run(
        [sys.executable, "-m", "gitprov", "run", "--", sys.executable, "../notebook.py", "."],
        cwd=repo,
        env=kedro_env(repo),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    (ids,) = [line for line in ran.stdout.splitlines() if line.startswith("ids: ")]
    never_closed, closed = ids.split()[1:]
    log = SessionLog(repo)
    new_ids = sorted(set(log.ids()) - before)
    (command_id,) = set(new_ids) - {never_closed, closed}
    return Project(
        repo=repo,
        kedro=log.get(kedro_id),
        command=log.get(command_id),
        never_closed=log.get(never_closed),
        closed=log.get(closed),
        new_ids=new_ids,
    )


# -- Kedro: parameters and config ------------------------------------------------------------


def test_the_record_holds_the_parameters_the_run_used(project: Project) -> None:
    run = project.kedro["run"]
    assert run["params"] == {"scale": 7}  # conf/local's, over base's 1
    assert (project.repo / "data/08_reporting/out.txt").read_text() == "rows=3 scale=7\n"


def test_the_config_files_are_recorded_by_digest_never_by_content(project: Project) -> None:
    config = project.kedro["run"]["config"]
    assert config["env"] == "local" and config["source"] == "conf"
    files = {f["path"]: f["digest"] for f in config["files"]}
    assert set(files) == {
        "conf/base/catalog.yml",
        "conf/base/parameters.yml",
        "conf/local/credentials.yml",
        "conf/local/parameters.yml",
    }
    for path, digest in files.items():
        assert digest == sha256sum(project.repo / path), path
    # the credentials' content is nowhere: not in the record, not in any git object
    everything = git(project.repo, "log", "-p", "--all")
    assert "refs/provenance" in git(project.repo, "for-each-ref")
    assert SECRET not in everything
    assert SECRET not in str(project.kedro)


# -- Kedro: datasets -------------------------------------------------------------------------


def test_inputs_and_outputs_have_the_digests_of_the_files(project: Project) -> None:
    repo, run = project.repo, project.kedro["run"]
    (raw,) = run["inputs"]  # loaded by two nodes: one item
    assert raw == {
        "dataset": "raw",
        "type": "kedro_datasets.text.text_dataset.TextDataset",
        "path": "data/01_raw/in.csv",
        "version": None,
        "digest": sha256sum(repo / "data/01_raw/in.csv"),
        "size": (repo / "data/01_raw/in.csv").stat().st_size,
    }
    outputs = by_dataset(run["outputs"])
    assert set(outputs) == {"report", "parts"}
    assert outputs["report"]["path"] == "data/08_reporting/out.txt"
    assert outputs["report"]["digest"] == sha256sum(repo / "data/08_reporting/out.txt")
    parts = outputs["parts"]
    assert parts["type"] == "kedro_datasets.partitions.partitioned_dataset.PartitionedDataset"
    assert parts["path"] == "data/08_reporting/parts"
    assert parts["digest"] == folder_sum(repo / "data/08_reporting/parts")
    assert parts["size"] == sum(
        p.stat().st_size for p in (repo / "data/08_reporting/parts").iterdir()
    )
    assert run["user"] == {"name": "Ada Lovelace", "email": "ada@example.com"}
    assert "parent" not in project.kedro


def test_gitprov_which_names_the_run_until_the_file_changes(project: Project) -> None:
    out = "data/08_reporting/out.txt"
    found = cli("-C", str(project.repo), "which", out, "--format", "json")
    assert found.returncode == 0, found.stderr
    assert project.kedro["session_id"] in found.stdout
    changed = project.repo.parent / "out-changed.txt"
    changed.write_text("rows=3 scale=8\n")
    assert cli("-C", str(project.repo), "which", str(changed)).returncode == 1


# -- Kedro in a notebook ---------------------------------------------------------------------


def test_a_session_never_closed_is_recorded_once_and_a_closed_one_once(project: Project) -> None:
    assert len(project.new_ids) == 3  # the command, and one record per session
    for record in (project.never_closed, project.closed):
        run = record["run"]
        assert run["status"] == "success" and run["finished_at"] is not None
        assert sorted(run["nodes"]["completed"]) == ["split", "summarize"]
        assert run["params"] == {"scale": 7}
        assert {o["dataset"] for o in run["outputs"]} == {"report", "parts"}


def test_a_kedro_run_inside_gitprov_run_names_it_as_parent(project: Project) -> None:
    command_id = project.command["session_id"]
    assert project.never_closed["parent"] == command_id
    assert project.closed["parent"] == command_id
    assert "parent" not in project.command


# -- plain runs ------------------------------------------------------------------------------


def test_gitprov_run_records_its_inputs_and_outputs(repo: Path) -> None:
    (repo / "in.csv").write_text("a,b\n1,2\n")
    script = "mkdir -p out && cp in.csv out/a.txt && echo b > out/b.txt"
    proc = cli(
        "-C", str(repo), "run", "--id", "cmd", "--input", "in.csv", "--output", "out/*.txt",
        "--output", "out", "--output", "missing.txt", "--", "sh", "-c", script,
        process=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run = SessionLog(repo).get("cmd")["run"]
    assert run["inputs"] == [
        {
            "dataset": "in.csv",
            "type": "file",
            "path": "in.csv",
            "version": None,
            "digest": sha256sum(repo / "in.csv"),
            "size": 8,
        }
    ]
    outputs = by_dataset(run["outputs"])
    assert list(outputs) == ["out/a.txt", "out/b.txt", "out", "missing.txt"]
    assert outputs["out/a.txt"]["digest"] == sha256sum(repo / "out/a.txt")
    assert outputs["out/b.txt"]["digest"] == sha256sum(repo / "out/b.txt")
    assert outputs["out"]["type"] == "folder"
    assert outputs["out"]["digest"] == folder_sum(repo / "out")
    assert outputs["missing.txt"]["digest"] is None  # not written: said so, not left out
    found = cli("-C", str(repo), "which", "out/b.txt")
    assert found.returncode == 0 and "cmd" in found.stdout


def test_remote_inputs_are_uris_without_credentials_and_no_digest(repo: Path) -> None:
    secret_uris = ["https://bob:s3cr3tTOKEN@host/x.csv", "s3://AKID:wJalrXUtnFEMIK7MDENG@bucket/k"]
    with gitprov.record(repo, session_id="remote", inputs=secret_uris) as rec:
        rec.output("s3://bucket/out/model.pkl")
    stored = git(repo, "show", f"refs/provenance/sessions:{record_path('remote')}")
    assert "s3cr3tTOKEN" not in stored and "wJalrXUtnFEMIK7MDENG" not in stored
    run = SessionLog(repo).get("remote")["run"]
    assert [i["path"] for i in run["inputs"]] == ["https://host/x.csv", "s3://bucket/k"]
    assert [o["path"] for o in run["outputs"]] == ["s3://bucket/out/model.pkl"]
    assert all(i["digest"] is None for i in run["inputs"] + run["outputs"])


def test_record_takes_inputs_and_outputs_and_more_from_inside_the_block(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    (repo / "params.json").write_text('{"lr": 0.1}\n')
    with gitprov.record(session_id="blk", inputs=["params.json"], outputs=["model.bin"]) as rec:
        (repo / "model.bin").write_bytes(b"\x00weights")
        (repo / "extra.csv").write_text("x\n1\n")
        rec.input("extra.csv")  # digested now
        (repo / "extra.csv").write_text("changed after it was read\n")
        (repo / "metrics").mkdir()
        (repo / "metrics/auc.txt").write_text("0.9\n")
        rec.output(repo / "metrics")  # digested when the block ends
        (repo / "metrics/loss.txt").write_text("0.1\n")
    run = SessionLog(repo).get("blk")["run"]
    inputs = by_dataset(run["inputs"])
    assert inputs["params.json"]["digest"] == sha256sum(repo / "params.json")
    assert inputs["extra.csv"]["digest"] == "sha256:" + hashlib.sha256(b"x\n1\n").hexdigest()
    outputs = run["outputs"]
    assert [o["path"] for o in outputs] == ["model.bin", "metrics"]
    assert outputs[0]["digest"] == sha256sum(repo / "model.bin") and outputs[0]["size"] == 8
    assert outputs[1]["type"] == "folder" and outputs[1]["digest"] == folder_sum(repo / "metrics")


def test_a_record_block_inside_gitprov_run_names_it_as_parent(repo: Path) -> None:
    script = (
        "import os, gitprov\n"
        "with gitprov.record(session_id='inner'):\n"
        "    with gitprov.record(session_id='innermost'):\n"
        "        pass\n"
        f"    print(os.environ[{PARENT_ENV!r}])\n"
    )
    proc = cli(
        "-C", str(repo), "run", "--id", "outer", "--", sys.executable, "-c", script, process=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["inner"]  # while the block runs, it encloses what it starts
    log = SessionLog(repo)
    assert "parent" not in log.get("outer")
    assert log.get("inner")["parent"] == "outer"
    assert log.get("innermost")["parent"] == "inner"


def test_no_parent_outside_any_run_and_the_environment_is_put_back(repo: Path) -> None:
    with gitprov.record(repo, session_id="alone") as rec:
        assert rec.session_id == "alone"
    assert "parent" not in SessionLog(repo).get("alone")
    assert PARENT_ENV not in os.environ


def test_runs_in_other_threads_are_siblings_not_parents(repo: Path) -> None:
    both_open = threading.Barrier(2)
    errors: list[BaseException] = []

    def block(name: str) -> None:
        try:
            with gitprov.record(repo, session_id=name):
                both_open.wait(timeout=60)
                with gitprov.record(repo, session_id=f"{name}-inner"):
                    pass
                both_open.wait(timeout=60)  # the other is still open as this one ends
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=block, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    log = SessionLog(repo)
    assert "parent" not in log.get("a") and "parent" not in log.get("b")
    assert log.get("a-inner")["parent"] == "a" and log.get("b-inner")["parent"] == "b"
    assert PARENT_ENV not in os.environ
