"""``gitprov compare`` and ``SessionLog.compare``: runs side by side, the keys that differ."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import gitprov
from gitprov import SessionLog
from gitprov.audit.compare import compare, flatten, flatten_record, merged_keys, same
from gitprov.cli.compare import _cell, _headings

from conftest import cli

DIGEST = "sha256:" + "ab" * 32
DIGEST_OF_MODEL = hashlib.sha256(b"model\n").hexdigest()


@pytest.mark.parametrize(
    ("value", "flat"),
    [
        ({"a": {"b": 1, "c": "x"}}, {"a.b": 1, "a.c": "x"}),
        ({"a": None, "b": {}}, {"a": None}),  # an empty mapping has no keys
        ({"argv": ["python", "t.py"]}, {"argv": ["python", "t.py"]}),  # scalars: one value
        (
            {"inputs": [{"dataset": "raw", "digest": DIGEST, "path": "d/raw.csv"}]},
            {"inputs.raw.digest": DIGEST, "inputs.raw.path": "d/raw.csv"},
        ),
        (
            {"changes": [{"path": "a.py", "status": "modified"}, {"path": "b", "status": "added"}]},
            {"changes.a.py.status": "modified", "changes.b.status": "added"},
        ),
        (
            {"saved": [{"name": "model"}, {"name": "m2", "version": "v1"}]},
            {"saved.model": "model", "saved.m2.version": "v1"},  # nothing but the name: it
        ),
        (  # names that do not tell the items apart: the list is one value
            {"x": [{"path": "a", "n": 1}, {"path": "a", "n": 2}]},
            {"x": [{"path": "a", "n": 1}, {"path": "a", "n": 2}]},
        ),
        ({"x": [{"n": 1}, 2]}, {"x": [{"n": 1}, 2]}),
        ({"inputs": []}, {}),
        ({"a.b": 1, "a": {"b": 2}}, {"a.b": 1}),  # the first spelling wins, never both
    ],
)
def test_flatten(value: dict[str, Any], flat: dict[str, Any]) -> None:
    assert flatten(value) == flat


def test_flatten_record_leaves_out_the_id_and_the_saving() -> None:
    record = {"session_id": "s", "params": {"lr": 1}, "provenance": {"saved_at": "t"}}
    assert flatten_record(record) == {"params.lr": 1}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([(True, 1), (True, 1)], True),
        ([(True, 1), (True, 1.0)], True),
        ([(True, 1), (True, True)], False),
        ([(True, True), (True, 1)], False),
        ([(True, None), (False, None)], False),  # null is not absent
        ([(False, None), (False, None)], True),
        ([(True, "a"), (True, "a"), (True, "b")], False),
        ([(True, ["a"]), (True, ["a"])], True),
    ],
)
def test_same(values: list[tuple[bool, Any]], expected: bool) -> None:
    assert same(values) is expected


@pytest.mark.parametrize(
    ("flats", "order"),
    [
        ([{"a": 1, "b": 1}, {"a": 1, "b": 1}], ["a", "b"]),
        (
            [{"p.lr": 1, "m.auc": 1}, {"p.lr": 1, "p.mom": 1, "m.auc": 1}],
            ["p.lr", "p.mom", "m.auc"],
        ),
        ([{"b": 1}, {"a": 1, "b": 1}], ["a", "b"]),
        ([{"a": 1}, {"c": 1}], ["c", "a"]),
    ],
)
def test_merged_keys(flats: list[dict[str, Any]], order: list[str]) -> None:
    assert merged_keys(flats) == order


def test_comparison_keys_and_values() -> None:
    found = compare(
        [
            {"session_id": "a", "params": {"lr": 0.1, "bs": 8}, "git": {"upstream": None}},
            {"session_id": "b", "params": {"lr": 0.2, "bs": 8}, "metrics": {"auc": 0.9}},
        ]
    )
    assert found.sessions == ["a", "b"]
    assert found.keys() == ["params.lr", "metrics.auc", "git.upstream"]
    assert found.keys(equal=True) == ["params.lr", "params.bs", "metrics.auc", "git.upstream"]
    assert found.values() == {
        "params.lr": [0.1, 0.2],
        "metrics.auc": [None, 0.9],
        "git.upstream": [None, None],  # null against absent
    }


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("main", "main"),
        (None, "null"),
        (True, "true"),
        (0.5, "0.5"),
        (["a", "b"], '["a", "b"]'),
        ("f" * 40, "f" * 12),
        (DIGEST, "sha256:" + "ab" * 6),
        ("x" * 41, "x" * 37 + "..."),
        ("x" * 40, "x" * 40),
    ],
)
def test_cell(value: Any, cell: str) -> None:
    assert _cell(value) == cell


@pytest.mark.parametrize(
    ("sessions", "headings"),
    [
        (["2026-11-24T10.30.00.000Z", "r1"], ["2026-11-24T10.30.00.000Z", "r1"]),
        (
            ["nightly-build-0001-of-the-week", "nightly-build-0002-of-the-week"],
            ["nightly-build-0001...", "nightly-build-0002..."],
        ),
        (["a" * 30, "b"], ["a" * 12 + "...", "b"]),
    ],
)
def test_headings(sessions: list[str], headings: list[str]) -> None:
    assert _headings(sessions) == headings


@pytest.fixture
def runs(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three runs: ``clean1`` and ``clean2`` on the commit (other params and metrics),
    ``dirty`` with ``src/app.py`` changed, another learning rate and an output."""
    monkeypatch.chdir(repo)  # the output's dataset: its path as given, out.txt
    with gitprov.record(repo, session_id="clean1", params={"lr": 0.1, "bs": 8}) as rec:
        rec["metrics"] = {"auc": 0.8}
    with gitprov.record(repo, session_id="clean2", params={"lr": 0.1, "bs": 16}) as rec:
        rec["metrics"] = {"auc": 0.85}
    (repo / "src" / "app.py").write_text("print(2)\n")
    with gitprov.record(
        repo, session_id="dirty", params={"lr": 0.2, "bs": 8}, outputs=["out.txt"]
    ) as rec:
        (repo / "out.txt").write_text("model\n")
        rec["metrics"] = {"auc": 0.9}
    return repo


