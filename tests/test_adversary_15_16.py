"""An adversary's and an auditor's look at issues 15 and 16 (the query index, ``list``,
``report``, the terminal): each test is a way one of them broke, kept so it stays fixed."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import gitprov
import gitprov.index.query
from gitprov.audit.log import SessionLog
from gitprov.git import Git
from gitprov.index.db import INDEX_FILE
from gitprov.store.records import RecordStore
from test_hostile_remote import Team, blob
from test_report import data_of, runs_of

from conftest import cli


def gitprov_cli(repo: Path, *args: str) -> tuple[int, str, str]:
    done = cli("-C", str(repo), *args)
    return done.returncode, done.stdout, done.stderr


def test_an_integer_too_large_for_a_float_is_indexed(repo: Path) -> None:
    """``record(metrics={'n': 10**400})`` saves fine and ``show`` reads it; the index took
    the whole record for unreadable (OverflowError), so ``list`` exited 1 naming it."""
    with gitprov.record(repo, "huge", metrics={"n": 10**400, "m": -(10**400)}):
        pass
    with gitprov.record(repo, "small", metrics={"n": 1, "m": 1}):
        pass
    code, out, err = gitprov_cli(repo, "list", "--format", "ids")
    assert (code, sorted(out.split()), err) == (0, ["huge", "small"], "")
    code, out, err = gitprov_cli(repo, "list", "--format", "ids", "--where", "metrics.n>1e300")
    assert (code, out.split(), err) == (0, ["huge"], "")
    code, out, err = gitprov_cli(repo, "list", "--format", "ids", "--where", "metrics.m<0")
    assert (code, out.split(), err) == (0, ["huge"], "")
    code, out, _ = gitprov_cli(repo, "verify")
    assert code == 0, out


def test_an_index_found_damaged_while_it_answers_is_rebuilt_and_answers(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Bytes of a row's text damaged (a disk, a crashed copy): SQLite finds it only when the
    listing reads that row. That was a traceback (``Could not decode to UTF-8``), and a
    damage found there (``malformed``) was rebuilt into an empty index that answered
    nothing, exit 0."""
    for n in range(3):
        with gitprov.record(repo, f"s{n}", params={"n": n}):
            pass
    assert gitprov_cli(repo, "list")[0] == 0  # the index file is built, and closed
    started = SessionLog(repo).get("s1")["run"]["started_at"].encode()
    path = repo.joinpath(".git", *INDEX_FILE)
    data = path.read_bytes()
    assert started in data and not Path(f"{path}-wal").exists()
    path.write_bytes(data.replace(started, started[:4] + b"\xff" + started[5:]))
    with caplog.at_level(logging.WARNING):
        code, out, err = gitprov_cli(repo, "list", "--format", "ids")
    assert (code, sorted(out.split())) == (0, ["s0", "s1", "s2"]), err
    assert "damaged" in err and err.count("\n") == 1, err
    assert gitprov_cli(repo, "list", "--format", "ids")[1].split() == ["s2", "s1", "s0"]


def test_csv_sends_no_control_character_to_a_terminal(repo: Path) -> None:
    """The table escapes a record's control characters, json and yaml escape them: csv
    wrote a teammate's ``ESC ] 0 ;`` (retitle), ``ESC [ 2 J`` (clear) as they were."""
    hostile = "\x1b]0;PWNED\x07\x1b[2J\x9b31m"
    with gitprov.record(repo, "esc", params={"note": hostile, "lines": "a\nb"}):
        pass
    code, out, err = gitprov_cli(repo, "list", "--format", "csv", "--columns", "params.note")
    assert code == 0, err
    assert not any(c in out for c in "\x1b\x07\x9b"), repr(out)
    assert "\\x1b]0;PWNED\\x07" in out and "\\x9b31m" in out


