"""``gitprov report``: one self-contained HTML file, with every value escaped.

What the file holds is read here (its JSON, its policy, its references); what a browser makes
of it is tests/test_report_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import gitprov
from gitprov.report import payload as payload_module
from test_hostile_remote import OWN, TRACKING, Team, hostile
from test_terminal import run as on_a_terminal
from test_verify import hand_edit

from conftest import cli, git, make_repo, remove_object

HOSTILE = "</script><img src=x onerror=alert(1)>"
#: Line and paragraph separators end a JavaScript string literal in older engines.
SEPARATORS = "a\u2028b\u2029c"


def data_of(page: str) -> dict[str, Any]:
    found = re.search(
        r'<script id="gitprov-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert found, page[:500]
    payload: dict[str, Any] = json.loads(found[1], parse_constant=_no_constant)
    return payload


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON a browser parses")


def runs_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs as the page reads them: each field by name, values and diffs looked up,
    ``f`` as a mapping of dotted keys."""
    keys, values, diffs = payload["keys"], payload["values"], payload["diffs"]
    runs = []
    for row in payload["runs"]:
        run = dict(zip(payload["fields"], row, strict=True))
        for name in (
            "status", "commit", "branch", "dirty", "snap", "what", "user", "started", "source",
        ):  # fmt: skip
            run[name] = values[run[name]]
        f = run["f"]
        run["f"] = {keys[f[i]]: values[f[i + 1]] for i in range(0, len(f), 2)}
        run["diff"] = None if run["diff"] is None else diffs[run["diff"]]
        runs.append(run)
    return runs


