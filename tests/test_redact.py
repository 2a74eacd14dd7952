"""Secret redaction: by key, at any depth, in strings and argument lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitprov import GitSessionStore, SessionLog
from gitprov.redact import ENV_VAR, MASK, redact
from gitprov.schema import build

from conftest import git


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "PASSWORD",
        "passwd",
        "secret",
        "client_secret",
        "AWS_SECRET_ACCESS_KEY",
        "token",
        "github_token",
        "githubToken",
        "access_token",
        "api_key",
        "apiKey",
        "APIKey",
        "api-key",
        "apikey",
        "x.apikey",
        "access_key",
        "private_key",
        "ssh_private_key_path",
        "credential",
        "credentials",
        "aws_credentials",
        "secrets",
    ],
)
def test_secret_keys_are_masked(key: str) -> None:
    assert redact({key: "hunter2"}) == {key: MASK}


@pytest.mark.parametrize(
    "key", ["max_tokens", "num_tokens", "tokenizer", "secretary", "keyboard", "user", "passage"]
)
def test_ordinary_keys_are_kept(key: str) -> None:
    assert redact({key: "value"}) == {key: "value"}


def test_nested_dicts_and_lists() -> None:
    value = {
        "params": {
            "db": {"host": "h", "password": "p1"},
            "models": [{"name": "m", "api_key": "k1"}, {"name": "n", "extra": [{"token": "t"}]}],
        },
        "credentials": {"user": "u", "pass": "p2"},  # masked whole
        "github_token": None,  # nothing to hide: stays None
        "plain": [1, 2.5, True, None],
    }
    assert redact(value) == {
        "params": {
            "db": {"host": "h", "password": MASK},
            "models": [{"name": "m", "api_key": MASK}, {"name": "n", "extra": [{"token": MASK}]}],
        },
        "credentials": MASK,
        "github_token": None,
        "plain": [1, 2.5, True, None],
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kedro run --params api_key=s3cr3t", "kedro run --params api_key=***"),
        (
            "kedro run --params api_key=s3cr3t,region=eu --env prod",
            "kedro run --params api_key=***,region=eu --env prod",
        ),
        (
            "kedro run --params db.password=two words --env x",
            "kedro run --params db.password=*** --env x",
        ),
        ("kedro run --params=token=abc", "kedro run --params=token=***"),
        ("https://host/p?token=abc&page=2", "https://host/p?token=***&page=2"),
        (
            'failed with {"password": "abc", "user": "u"}',
            'failed with {"password": ***, "user": "u"}',
        ),
        ("failed with {'api_key': 'a b'}", "failed with {'api_key': ***}"),
        ("login --password hunter2 --user bob", "login --password *** --user bob"),
        ("tokenizer=bert max_tokens=5", "tokenizer=bert max_tokens=5"),
        ("no secrets here: a=1, b-c", "no secrets here: a=1, b-c"),
    ],
)
def test_strings(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_argument_lists() -> None:
    argv = ["tool", "--password", "hunter2", "--api-key=k", "TOKEN=t", "-v", "--user", "bob", "x"]
    assert redact(argv) == [
        "tool",
        "--password",
        MASK,
        "--api-key=***",
        "TOKEN=***",
        "-v",
        "--user",
        "bob",
        "x",
    ]


def test_extra_keys_from_argument_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"session_cookie": "c", "pin_code": "1234", "other": "o"}
    assert redact(value) == value
    assert redact(value, ["session_cookie"]) == {**value, "session_cookie": MASK}
    monkeypatch.setenv(ENV_VAR, "pin_code, nothing")
    assert redact(value, ["session_cookie"]) == {
        "session_cookie": MASK,
        "pin_code": MASK,
        "other": "o",
    }


def test_build_redacts_the_sessions_keys_only() -> None:
    git_section = {"commit": "a" * 40, "remotes": {"origin": "https://host/repo.git"}}
    record = build("s1", {"runtime_params": {"token": "t"}, "username": "ann"}, git_section)
    assert record["runtime_params"] == {"token": MASK}
    assert record["username"] == "ann"
    assert record["git"] == git_section


def test_store_secret_keys_option_and_nothing_reaches_git(repo: Path) -> None:
    store = GitSessionStore(
        path=str(repo / "sessions"), session_id="s1", secret_keys=["session_cookie"]
    )
    store["runtime_params"] = {"session_cookie": "c00kie", "nested": [{"password": "hunter2"}]}
    store["cli"] = {"command_path": "kedro run --params api_key=s3cr3t"}
    store.save()
    record = SessionLog(repo).get("s1")
    assert record["runtime_params"] == {"session_cookie": MASK, "nested": [{"password": MASK}]}
    assert record["cli"]["command_path"] == "kedro run --params api_key=***"
    everything = git(repo, "log", "-p", "--all")
    assert "refs/provenance" in git(repo, "for-each-ref")
    for secret in ("c00kie", "hunter2", "s3cr3t"):
        assert secret not in everything