@pytest.mark.parametrize("few", [0, 2000], ids=["each-run", "gathered"])
def test_a_nan_metric_is_no_number_above_or_below_a_bound(
    repo: Path, few: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A diverged run's ``auc: .nan`` matched ``metrics.auc>=0.9`` (SQLite keeps NaN as
    NULL, and the row was then compared as the text 'nan') when few runs matched, not when
    many did, nor on a key read from the records: NaN is unordered, and != anything."""
    monkeypatch.setattr(gitprov.index.query, "_FEW", few)  # both ways of testing a row
    store = RecordStore(Git.discover(repo))
    for name, auc in (("good", 0.95), ("poor", 0.5), ("diverged", float("nan"))):
        record = {"session_id": name, "metrics": {"auc": auc}, "run": {"cwd": auc}}
        store.save(name, yaml.safe_dump(record).encode())
    log = SessionLog(repo)
    for where, expected in (
        ("auc>=0.9", ["good"]),
        ("auc>0", ["good", "poor"]),
        ("auc<1", ["good", "poor"]),
        ("auc!=0.5", ["diverged", "good"]),
        ("auc=nan", ["diverged"]),
    ):
        assert sorted(e.session_id for e in log.query(f"metrics.{where}")) == expected, where
        key = where.replace("auc", "run.cwd")  # a key read from the records themselves
        assert sorted(e.session_id for e in log.query(key)) == expected, key


def test_the_report_shows_a_large_integer_exactly(repo: Path) -> None:
    """JavaScript numbers keep integers exactly up to 2**53: a 64-bit seed was shown rounded
    in the report (18446744073709551617 as 1.8446744073709552e+19), 10**400 as null."""
    seeds = {"small": 2**53, "seed": 2**64 + 1, "huge": 10**400, "low": -(2**64)}
    with gitprov.record(repo, "seeded", params=seeds):
        pass
    page = repo.parent / "report.html"
    code, _, err = gitprov_cli(repo, "report", "-o", str(page))
    assert code == 0, err
    (run,) = runs_of(data_of(page.read_text()))
    shown = {key: run["f"][f"params.{key}"] for key in seeds}
    assert shown == {
        "small": 2**53,
        "seed": str(2**64 + 1),
        "huge": str(10**400),
        "low": str(-(2**64)),
    }


def test_forget_leaves_nothing_of_the_record_in_the_index_file(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``forget`` purges (``git gc`` then finds nothing), but the index file kept the
    forgotten record's key names (the keys table never let a key go), and where SQLite
    does not zero what it deletes (secure_delete is off but on Debian's build) its values
    too, in free pages."""
    connect = sqlite3.connect

    def as_elsewhere(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = connect(*args, **kwargs)
        db.execute("PRAGMA secure_delete = OFF")  # the default of most builds of SQLite
        return db

    monkeypatch.setattr(sqlite3, "connect", as_elsewhere)
    for n in range(30):
        with gitprov.record(repo, f"k{n:02d}", params={"n": n, "pad": "x" * 300}):
            pass
    secret = "ghp_MARKERsecretVALUE0123456789"
    with gitprov.record(repo, "leak", params={"key_ghp_MARKERsecretKEY": secret * 20}):
        pass
    for n in range(30, 60):
        with gitprov.record(repo, f"k{n:02d}", params={"n": n, "pad": "x" * 300}):
            pass
    assert gitprov_cli(repo, "list")[0] == 0
    path = repo.joinpath(".git", *INDEX_FILE)
    assert b"MARKERsecret" in path.read_bytes()
    assert gitprov_cli(repo, "forget", "--reason", "a token", "leak")[0] == 0
    assert gitprov_cli(repo, "list", "--where", "params.n=1")[0] == 0
    for file in path.parent.iterdir():
        assert b"MARKERsecret" not in file.read_bytes(), file


def test_each_records_ref_has_its_own_index(repo: Path) -> None:
    """Every records ref shared one index file: ``gitprov --ref R list`` and ``gitprov list``
    rebuilt it for their own ref in turn, and an index held open (``verify``'s
    ``SessionLog.index()``) answered the other ref's sessions once one had caught up."""
    other = "refs/provenance/other"
    for name, ref in (("s0", None), ("s1", None), ("o0", other)):
        with gitprov.record(repo, name, **({"ref": ref} if ref else {})):
            pass
    mine, theirs = SessionLog(repo), SessionLog(repo, ref=other)
    with mine.index() as index:
        assert [e.session_id for e in theirs.query()] == ["o0"]
        assert [row[0] for row in index.code()] == ["s0", "s1"]
    assert gitprov_cli(repo, "--ref", other, "list", "--format", "ids")[1].split() == ["o0"]
    assert gitprov_cli(repo, "list", "--format", "ids")[1].split() == ["s1", "s0"]
    tips = sqlite3.connect(repo.joinpath(".git", *INDEX_FILE)).execute("SELECT ref FROM sources")
    assert [ref for (ref,) in tips] == ["refs/provenance/sessions"]


@pytest.mark.parametrize(
    "option", ["--until=9999-12-31", "--since=0001-01-01", "--until=0001-01-01T00:00"]
)
def test_a_time_at_the_ends_of_the_calendar_is_a_usage_error(repo: Path, option: str) -> None:
    """``--until 9999-12-31`` (its day's end is past year 9999) and year 1 in local time
    (before year 1 in UTC) were tracebacks (OverflowError, ValueError)."""
    with gitprov.record(repo, "one"):
        pass
    code, out, err = gitprov_cli(repo, "list", option)
    assert (code, out) == (2, ""), err
    assert "Invalid value for" in err and "Traceback" not in err


def test_the_report_never_writes_through_a_planted_link(repo: Path) -> None:
    """The report is first written to ``.<name>.partial``, a fixed name: in a shared folder
    another user could plant that name as a link to a file of the victim's, which the
    report then overwrote."""
    with gitprov.record(repo, "one"):
        pass
    victim = repo.parent / "victims-file"
    victim.write_text("precious\n")
    (repo.parent / ".report.html.partial").symlink_to(victim)
    code, _, err = gitprov_cli(repo, "report", "-o", str(repo.parent / "report.html"))
    assert code == 0, err
    assert victim.read_text() == "precious\n"
    assert "gitprov-data" in (repo.parent / "report.html").read_text()


def test_a_copy_full_of_junk_is_named_in_linear_time(tmp_path: Path) -> None:
    """Each entry a fetched copy holds that is not a record is named once: the check for
    'once' compared each with every one named before, so 8,000 junk files made every
    ``gitprov list`` of the victim take 11 s (100,000: half an hour)."""
    team = Team(tmp_path)
    junk = blob(team.remote, b"junk\n")
    team.attack({"00": {f"junk{n}": ("100644", junk) for n in range(20_000)}}, {})
    assert gitprov_cli(team.victim, "fetch")[0] == 0
    started = time.monotonic()
    code, out, err = gitprov_cli(team.victim, "list", "--format", "ids")
    assert (code, sorted(out.split())) == (0, ["mate-1", "own-1", "own-2"]), err[-500:]
    assert err.count("not named <session id>.yaml") == 20_000
    assert time.monotonic() - started < 15  # 77 s when it was quadratic


@pytest.mark.parametrize("command", [["show", "c1"], ["list", "--columns", "params.note"]])
def test_json_escapes_the_c1_controls_a_terminal_may_obey(repo: Path, command: list[str]) -> None:
    """JSON escaped C0 controls (ESC as \\u001b) but wrote C1 ones as they were: U+009B
    is CSI on terminals that read C1 controls in UTF-8 (xterm). Escaped, JSON reads back
    the same value."""
    hostile = "a\x9b31mred\x9d0;title\x9cb"
    with gitprov.record(repo, "c1", params={"note": hostile}):
        pass
    code, out, err = gitprov_cli(repo, *command, "--format", "json")
    assert code == 0, err
    assert not any("\x7f" <= c <= "\x9f" for c in out), repr(out)
    data = json.loads(out)
    assert (data["params"]["note"] if command[0] == "show" else data[0]["params.note"]) == hostile
