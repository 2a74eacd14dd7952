"""``gitprov list`` and ``SessionLog.query``: newest first, every filter, every format, on
records written by ``gitprov.record()`` and ``gitprov run`` and fetched from a teammate."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

import gitprov
from gitprov import SessionLog
from gitprov.audit import query
from gitprov.errors import GitProvError, InvalidQueryError
from gitprov.git import Git
from gitprov.index.api import Condition
from gitprov.store.records import RecordStore

from conftest import cli, git, make_repo

#: The runs of :func:`runs`, newest first (their ids sort neither way on purpose).
NEWEST_FIRST = ["d-4", "a-3", "c-2", "b-1"]


def ids(repo: Path, *args: str) -> list[str]:
    proc = cli("-C", str(repo), "list", "--format", "ids", *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def listed(repo: Path, *args: str) -> Any:
    proc = cli("-C", str(repo), "list", "--format", "json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Iterator[Path]:
    """Four runs: b-1 (record(), clean, main, Ann), c-2 (record(), dirty, main, Ann),
    a-3 (record() that raised, on a new commit of branch feature, Bob), d-4 (gitprov run,
    clean, feature, the OS user)."""
    repo = make_repo(tmp_path_factory.mktemp("list") / "repo", {"README.md": "hello\n"})
    git(repo, "config", "user.name", "Ann")
    with gitprov.record(
        repo, "b-1", params={"lr": 0.01, "opt": "adam", "epochs": 9}, metrics={"auc": 0.91}
    ):
        pass
    (repo / "README.md").write_text("changed\n")
    with gitprov.record(
        repo, "c-2", params={"lr": 0.1, "opt": "sgd", "epochs": 10}, metrics={"auc": 0.85}
    ):
        pass
    git(repo, "checkout", "-q", "-b", "feature")
    git(repo, "commit", "-q", "-am", "feature")
    git(repo, "config", "user.name", "Bob")
    with pytest.raises(ValueError), gitprov.record(repo, "a-3", params={"lr": 0.001}):
        raise ValueError("boom")
    git(repo, "config", "--unset", "user.name")
    command = [sys.executable, "-c", "import sys; sys.exit(0)"]
    done = cli("-C", str(repo), "run", "--id", "d-4", "--", *command, process=True)
    assert done.returncode == 0, done.stderr
    yield repo


def test_newest_first_limit_and_reverse(runs: Path) -> None:
    assert ids(runs) == NEWEST_FIRST
    assert ids(runs, "--reverse") == NEWEST_FIRST[::-1]
    assert ids(runs, "--limit", "2") == ["d-4", "a-3"]
    assert ids(runs, "--limit", "2", "--reverse") == ["a-3", "d-4"]  # the newest 2, oldest first
    assert ids(runs, "--limit", "9") == NEWEST_FIRST
    assert SessionLog(runs).ids() == sorted(NEWEST_FIRST)  # ids() keeps its order
    bad = cli("-C", str(runs), "list", "--limit", "0")
    assert bad.returncode == 2


def test_the_table_says_when_how_long_what_and_who(runs: Path) -> None:
    proc = cli("-C", str(runs), "list")
    assert proc.returncode == 0, proc.stderr
    head, *lines = proc.stdout.splitlines()
    assert head.split() == [
        "SESSION", "STARTED", "DURATION", "STATUS", "COMMIT", "BRANCH", "TREE", "WHAT", "USER"
    ]  # fmt: skip
    rows = {line.split()[0]: line for line in lines}
    assert list(rows) == NEWEST_FIRST
    stamp, duration = r"\d{4}-\d\d-\d\d \d\d:\d\d", r"(\d+\.\d s|\d+m\d\ds|\d+h\d\dm)"
    for session_id, line in rows.items():
        assert re.match(rf"{session_id} +{stamp} +{duration.replace(' ', '')} ", line), line
    head_commit = git(runs, "rev-parse", "HEAD").strip()
    first_commit = git(runs, "rev-parse", "main").strip()
    assert rows["d-4"].split()[4:8] == ["success", head_commit[:12], "feature", "clean"]
    assert rows["a-3"].split()[4:8] == ["failed", head_commit[:12], "feature", "clean"]
    assert rows["c-2"].split()[4:8] == ["success", first_commit[:12], "main", "dirty"]
    assert rows["b-1"].split()[4:8] == ["success", first_commit[:12], "main", "clean"]
    assert rows["a-3"].split()[-1] == "Bob" and rows["b-1"].split()[-1] == "Ann"
    # WHAT: the command, on one line and shortened
    what = rows["d-4"][head.index("WHAT") : head.index("USER")].strip()
    whole = next(e["what"] for e in listed(runs) if e["session_id"] == "d-4")
    assert whole.startswith(sys.executable) and len(whole) > 40
    assert what == whole[:37].rstrip() + "..."


def test_filters_combine(runs: Path) -> None:
    first = git(runs, "rev-parse", "main").strip()
    assert ids(runs, "--status", "failed") == ["a-3"]
    assert ids(runs, "--status", "failed", "--status", "success") == NEWEST_FIRST
    assert ids(runs, "--branch", "main") == ["c-2", "b-1"]
    assert ids(runs, "--branch", "nope") == []
    assert ids(runs, "--commit", "main") == ["c-2", "b-1"]
    assert ids(runs, "--commit", first[:7]) == ["c-2", "b-1"]
    assert ids(runs, "--commit", "HEAD") == ["d-4", "a-3"]
    assert ids(runs, "--dirty") == ["c-2"]
    assert ids(runs, "--clean") == ["d-4", "a-3", "b-1"]
    assert ids(runs, "--user", "Ann") == ["c-2", "b-1"]
    assert ids(runs, "--user", "Bob", "--status", "success") == []
    assert ids(runs, "--clean", "--branch", "main", "--status", "success") == ["b-1"]
    for rev in ("no-such-rev", "--all", "HEAD:README.md"):
        unknown = cli("-C", str(runs), "list", "--commit", rev)
        assert unknown.returncode == 1 and "is not a commit" in unknown.stderr, rev
    assert cli("-C", str(runs), "list", "--status", "faild").returncode == 2


def test_where_compares_numbers_text_substrings_and_dates(runs: Path) -> None:
    assert ids(runs, "--where", "params.lr=0.01") == ["b-1"]
    assert ids(runs, "--where", "params.lr=1e-2") == ["b-1"]  # as numbers
    assert ids(runs, "--where", "params.epochs>9") == ["c-2"]  # 10 > 9, though "10" < "9"
    assert ids(runs, "--where", "params.lr<0.05") == ["a-3", "b-1"]
    assert ids(runs, "--where", "metrics.auc >= 0.9") == ["b-1"]
    assert ids(runs, "--where", "params.opt=adam") == ["b-1"]
    assert ids(runs, "--where", "params.opt!=adam") == ["c-2"]  # a-3 has no opt: no match
    assert ids(runs, "--where", "params.opt~gd") == ["c-2"]
    assert ids(runs, "--where", "run.argv~sys.exit(0)") == ["d-4"]  # a value holding "("
    both = ["--where", "params.lr<=0.1", "--where", "params.opt~a"]
    assert ids(runs, *both) == ["b-1"]  # all must hold
    started = {e["session_id"]: e["started_at"] for e in listed(runs)}
    assert ids(runs, "--where", f"run.started_at>={started['c-2']}") == ["d-4", "a-3", "c-2"]
    assert ids(runs, "--where", f"run.started_at<{started['c-2']}") == ["b-1"]


def test_where_on_a_key_no_run_has_lists_nothing(runs: Path) -> None:
    proc = cli("-C", str(runs), "list", "--where", "params.nope=1")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


@pytest.mark.parametrize("bad", ["params.lr", "=1", "a!b", "a<", "a>>1", "a==1", "a=>1", ""])
def test_a_malformed_where_is_a_usage_error_showing_the_forms(runs: Path, bad: str) -> None:
    proc = cli("-C", str(runs), "list", "--where", bad)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "KEY<OP>VALUE" in proc.stderr and "!= < <= > >= ~" in proc.stderr
    assert "--where params.lr=0.01" in proc.stderr


@pytest.mark.parametrize("option", ["--where=params.lr=", "--branch=m", "--user=", "--columns=a."])
def test_an_argument_that_is_no_utf8_text_is_a_usage_error(runs: Path, option: str) -> None:
    """Bytes that are no UTF-8 (``\\xff`` in argv, a lone surrogate in Python) are in no
    record, and SQLite refuses them: a usage error naming them, no traceback."""
    proc = cli("-C", str(runs), "list", option + "\udcff", process=True, text=False)
    assert proc.returncode == 2 and proc.stdout == b""
    assert b"\\xff' is not UTF-8 text" in proc.stderr and b"Traceback" not in proc.stderr


def test_since_and_until(runs: Path) -> None:
    entries = listed(runs)
    started = {e["session_id"]: e["started"] for e in entries}
    text = {e["session_id"]: e["started_at"] for e in entries}
    assert ids(runs, "--since", text["c-2"]) == ["d-4", "a-3", "c-2"]
    assert ids(runs, "--until", text["c-2"]) == ["c-2", "b-1"]
    assert ids(runs, "--since", text["c-2"], "--until", text["a-3"]) == ["a-3", "c-2"]
    local = datetime.fromtimestamp(started["a-3"]).isoformat(timespec="microseconds")
    assert ids(runs, "--since", local) == ["d-4", "a-3"]  # naive: local time
    today = datetime.fromtimestamp(started["b-1"]).date().isoformat()
    assert ids(runs, "--since", today) == ids(runs, "--until", today) == NEWEST_FIRST
    assert ids(runs, "--since", "1.hour") == ids(runs, "--since", "2.days.ago") == NEWEST_FIRST
    assert ids(runs, "--until", "1.day.ago") == ids(runs, "--since", "2999-01-01") == []


def test_a_malformed_time_is_a_usage_error(runs: Path) -> None:
    proc = cli("-C", str(runs), "list", "--since", "soon")
    assert proc.returncode == 2 and "3.days" in proc.stderr and "ISO" in proc.stderr


def test_formats(runs: Path) -> None:
    as_json = listed(runs, "--columns", "params.lr,metrics.auc")
    assert [e["session_id"] for e in as_json] == NEWEST_FIRST
    first = as_json[-1]
    assert first["status"] == "success" and first["branch"] == "main" and not first["dirty"]
    assert first["params.lr"] == 0.01 and first["metrics.auc"] == 0.91
    assert as_json[0]["params.lr"] is None and as_json[0]["metrics.auc"] is None
    assert first["commit"] == git(runs, "rev-parse", "main").strip()
    assert as_json[0]["what"].startswith(sys.executable) and as_json[0]["duration"] >= 0
    as_yaml = yaml.safe_load(
        cli(
            "-C", str(runs), "list", "--format", "yaml", "--columns", "params.lr,metrics.auc"
        ).stdout
    )
    assert as_yaml == as_json
    proc = cli("-C", str(runs), "list", "--format", "csv", "--columns", "params.lr", "--reverse")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["session_id"] for r in rows] == NEWEST_FIRST[::-1]
    assert rows[0]["params.lr"] == "0.01" and rows[-1]["params.lr"] == ""
    assert rows[0]["dirty"] == "false" and rows[1]["dirty"] == "true"
    assert rows[-1]["what"] == as_json[0]["what"]  # whole, not shortened


def test_columns_in_the_table(runs: Path) -> None:
    proc = cli("-C", str(runs), "list", "--columns", "params.lr", "--columns", "params.opt")
    head, *lines = proc.stdout.splitlines()
    assert head.split()[-2:] == ["params.lr", "params.opt"]
    rows = {line.split()[0]: line.split() for line in lines}
    assert rows["b-1"][-2:] == ["0.01", "adam"] and rows["a-3"][-2:] == ["0.001", "-"]
    assert rows["d-4"][-2:] == ["-", "-"]


def test_colour_keeps_the_columns_aligned(runs: Path) -> None:
    plain = cli("-C", str(runs), "list").stdout
    coloured = cli("-C", str(runs), "--color", "always", "list").stdout
    assert "\x1b[31mfailed" in coloured and "\x1b[32msuccess" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    assert "\x1b" not in plain  # piped: no colour


def test_python_query(runs: Path) -> None:
    log = SessionLog(runs)
    assert [e.session_id for e in log.query()] == NEWEST_FIRST
    assert [e.session_id for e in log.query(order="oldest", limit=2)] == ["b-1", "c-2"]
    assert [e.session_id for e in log.query("params.lr=0.01")] == ["b-1"]
    where = [Condition("params.lr", "<", "0.05"), "params.opt=adam"]
    assert [e.session_id for e in log.query(where)] == ["b-1"]
    assert [e.session_id for e in log.query(status="failed", commit="HEAD")] == ["a-3"]
    assert [e.session_id for e in log.query(branch="main", dirty=False)] == ["b-1"]
    assert [e.session_id for e in log.query(user="Ann")] == ["c-2", "b-1"]
    c2 = log.query(where="params.opt=sgd", columns="params.lr,metrics.auc")[0]
    assert c2.dirty is True and dict(c2.values) == {"params.lr": 0.1, "metrics.auc": 0.85}
    assert c2.started is not None
    later = datetime.fromtimestamp(c2.started, UTC)
    assert [e.session_id for e in log.query(since=later)] == ["d-4", "a-3", "c-2"]
    assert [e.session_id for e in log.query(until=c2.started)] == ["c-2", "b-1"]
    assert log.query(since="1.day.ago") == log.query()
    with pytest.raises(InvalidQueryError, match="KEY<OP>VALUE"):
        log.query("params.lr")
    with pytest.raises(InvalidQueryError):
        log.query(order="sideways")  # type: ignore[arg-type]
    with pytest.raises(GitProvError, match="is not a commit"):
        log.query(commit="nope")


def test_a_teammates_runs_after_fetch_and_the_empty_states(tmp_path: Path) -> None:
    seed = make_repo(tmp_path / "seed")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(tmp_path / "a"))
    git(tmp_path, "clone", "-q", str(remote), str(tmp_path / "b"))
    a, b = tmp_path / "a", tmp_path / "b"
    with gitprov.record(a, "t-1", params={"lr": 0.5}):
        pass
    assert cli("-C", str(a), "push").returncode == 0
    assert ids(remote, "--where", "params.lr=0.5") == ["t-1"]  # a bare repository: a server
    empty = cli("-C", str(b), "list")  # a fresh clone: the records are on the remote
    assert empty.returncode == 0 and empty.stdout == ""
    assert "`gitprov fetch`" in empty.stderr and "gitprov run" in empty.stderr
    assert cli("-C", str(b), "fetch").returncode == 0
    fetched = listed(b, "--where", "params.lr>0.1")
    assert [e["session_id"] for e in fetched] == ["t-1"]
    assert fetched[0]["source"] == "refs/provenance/remotes/origin/sessions"
    with gitprov.record(b, "t-2"):
        pass
    assert ids(b) == ["t-2", "t-1"]
    alone = cli("-C", str(make_repo(tmp_path / "alone")), "list")
    assert alone.returncode == 0 and alone.stdout == ""
    assert "gitprov run -- COMMAND" in alone.stderr and "gitprov.record()" in alone.stderr
    assert "gitprov fetch" not in alone.stderr


def test_a_records_escapes_never_reach_the_terminal(repo: Path) -> None:
    with gitprov.record(repo, "evil", params={"x": "\x1b]0;owned\x07\x1b[2Jhi\nthere"}):
        pass
    proc = cli("-C", str(repo), "list", "--columns", "params.x")
    assert proc.returncode == 0 and "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert proc.stdout.splitlines()[1].endswith("\\x1b]0;owned\\x07\\x1b[2Jhi there")


def test_odd_records_are_listed_and_broken_ones_named_whatever_the_filters(repo: Path) -> None:
    store = RecordStore(Git.discover(repo))
    store.save("odd", b"session_id: odd\ngit:\n  commit: 12345\n  branch: main\nrun:\n- 1\n")
    store.save("broken", b"session_id: broken\nparams: [unclosed\n")
    store.save("fine", b"session_id: fine\nrun:\n  status: failed\n  argv: [echo, a b]\n")
    for args in ([], ["--status", "failed"], ["--limit", "1"], ["--format", "json"]):
        proc = cli("-C", str(repo), "list", *args)
        assert proc.returncode == 1, args
        assert ("fine" in proc.stdout or args[0] == "--limit") and "broken" not in proc.stdout
        errors = proc.stderr.splitlines()
        assert len(errors) == 1 and "session broken is not valid YAML" in errors[0], args
    odd = next(e for e in listed_anyway(repo) if e["session_id"] == "odd")
    assert odd["commit"] is None and odd["branch"] == "main" and "12345" in odd["problem"]
    assert [e.session_id for e in SessionLog(repo).query(status="failed")] == ["fine"]
    everything = {e.session_id: e for e in SessionLog(repo).query()}
    assert everything["broken"].problem and everything["broken"].status == "unknown"


@pytest.mark.parametrize("limit", [[], ["--limit", "5"]], ids=["every", "limit"])
def test_a_key_as_written_decides_else_the_one_under_run(repo: Path, limit: list[str]) -> None:
    store = RecordStore(Git.discover(repo))
    for sid, body in (
        ("top", "params:\n  lr: 0.01\n"),
        ("kedro", "run:\n  status: failed\n  params:\n    lr: 0.01\n"),
        ("both", "params:\n  lr: 0.01\nrun:\n  params:\n    lr: 0.5\n"),
        ("hidden", "params:\n  lr: 0.5\nrun:\n  status: failed\n  params:\n    lr: 0.01\n"),
        ("nan", "params:\n  lr: .nan\nrun:\n  params:\n    lr: 0.01\n"),
    ):
        store.save(sid, f"session_id: {sid}\n{body}".encode())
    assert sorted(ids(repo, "--where", "params.lr=0.01", *limit)) == ["both", "kedro", "top"]
    assert ids(repo, "--where", "params.lr=0.01", "--status", "failed", *limit) == ["kedro"]
    assert sorted(ids(repo, "--where", "params.lr!=0.01", *limit)) == ["hidden", "nan"]
    assert sorted(ids(repo, "--where", "run.params.lr=0.01", *limit)) == ["hidden", "kedro", "nan"]


def test_a_long_table_escapes_only_the_rows_that_need_it(repo: Path) -> None:
    store = RecordStore(Git.discover(repo))
    for n in range(30):
        store.save(f"s{n:02d}", f"session_id: s{n:02d}\nparams:\n  x: p{n}\n".encode())
    store.save("zz", b'session_id: zz\nparams:\n  x: "a\\x1b[2Jb\\u009bc"\n')
    lines = cli("-C", str(repo), "list", "--columns", "params.x").stdout.splitlines()
    assert len(lines) == 32 and "\x1b" not in "".join(lines)
    escaped = [line for line in lines if line.startswith("zz ")]
    assert len(escaped) == 1 and escaped[0].endswith("  a\\x1b[2Jb\\x9bc")
    column = lines[0].index("params.x")  # every row aligned, the escaped one too
    assert {line.index(line.split()[-1]) for line in lines} == {column}


def listed_anyway(repo: Path) -> Any:
    return json.loads(cli("-C", str(repo), "list", "--format", "json").stdout)


def test_parse_and_show_helpers() -> None:
    assert query.parse_where("run.argv~a=b") == Condition("run.argv", "~", "a=b")
    assert query.parse_where("params.learning rate <= 3") == Condition(
        "params.learning rate", "<=", "3"
    )
    assert query.parse_where("git.branch=") == Condition("git.branch", "=", "")
    now = time.time()
    assert query.parse_when("3.days", now=now) == query.parse_when("3.days.ago", now=now)
    assert query.parse_when("3 days ago", now=now) == now - 3 * 86400
    assert query.parse_when("1.week", now=now) == now - 7 * 86400
    assert query.parse_when("30.minutes", now=now) == now - 1800
    assert query.parse_when("2026-11-29T17:04:00Z") == 1795971840.0
    start, end = query.parse_when("2026-11-29"), query.parse_when("2026-11-29", end=True)
    assert datetime.fromtimestamp(start).hour == 0 and 86399 < end - start < 86400
    with pytest.raises(InvalidQueryError, match=r"3\.days"):
        query.parse_when("3.fortnights")
    assert [query.duration(s) for s in (1.23, 184, 3720, None)] == ["1.2s", "3m04s", "1h02m", "-"]
    assert {query.duration(s) for s in (-1.0, float("nan"), float("inf"))} == {"-"}
    assert query.shorten("a  b\nc") == "a b c" and len(query.shorten("x" * 99)) == 40
    assert query.started(None) == query.started(1e20) == query.started(float("nan")) == "-"


def test_no_match_is_an_empty_document_in_json_yaml_and_csv(repo: Path) -> None:
    """A script reading ``--format json`` gets ``[]`` when nothing matches, not nothing."""
    with gitprov.record(repo, "s1", params={"lr": 0.1}):
        pass
    nothing = ["--where", "params.lr=5"]
    outputs = {
        fmt: cli("-C", str(repo), "list", *nothing, "--format", fmt)
        for fmt in ("json", "yaml", "csv", "ids", "table")
    }
    assert all(proc.returncode == 0 and proc.stderr == "" for proc in outputs.values())
    assert json.loads(outputs["json"].stdout) == []
    assert yaml.safe_load(outputs["yaml"].stdout) == []
    assert (
        outputs["csv"].stdout.startswith("session_id,") and outputs["csv"].stdout.count("\n") == 1
    )
    assert outputs["ids"].stdout == outputs["table"].stdout == ""
    assert (
        json.loads(cli("-C", str(repo), "list", "--format", "json").stdout)[0]["session_id"] == "s1"
    )
