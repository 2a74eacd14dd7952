"""Secret redaction: by key, at any depth, in strings, argument lists and URLs, and by the
shape of the credential itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitprov import GitSessionStore, SessionLog
from gitprov.model import secret_patterns
from gitprov.model.document import build
from gitprov.model.redact import ENV_VAR, MASK, redact, redact_text, scrub_url
from gitprov.model.sections import Host

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
        "credential",
        "credentials",
        "aws_credentials",
        "secrets",
        "passphrase",
        "Authorization",
        "headers.Authorization",
        "Proxy-Authorization",
        "pass",
        "db_pass",
        "pwd",
        "auth",
        "basic_auth",
        "sig",
        "x-amz-signature",
        "AccountKey",
        "client_secret_value",
        "secret_key_base",
        "SECRET_KEY",
        "token_b64",
    ],
)
def test_secret_keys_are_masked(key: str) -> None:
    assert redact({key: "hunter2"}) == {key: MASK}


@pytest.mark.parametrize(
    "key",
    [
        "max_tokens",
        "num_tokens",
        "tokenizer",
        "token_count",
        "metrics.token_count",
        "tokens_per_second",
        "token_type",
        "secretary",
        "secret_name",
        "password_length",
        "ssh_private_key_path",  # where the key is, not the key
        "keyboard",
        "user",
        "passage",
        "bypass",
        "compass",
        "oauth",
        "design",
        "no_auth",  # a switch: ``--no-auth``
    ],
)
def test_ordinary_keys_are_kept(key: str) -> None:
    """Keys are read as words and judged by the last: a count of tokens is a count."""
    assert redact({key: "value"}) == {key: "value"}


def test_metrics_are_never_masked() -> None:
    metrics = {"metrics": {"token_count": 1234, "max_tokens": 256, "num_tokens": 7}}
    assert redact(metrics) == metrics
    assert redact("token_count=1234 max_tokens=256") == "token_count=1234 max_tokens=256"


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
        (
            "login --pass hunter2 --pwd x --passphrase y --auth z",
            "login --pass *** --pwd *** --passphrase *** --auth ***",
        ),
        ("login --pass=hunter2 --auth=z -v", "login --pass=*** --auth=*** -v"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
        ("curl -H 'Authorization: token abc' -v", "curl -H 'Authorization: token ***' -v"),
        ("headers.Authorization=Basic dTpw,x=1", "headers.Authorization=Basic ***,x=1"),
    ],
)
def test_strings(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # user information becomes ``***``; scheme, host, port and path stay
        ("postgresql://u:pw@h/db", "postgresql://***@h/db"),
        ("--db postgresql://u:pw@h:5432/db --x 1", "--db postgresql://***@h:5432/db --x 1"),
        ("https://user:pw@host/x.git", "https://***@host/x.git"),
        ("https://oauth2:abc@gitlab.example.com/o/r.git", "https://***@gitlab.example.com/o/r.git"),
        ("https://tok3n@github.com/o/r", "https://***@github.com/o/r"),  # a bare user: a token
        ("redis://:pw@cache:6379/0", "redis://***@cache:6379/0"),
        ("file://user:pw@/srv/r.git", "file://***@/srv/r.git"),
        ("ssh://git@host/r.git", "ssh://git@host/r.git"),  # an ssh user is no secret
        ("ssh://git:pw@host/r.git", "ssh://***@host/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("https://medium.com/@ann/post", "https://medium.com/@ann/post"),
        ("https://host:8080/@ann", "https://host:8080/@ann"),
        ("postgresql://u:p@ss@h/db", "postgresql://***@h/db"),  # '@' in the password
        ("postgresql://u:pa/ss@h/db", "postgresql://***@h/db"),  # '/' in the password
        # a connection key: a URL loses its credentials only, anything else goes whole
        ("DATABASE_URL=postgresql://u:pw@h/db", "DATABASE_URL=postgresql://***@h/db"),
        ("DATABASE_URL=postgresql://h/db", "DATABASE_URL=postgresql://h/db"),
        ("DATABASE_URL=host=h password=pw", "DATABASE_URL=***"),
        ("export DATABASE_URL='dsn-value'", "export DATABASE_URL=***"),
        # queries and fragments
        ("https://h/cb#access_token=abc&state=1", "https://h/cb#access_token=***&state=1"),
        ("https://h/p?page=2&api_key=k#top", "https://h/p?page=2&api_key=***#top"),
        ("https://h/p?max_tokens=5", "https://h/p?max_tokens=5"),
        (
            "jdbc:sqlserver://h:1433;databaseName=d;user=u;password=pw",
            "jdbc:sqlserver://h:1433;databaseName=d;user=u;password=***",
        ),
        # Kedro's recorded command line
        (
            "kedro run --params db_url=postgresql://u:pw@h/db,api_key=k,token_count=3",
            "kedro run --params db_url=postgresql://***@h/db,api_key=***,token_count=3",
        ),
        (
            "kedro run --params=url=https://u:pw@h/x,region=eu",
            "kedro run --params=url=https://***@h/x,region=eu",
        ),
    ],
)
def test_credentials_inside_urls(text: str, expected: str) -> None:
    assert redact(text) == expected


GHP = "ghp_" + "a1B2" * 9
SAMPLES = {
    "github-token": GHP,
    "gitlab-token": "glpat-" + "x1Y2z3" * 4,
    "slack-token": "xoxb-1234567890-" + "abcDEF123" * 2,
    "openai-or-anthropic-key": "sk-proj-" + "Ab3" * 10,
    "stripe-key": "sk_live_" + "a1b2" * 6,
    "aws-access-key-id": "AKIA" + "ABCD1234" * 2,
    "google-api-key": "AIza" + "Sy0-_" * 7,
    "huggingface-token": "hf_" + "aB3" * 12,
    "npm-token": "npm_" + "aB3" * 12,
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXNpZw",
}


@pytest.mark.parametrize(("rule", "token"), SAMPLES.items())
def test_tokens_are_masked_wherever_they_stand(rule: str, token: str) -> None:
    assert [r.name for r, _ in secret_patterns.matches(f"x {token} y")] == [rule]
    for value, expected in (
        (f"uses {token} today", "uses *** today"),
        (f"note={token}", "note=***"),
        ({"plain": token}, {"plain": MASK}),
        (["tool", token], ["tool", MASK]),
    ):
        assert redact(value) == expected


def test_webhooks_keep_their_host_and_private_keys_go_whole() -> None:
    assert redact("hooks: https://hooks.slack.com/services/T0A/B0B/xyz123 ok") == (
        "hooks: https://hooks.slack.com/services/*** ok"
    )
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----"
    assert redact({"k": key}) == {
        "k": "-----BEGIN OPENSSH PRIVATE KEY-----***-----END OPENSSH PRIVATE KEY-----"
    }
    assert redact("Bearer " + "abc123" * 4) == "Bearer ***"


@pytest.mark.parametrize(
    "text",
    [
        "sk-learn-pipeline-version-2-final",  # dashes: not an sk- key
        "task-" + "a1" * 20,
        "Bearer authentication failed",
        "commit 3f2a9c1e" + "0" * 32,
        "sha256:" + "ab" * 32,
        "ghp_short",
    ],
)
def test_lookalikes_are_kept(text: str) -> None:
    assert redact(text) == text


def test_redact_text_masks_messages() -> None:
    message = "fatal: unable to access 'https://u:TOKEN@h/x/': refused"
    assert redact_text(message) == "fatal: unable to access 'https://***@h/x/': refused"


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://h/r.git#access_token=abc&x=1", "https://h/r.git#access_token=%2A%2A%2A&x=1"),
        ("https://h/r.git#main", "https://h/r.git#main"),
        ("https://oauth2:abc@h/r.git", "https://h/r.git"),
        ("file://user:abc@/srv/r.git", "file:///srv/r.git"),
        (f"/srv/{GHP}/r.git", "/srv/***/r.git"),
    ],
)
def test_scrub_url_fragments_and_tokens(url: str, clean: str) -> None:
    assert scrub_url(url) == clean


@pytest.mark.parametrize(
    ("query", "masked"),
    [
        ("api_key=k", True),
        ("X-Amz-Signature=s", True),
        ("sig=s", True),
        ("private_token=t", True),
        ("key=AIzaSy-not-a-full-key", True),  # an API key: masked in a URL
        ("passkey=p", True),
        ("sessionkey=s", True),
        ("keyid=k", True),
        ("X-Amz-Credential=c", True),
        ("author=ann", False),
        ("ref=main", False),
        ("page=2", False),
    ],
)
def test_a_remotes_query_keeps_no_secret(query: str, masked: bool) -> None:
    """A remote URL travels to every clone: a query key is masked when a record's key of
    that name would be, or when it holds token, secret, key, pass, sig, auth or cred."""
    key = query.split("=")[0]
    assert (scrub_url(f"https://h/r.git?{query}") == f"https://h/r.git?{key}=%2A%2A%2A") == masked
    if redact({key: "v"}) == {key: MASK}:  # what a record masks, a URL masks too
        assert masked


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


def test_argument_lists_with_credentials_in_values() -> None:
    argv = [
        "tool",
        "--db",
        "postgresql://u:pw@h/db",
        "--pass",
        "hunter2",
        "--pwd=x",
        "--passphrase",
        "two words",
        "--auth",
        "user:pw",
        "--no-auth",  # a switch: what follows is no secret
        "in.csv",
        "--dsn",
        "host=h password=pw",
        "--db-url",
        "https://u:pw@h/x",
        "-H",
        "Authorization: Bearer abc",
        GHP,
    ]
    assert redact(argv) == [
        "tool",
        "--db",
        "postgresql://***@h/db",
        "--pass",
        MASK,
        "--pwd=***",
        "--passphrase",
        MASK,
        "--auth",
        MASK,
        "--no-auth",
        "in.csv",
        "--dsn",
        MASK,
        "--db-url",
        "https://***@h/x",
        "-H",
        "Authorization: Bearer ***",
        MASK,
    ]


def test_mapping_values_under_connection_and_authorization_keys() -> None:
    value = {
        "DATABASE_URL": "postgresql://u:pw@h/db",
        "dsn": "host=h password=pw",
        "headers": {"Authorization": "Bearer abc", "Accept": "text/plain"},
        "db": {"url": "https://u:pw@h/x", "password_length": 12},
    }
    assert redact(value) == {
        "DATABASE_URL": "postgresql://***@h/db",
        "dsn": MASK,
        "headers": {"Authorization": "Bearer ***", "Accept": "text/plain"},
        "db": {"url": "https://***@h/x", "password_length": 12},
    }


def test_extra_keys_from_argument_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"badge_number": "c", "pin_code": "1234", "other": "o"}
    assert redact(value) == value
    assert redact(value, ["badge_number"]) == {**value, "badge_number": MASK}
    monkeypatch.setenv(ENV_VAR, "pin_code, nothing")
    assert redact(value, ["badge_number"]) == {
        "badge_number": MASK,
        "pin_code": MASK,
        "other": "o",
    }


def test_build_redacts_the_sessions_keys_only() -> None:
    git_section = {"commit": "a" * 40, "remotes": {"origin": "https://host/repo.git"}}
    host = Host(hostname="h", platform="p", python="3")
    data = {"runtime_params": {"token": "t"}, "username": "ann"}
    record = build("s1", data, git_section, host=host, saved_at="2026-11-24T10:31:02.117Z")
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


#: detect-secrets' pattern plugins, each with a sample it finds and the part that is the
#: credential: record values must lose every one of them.
DETECT_SECRETS_SAMPLES = {
    "ArtifactoryDetector": ("AKC" + "p9Q" * 8, "AKC" + "p9Q" * 8),
    "AWSKeyDetector": ("AKIA" + "ABCD1234" * 2, "AKIA" + "ABCD1234" * 2),
    "DiscordBotTokenDetector": (
        "M" + "a1" * 12 + "." + "b2c3d4" + "." + "e5" * 13 + "f",
        "a1" * 12 + "." + "b2c3d4",
    ),
    "GitHubTokenDetector": (GHP, GHP),
    "GitLabTokenDetector": ("glpat-" + "x1Y2z3" * 4, "x1Y2z3" * 4),
    "JwtTokenDetector": (SAMPLES["jwt"], SAMPLES["jwt"]),
    "MailchimpDetector": ("0a1b" * 8 + "-us12", "0a1b" * 8),
    "OpenAIDetector": ("sk-" + "a1" * 10 + "T3BlbkFJ" + "b2" * 10, "T3BlbkFJ"),
    "PrivateKeyDetector": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA",
    ),
    "PypiTokenDetector": ("pypi-AgEIcHlwaS5vcmc" + "a1-_" * 18, "a1-_" * 18),
    "SendGridDetector": ("SG." + "a1" * 11 + "." + "b2" * 21 + "c", "b2" * 21),
    "SlackDetector": ("https://hooks.slack.com/services/T0A1/B0B2/xyz123secret", "xyz123secret"),
    "SquareOAuthDetector": ("sq0csp-" + "a1B2" * 10 + "c3D", "a1B2" * 10),
    "StripeDetector": ("sk_live_" + "a1b2" * 6, "a1b2" * 6),
    "TelegramBotTokenDetector": ("123456789:" + "aB3_-" * 7, "aB3_-" * 7),
    "TwilioKeyDetector": ("SK" + "0a1b" * 8, "0a1b" * 8),
}

#: detect-secrets plugins without a format of their own to mirror: the key rules judge
#: keyword assignments (``AccountKey=``, ``_authToken=``, ``cloudant_password=``) and URL
#: user information; entropy would mask commit ids; a public IP address is no credential.
NOT_MIRRORED = {
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "CloudantDetector",
    "IbmCloudIamDetector",
    "IbmCosHmacDetector",
    "KeywordDetector",
    "NpmDetector",
    "SoftlayerDetector",
    "Base64HighEntropyString",
    "HexHighEntropyString",
    "IPPublicDetector",
}


def test_every_detect_secrets_token_format_is_masked_in_values() -> None:
    """Values and snapshot files are screened alike: whatever token detect-secrets finds
    in a file, a record's value loses too (and a new plugin fails here until mirrored)."""
    util = pytest.importorskip("detect_secrets.core.plugins.util")
    plugins = {cls.__name__: cls() for cls in util.get_mapping_from_secret_type_to_class().values()}
    assert set(plugins) - NOT_MIRRORED == set(DETECT_SECRETS_SAMPLES)
    for name, (sample, secret) in DETECT_SECRETS_SAMPLES.items():
        assert plugins[name].analyze_line(filename="f", line=f'x = "{sample}"'), name
        for value in (f"x {sample} y", {"note": sample}, ["tool", sample]):
            assert secret not in str(redact(value)), (name, value)


def test_redact_and_the_patterns_share_one_list() -> None:
    names = [rule.name for rule in secret_patterns.RULES]
    assert len(names) == len(set(names))
    assert secret_patterns.mask("x " + GHP, "<hidden>") == "x <hidden>"


def test_cookies_and_ssh_keys_are_masked() -> None:
    masked = redact({"headers": {"Cookie": "session=abc123"}, "ssh_key": "AAAAB3Nza", "k": 1})
    assert masked == {"headers": {"Cookie": "***"}, "ssh_key": "***", "k": 1}


def test_a_token_used_as_a_key_is_masked_and_no_value_is_lost() -> None:
    token_a = "ghp_" + "a" * 36
    token_b = "ghp_" + "b" * 36
    masked = redact({token_a: 1, token_b: 2, "nested": {"AKIAIOSFODNN7EXAMPLE": "v"}, "lr": 0.1})
    assert masked == {MASK: 1, f"{MASK}#2": 2, "nested": {MASK: "v"}, "lr": 0.1}
