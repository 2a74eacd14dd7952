"""Credentials inside recorded values never reach git (issue 12, point 2).

A command run through ``gitprov run``, a script's ``gitprov.record(params=...)`` and a
Kedro session's stored command line each carry every kind of credential; then the only
check that counts: no object of the repository holds any of them, while ``gitprov show``
still says which host, key and option they belonged to.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gitprov
from gitprov import GitSessionStore

from conftest import cli, every_object, git

#: Built, not written out, so that no scanner mistakes this file for a leak.
GHP = "ghp_" + "Zq4r" * 9
XOXB = "xoxb-2048-" + "k3yS1ack" * 2
SK = "sk-proj-" + "0penA1" * 5

#: Each secret once, distinct enough that finding it in git means it leaked.
SECRETS = {
    "pg": "PgPw-71c3",
    "https": "HttpsPw-82d4",
    "pass": "Hunter2-93e5",
    "pwd": "PwdVal-a4f6",
    "phrase": "Phrase-b507",
    "auth": "AuthVal-c618",
    "dburl": "DbUrlPw-d729",
    "dsn": "DsnVal-e83a",
    "bearer": "BearerTok-f94b",
    "header": "HeaderTok-0a5c",
    "slack": "SlackHook-1b6d",
    "fragment": "FragTok-2c7e",
    "kedro": "KedroPw-3d8f",
    "apikey": "ApiKey-4e90",
    "ghp": GHP,
    "xoxb": XOXB,
    "sk": SK,
}


def gitprov_cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("-C", str(repo), *args, process=args[0] == "run")


def assert_nowhere_in_git(repo: Path) -> None:
    objects = every_object(repo)
    names = git(repo, "for-each-ref", "--format=%(refname)")
    assert b"session_id: rec-1" in objects  # the records are there to be searched
    for what, secret in SECRETS.items():
        assert secret.encode() not in objects, what
        assert secret not in names, what


def test_no_credential_of_a_command_params_or_kedro_line_reaches_any_object(repo: Path) -> None:
    s = SECRETS
    command = [
        sys.executable,
        "-c",
        "pass",
        "--db",
        f"postgresql://ann:{s['pg']}@db.example.com:5432/prod",
        "--pass",
        s["pass"],
        f"--pwd={s['pwd']}",
        "--passphrase",
        s["phrase"],
        "--auth",
        s["auth"],
        f"DATABASE_URL=postgresql://app:{s['dburl']}@pg.example.com/app",
        "-H",
        f"Authorization: Bearer {s['header']}",
        f"https://hooks.slack.com/services/T0AAA/B0BBB/{s['slack']}",
        s["ghp"],
    ]
    proc = gitprov_cli(repo, "run", "--id", "run-1", "--", *command)
    assert proc.returncode == 0, proc.stderr

    params = {
        "db": f"postgresql://ann:{s['pg']}@db.example.com/prod",
        "origin": f"https://bob:{s['https']}@git.example.com/org/x.git",
        "DATABASE_URL": f"postgresql://app:{s['dburl']}@pg.example.com/app",
        "dsn": f"host=pg.example.com password={s['dsn']}",
        "headers": {"Authorization": f"Bearer {s['bearer']}", "Accept": "application/json"},
        "callback": f"https://app.example.com/cb#access_token={s['fragment']}&state=ok",
        "argv": ["--pass", s["pass"], f"--pwd={s['pwd']}", "--auth", s["auth"]],
        "note": f"slack {s['xoxb']} and openai {s['sk']} in prose",
    }
    metrics = {"token_count": 1234, "max_tokens": 256, "num_tokens": 7, "tokenizer": "bpe"}
    with gitprov.record(repo, session_id="rec-1", params=params, metrics=metrics):
        pass

    store = GitSessionStore(path=str(repo / "sessions"), session_id="kedro-1")
    db_url = f"postgresql://u:{s['kedro']}@h.example.com/db"
    line = f"kedro run --params db_url={db_url},api_key={s['apikey']},epochs=3"
    store["cli"] = {"command_path": line}
    store["runtime_params"] = {"db_url": db_url}
    store.save()

    assert_nowhere_in_git(repo)

    shown = gitprov_cli(repo, "show", "run-1").stdout
    for visible in (
        "postgresql://***@db.example.com:5432/prod",
        "- --pass\n  - '***'",
        "--pwd=***",
        "--passphrase\n  - '***'",
        "DATABASE_URL=postgresql://***@pg.example.com/app",
        "Authorization: Bearer ***",
        "https://hooks.slack.com/services/***",
    ):
        assert visible in shown, (visible, shown)

    shown = gitprov_cli(repo, "show", "rec-1").stdout
    for visible in (
        "db: postgresql://***@db.example.com/prod",
        "origin: https://***@git.example.com/org/x.git",
        "DATABASE_URL: postgresql://***@pg.example.com/app",
        "dsn: '***'",
        "Authorization: Bearer ***",
        "Accept: application/json",
        "callback: https://app.example.com/cb#access_token=***&state=ok",
        "note: slack *** and openai *** in prose",
        "token_count: 1234",
        "max_tokens: 256",
        "num_tokens: 7",
        "tokenizer: bpe",
    ):
        assert visible in shown, (visible, shown)

    shown = gitprov_cli(repo, "show", "kedro-1").stdout
    assert "db_url=postgresql://***@h.example.com/db,api_key=***,epochs=3" in shown
    assert "db_url: postgresql://***@h.example.com/db" in shown