@pytest.fixture(scope="module")
def recorded_once(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Path:
    """Three runs: a clean one with a hostile parameter, a failed one with odd values,
    and a dirty ``gitprov run`` whose change is in its snapshot."""
    repo = make_repo(
        tmp_path_factory.mktemp("report") / "repo",
        {"README.md": "hello\n", "src/app.py": "print(1)\n"},
    )
    with gitprov.record(repo, params={"lr": 0.1, "note": HOSTILE}, metrics={"auc": 0.8}):
        pass
    try:
        with gitprov.record(
            repo, params={"lr": 0.2, "sep": SEPARATORS}, metrics={"auc": float("nan")}
        ):
            raise ValueError("boom")
    except ValueError:
        pass
    (repo / "src/app.py").write_text("print('changed by hand')\n")
    assert cli("-C", str(repo), "run", "--", "true", process=True).returncode == 0
    return repo


@pytest.fixture
def recorded(recorded_once: Path, tmp_path: Path) -> Path:
    """A copy of :func:`recorded_once`'s repository, this test's to change."""
    return Path(shutil.copytree(recorded_once, tmp_path / "repo", symlinks=True))


def report(repo: Path, out: Path, *args: str) -> str:
    result = cli("-C", str(repo), "report", "-o", str(out), *args)
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    return out.read_text(encoding="utf-8")


def test_the_report_is_one_file_that_loads_nothing(recorded: Path, tmp_path: Path) -> None:
    page = report(recorded, tmp_path / "r.html")
    markup = re.sub(r'(<script id="gitprov-data"[^>]*>).*?</script>', r"\1", page, flags=re.S)
    references = re.findall(r"""\b(?:src|href|action|data)\s*=\s*["']?([^"'\s>]*)""", markup)
    assert references == ["data:,"], references  # the empty favicon, so none is fetched
    assert not re.search(r"@import|url\(|<link rel=.?stylesheet|<iframe|<object|<embed", page)
    assert page.count("<script") == 2 and page.count("<style") == 1


def test_a_content_security_policy_allows_only_the_pages_own_script_and_style(
    recorded: Path, tmp_path: Path
) -> None:
    page = report(recorded, tmp_path / "r.html")
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert policy, page[:500]
    rules = dict(rule.strip().split(" ", 1) for rule in policy[1].split(";"))
    assert rules["default-src"] == "'none'"
    script = re.findall(r"<script>(.*?)</script>", page, re.S)
    style = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(script) == len(style) == 1

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert rules["script-src"] == digest(script[0])
    assert rules["style-src"] == digest(style[0])


def test_hostile_values_are_inert_text(recorded: Path, tmp_path: Path) -> None:
    page = report(recorded, tmp_path / "r.html")
    assert HOSTILE not in page
    assert "onerror=alert" not in page.replace("onerror=alert(1)", "")  # only as JSON text
    assert "\u2028" not in page and "\u2029" not in page
    data_text = page.split('type="application/json">', 1)[1].split("</script>", 1)[0]
    assert not set("<>&") & set(data_text)
    assert data_text.isascii()
    payload = data_of(page)
    values = [v for run in runs_of(payload) for v in run["f"].values()]
    assert HOSTILE in values and SEPARATORS in values
    assert "nan" in values  # a NaN metric is shown as its name, not as invalid JSON
    sinks = (
        r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML\(|document\.write|\beval\(|Function\("
    )
    assert not re.search(sinks, page)


def test_the_payload_has_every_run_with_its_list_fields_and_summary(
    recorded: Path, tmp_path: Path
) -> None:
    payload = data_of(report(recorded, tmp_path / "r.html", "--columns", "params.lr"))
    runs = runs_of(payload)
    ids = gitprov.SessionLog(recorded).ids()
    assert [r["id"] for r in runs] == ids[::-1]  # every run, newest first
    summary = payload["summary"]
    assert summary["runs"] == 3
    assert summary["status"] == {"success": 2, "failed": 1}
    assert summary["branches"] == ["main"]
    assert summary["dirty"] == summary["snapshots"] == 1
    assert summary["committers"] == ["Test <test@example.com>"]
    assert summary["first"] <= summary["last"]
    newest = runs[0]
    assert newest["what"] == "true" and newest["dirty"] is True and newest["snap"]
    assert newest["status"] == "success" and newest["user"] and newest["branch"] == "main"
    assert runs[1]["status"] == "failed" and runs[1]["dirty"] is False
    assert payload["columns"] == ["params.lr"]
    oldest = runs[-1]["f"]
    assert oldest["params.lr"] == 0.1 and oldest["metrics.auc"] == 0.8
    assert "provenance.saved_at" in oldest and "session_id" not in oldest
    assert payload["not_compared"] == ["provenance"]


def test_a_dirty_runs_diff_is_embedded(recorded: Path, tmp_path: Path) -> None:
    dirty, *clean = runs_of(data_of(report(recorded, tmp_path / "r.html")))
    assert "+print('changed by hand')" in dirty["diff"]
    assert "-print(1)" in dirty["diff"]
    assert dirty["note"] is None
    assert [run["diff"] for run in clean] == [None, None]


def test_diffs_are_capped_per_run_and_per_report_with_a_note(
    recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payload_module, "DIFF_CAP", 20)
    dirty = runs_of(data_of(report(recorded, tmp_path / "r.html")))[0]
    assert len(dirty["diff"]) == 20
    assert "diff cut at 20 of" in dirty["note"]
    assert f"gitprov diff {dirty['id']}" in dirty["note"]
    monkeypatch.setattr(payload_module, "DIFFS_BUDGET", 0)
    dirty = runs_of(data_of(report(recorded, tmp_path / "r.html")))[0]
    assert dirty["diff"] is None and "diff left out" in dirty["note"]


def test_a_bare_repository_reports_the_same(recorded: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(recorded), str(bare))
    git(bare, "fetch", "-q", str(recorded), "refs/provenance/*:refs/provenance/*")
    here = runs_of(data_of(report(recorded, tmp_path / "here.html")))
    there = runs_of(data_of(report(bare, tmp_path / "there.html")))
    assert [r["id"] for r in there] == [r["id"] for r in here]
    assert there[0]["diff"] == here[0]["diff"] and "changed by hand" in there[0]["diff"]


def test_code_not_in_the_repository_is_named_not_fatal(recorded: Path, tmp_path: Path) -> None:
    snapshot = runs_of(data_of(report(recorded, tmp_path / "r.html")))[0]["snap"]
    remove_object(recorded, snapshot)
    dirty = runs_of(data_of(report(recorded, tmp_path / "r.html")))[0]
    assert dirty["diff"] is None and "not in this repository" in dirty["note"]


def test_the_default_file_and_an_empty_history(repo: Path) -> None:
    result = cli("report", cwd=repo)
    assert result.returncode == 0, result.stderr
    written = repo / "gitprov-report.html"
    assert "gitprov-report.html" in result.stdout
    payload = data_of(written.read_text(encoding="utf-8"))
    assert payload["runs"] == [] and payload["summary"]["runs"] == 0


def test_an_unwritable_output_is_one_error_line(recorded: Path, tmp_path: Path) -> None:
    result = cli("-C", str(recorded), "report", "-o", str(tmp_path / "no" / "such" / "r.html"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "r.html" in result.stderr


def test_filters_choose_the_runs_as_list_does(recorded: Path, tmp_path: Path) -> None:
    def ids(*args: str) -> list[str]:
        return [r["id"] for r in runs_of(data_of(report(recorded, tmp_path / "r.html", *args)))]

    everything = ids()
    assert ids("--status", "failed") == [everything[1]]
    assert ids("--where", "params.lr=0.1") == [everything[2]]
    assert ids("--dirty") == [everything[0]]
    assert ids("--limit", "2") == everything[:2]
    bad = cli("-C", str(recorded), "report", "--where", "params.lr", "-o", str(tmp_path / "x"))
    assert bad.returncode == 2 and not (tmp_path / "x").exists()


def test_odd_and_broken_records_are_named_and_the_rest_reported(
    recorded: Path, tmp_path: Path
) -> None:
    hand_edit(
        recorded,
        {
            "odd-commit": "session_id: odd-commit\ngit:\n  commit: 12345\n",
            "odd-git": "session_id: odd-git\ngit:\n- a\n- b\n",
            "odd-run": "session_id: odd-run\nrun:\n- 1\n- 2\nstarted: 3\n",
            "odd-snapshot": "session_id: odd-snapshot\ngit:\n  snapshot:\n    a: 1\n  dirty: 1\n",
            "no-yaml": "session_id: [no-yaml\n",
        },
    )
    result = cli("-C", str(recorded), "report", "-o", str(tmp_path / "r.html"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "session no-yaml left out: " in result.stderr
    payload = data_of((tmp_path / "r.html").read_text(encoding="utf-8"))
    runs = {r["id"]: r for r in runs_of(payload)}
    assert sorted(payload["broken"]) == ["no-yaml", "odd-git"]  # git: must be a mapping
    assert {"odd-commit", "odd-run", "odd-snapshot"} <= set(runs)
    assert runs["odd-commit"]["commit"] is None and runs["odd-snapshot"]["snap"] is None
    assert runs["odd-run"]["t"] is None and runs["odd-run"]["what"] == ""
    assert payload["summary"]["runs"] == 6


def test_an_empty_history_says_how_to_record_a_first_run(repo: Path, tmp_path: Path) -> None:
    result = cli("-C", str(repo), "report", "-o", str(tmp_path / "r.html"))
    assert result.returncode == 0
    assert "to record a first run" in result.stderr


def test_open_hands_the_file_to_the_browser(recorded: Path, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {opened}\n')
    browser.chmod(0o755)
    out = tmp_path / "r.html"
    result = cli(
        "-C", str(recorded), "report", "-o", str(out), "--open",
        env={"BROWSER": str(browser), "DISPLAY": ""}, process=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert opened.read_text() == out.resolve().as_uri()


def test_a_fetched_hostile_copy_is_reported_without_its_junk(tmp_path: Path) -> None:
    team = Team(tmp_path)
    expected = hostile(team)
    assert cli("-C", str(team.victim), "fetch").returncode == 0
    out = tmp_path / "r.html"
    result = cli("-C", str(team.victim), "report", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    payload = data_of(out.read_text(encoding="utf-8"))
    sources = {r["id"]: r["source"] for r in runs_of(payload)}
    assert sources == {"mate-1": TRACKING, **dict.fromkeys(OWN, "refs/provenance/sessions")}
    skipped = "\n".join(payload["skipped"])
    for name in expected:
        assert skipped.count(name) == 1, (name, skipped)


def test_progress_on_a_terminal_only(recorded: Path, tmp_path: Path) -> None:
    fast = {"GITPROV_PROGRESS_DELAY": "0"}
    out = str(tmp_path / "r.html")
    shown = on_a_terminal("report", "-o", out, cwd=recorded, env=fast, tty_out=False)
    assert shown.returncode == 0, shown.stderr
    assert b"\rReading runs: 100% (3/3), done.\n" in shown.stderr
    assert b"\rDiffing snapshots: 100% (1/1), done.\n" in shown.stderr
    assert shown.stdout == f"wrote {out} (3 runs)\n".encode()
    quiet = on_a_terminal("report", "-o", out, cwd=recorded, env=fast, tty_err=False)
    assert quiet.returncode == 0 and quiet.stderr == b""