def rows(stdout: str) -> dict[str, list[str]]:
    """The table's rows by key, cut where the headings start (an empty cell stays one)."""
    head, *lines = stdout.split("\n\n")[0].splitlines()
    starts = [0, *(m.start() for m in re.finditer(r"(?<=  )\S", head))]
    cut = [slice(a, b) for a, b in zip(starts, [*starts[1:], None], strict=True)]
    table = {}
    for line in [head, *lines]:
        key, *cells = (line[part].strip() for part in cut)
        table[key] = cells
    return table


def test_compare_shows_the_keys_that_differ(runs: Path) -> None:
    result = cli("compare", "clean1", "clean2", cwd=runs)
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert table["KEY"] == ["clean1", "clean2"]
    assert table["params.bs"] == ["8", "16"]
    assert table["metrics.auc"] == ["0.8", "0.85"]
    assert "params.lr" not in table and "git.branch" not in table  # equal
    assert "run.started_at" in table
    assert not any(key.startswith("provenance") for key in table)


def test_compare_all_shows_equal_keys_too(runs: Path) -> None:
    table = rows(cli("compare", "clean1", "clean2", "--all", cwd=runs).stdout)
    assert table["params.lr"] == ["0.1", "0.1"]
    assert table["git.branch"] == ["main", "main"]
    assert table["git.dirty"] == ["false", "false"]


def test_compare_a_clean_and_a_dirty_run(runs: Path) -> None:
    commit = SessionLog(runs).get("clean1")["git"]["commit"]
    table = rows(cli("compare", "clean1", "dirty", cwd=runs).stdout)
    assert table["params.lr"] == ["0.1", "0.2"]
    assert table["git.dirty"] == ["false", "true"]
    assert table["git.changes.src/app.py.status"] == ["", "modified"]  # absent: empty
    assert table["run.outputs.out.txt.digest"] == ["", "sha256:" + DIGEST_OF_MODEL[:12]]
    assert "git.commit" not in table and commit  # the same commit


def test_compare_three_runs_by_prefix(runs: Path) -> None:
    table = rows(cli("compare", "clean1", "clean2", "dir", cwd=runs).stdout)
    assert table["KEY"] == ["clean1", "clean2", "dirty"]
    assert table["params.lr"] == ["0.1", "0.1", "0.2"]


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_compare_as_data_keeps_values_whole(runs: Path, fmt: str) -> None:
    result = cli("compare", "clean1", "dirty", "--format", fmt, cwd=runs)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout) if fmt == "json" else yaml.safe_load(result.stdout)
    assert data["sessions"] == ["clean1", "dirty"]
    digest = data["keys"]["run.outputs.out.txt.digest"]
    assert digest[0] is None and len(digest[1]) == len("sha256:") + 64
    assert data["keys"]["git.snapshot"][1] == SessionLog(runs).get("dirty")["git"]["snapshot"]
    assert "code" not in data


def test_compare_code_shows_the_diffstat_of_a_dirty_run(runs: Path) -> None:
    result = cli("compare", "clean1", "dirty", "clean2", "--code", cwd=runs)
    assert result.returncode == 0, result.stderr
    stat = result.stdout.split("\ncode clean1 -> dirty:\n")[1].split("\n\n")[0].splitlines()
    assert stat == [
        " out.txt    | 1 +",  # written by the run, untracked: in its snapshot
        " src/app.py | 2 +-",
        " 2 files changed, 2 insertions(+), 1 deletion(-)",
    ]
    assert "code clean1 -> clean2:\nthe same tree" in result.stdout
    assert "diff --git" not in result.stdout
    patched = cli("compare", "clean1", "dirty", "--code", "--patch", cwd=runs).stdout
    assert "diff --git a/src/app.py b/src/app.py" in patched and "+print(2)" in patched
    data = json.loads(
        cli("compare", "clean1", "dirty", "--code", "--format", "json", cwd=runs).stdout
    )
    assert data["code"] == [{"from": "clean1", "to": "dirty", "diff": data["code"][0]["diff"]}]
    assert "src/app.py" in data["code"][0]["diff"]


def test_compare_the_same_run_twice_says_so(runs: Path) -> None:
    result = cli("compare", "clean1", "clean1", cwd=runs)
    assert result.returncode == 0
    assert result.stdout == "the 2 runs have the same value for every key\n"
    assert result.stderr == "gitprov: warning: session clean1 is given more than once\n"


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["clean1", "nosuch"], 1, "gitprov: error: no session nosuch is recorded"),
        (["clean1", "clean"], 1, "is ambiguous"),
        (["clean1"], 2, "compare needs two session ids or more"),
        ([], 2, "Missing argument"),
        (["clean1", "clean2", "--patch"], 2, "--patch goes with --code"),
    ],
)
def test_compare_bad_input(runs: Path, args: list[str], status: int, message: str) -> None:
    result = cli("compare", *args, cwd=runs)
    assert result.returncode == status
    assert message in result.stderr
    assert result.stdout == ""


def test_session_log_compare(runs: Path) -> None:
    found = SessionLog(runs).compare(["clean1", "dirt"])
    assert found.sessions == ["clean1", "dirty"]
    assert found.values()["metrics.auc"] == [0.8, 0.9]
    assert found.records[1]["git"]["dirty"] is True
