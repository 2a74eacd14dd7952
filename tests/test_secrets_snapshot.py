"""Snapshots never store what looks like a secret (issue 12, point 1).

Every check of a secret is the one that counts: no object of the repository (and of the
remote it was pushed to) holds it, read back with ``git cat-file --batch-all-objects``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import gitprov
from gitprov import GitSessionStore, SessionLog

from conftest import cli, every_object, git, make_repo

# Made-up credentials, each unique so that a grep of the object store finds only it.
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Rt2LmQv"
AWS_KEY_ID = "AKIAZ7QW3RT5YU9IOPLK"
GITHUB_TOKEN = "ghp_R7xK2mQ9vL4tW8nB3cZ6yH1jF5dS0aPqE2uI"
SLACK_TOKEN = "xoxb-284719306152-3958127460318-Qz8Kx3Lm9Wv2Nb7Rt5Yc1Hd"
OPENAI_KEY = "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"
KEYWORD_SECRET = "correct-horse-battery-staple-91"
ENTROPY_BLOB = "q8ZxV2mLr9TbK4wN7cYp1HdF6sJ3gU0eRaQiWo5EtXyBnMvC"
PRIVATE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA3kZ8yq9Lr2VtNw7PbX4cJ5mHs1GdQ0aEfRiUoYkTnCl6WzBv\n"
    "-----END RSA PRIVATE KEY-----\n"
)
KEY_LINE = PRIVATE_KEY.splitlines()[1]
NEW_MODULE = "def add(a, b):\n    return a + b\n"


def save(repo: Path, session_id: str, **options: object) -> dict[str, object]:
    """A dirty save through gitprov.record (whose options are the Session's)."""
    with gitprov.record(repo, session_id=session_id, **options):
        pass
    section = SessionLog(repo).get(session_id)["git"]
    assert isinstance(section, dict) and section["snapshot"], section
    return section


def all_objects(repo: Path) -> str:
    """The content of every object in the repository, loose or packed."""
    return every_object(repo).decode("utf-8", "replace")


def assert_nowhere(repo: Path, *secrets: str) -> None:
    objects = all_objects(repo)
    assert len(objects) > 1000  # the grep read a real store (records, snapshot, code)
    for secret in secrets:
        assert secret not in objects, f"{secret!r} reached an object of {repo}"


def skipped(section: dict[str, object]) -> dict[str, str]:
    entries = section.get("snapshot_skipped") or []
    assert isinstance(entries, list)
    return {e["path"]: e["reason"] for e in entries}


def snapshot_files(repo: Path, section: dict[str, object]) -> set[str]:
    return set(git(repo, "ls-tree", "-r", "--name-only", str(section["snapshot"])).split())


def show(repo: Path, section: dict[str, object], path: str) -> str:
    return git(repo, "show", f"{section['snapshot']}:{path}")


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        (".env", ".env*"),
        ("app/.env.production", ".env*"),
        ("conf/local/credentials.yml", "credentials*"),
        ("certs/server.pem", "*.pem"),
        ("tls.key", "*.key"),
        ("home/.ssh/id_rsa", "id_rsa*"),
        ("id_ed25519", "id_ed25519*"),
        ("client.p12", "*.p12"),
        ("client.pfx", "*.pfx"),
        (".netrc", ".netrc"),
        (".pypirc", ".pypirc"),
        (".npmrc", ".npmrc"),
        ("secrets.yaml", "secrets*"),
        ("kubeconfig-prod", "kubeconfig*"),
        ("ops/.kube/config", "**/.kube/config"),
    ],
)
def test_secret_file_names_are_left_out_whatever_they_hold(
    repo: Path, path: str, pattern: str
) -> None:
    marker = f"plain-words-only-{path}"  # nothing a content detector would flag
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(f"{marker}\n")
    (repo / "src" / "new_module.py").write_text(NEW_MODULE)
    section = save(repo, "2026-01-01T00.00.00.001Z")
    assert skipped(section) == {path: f"looks like a secret (name matches {pattern})"}
    assert path not in snapshot_files(repo, section)
    assert show(repo, section, "src/new_module.py") == NEW_MODULE
    assert_nowhere(repo, marker)


@pytest.mark.parametrize(
    ("path", "content", "plugin", "secret"),
    [
        ("deploy_creds.txt", f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n", "AWSKeyDetector", AWS_SECRET),
        ("loader.py", f'KEY_ID = "{AWS_KEY_ID}"\n', "AWSKeyDetector", AWS_KEY_ID),
        ("client.py", f'TOKEN = "{GITHUB_TOKEN}"\n', "GitHubTokenDetector", GITHUB_TOKEN),
        ("notify.sh", f"curl -H 'Authorization: {SLACK_TOKEN}'\n", "SlackDetector", SLACK_TOKEN),
        ("llm.py", f"client = OpenAI(api_key='{OPENAI_KEY}')\n", "OpenAIDetector", OPENAI_KEY),
        ("keys/notes.txt", PRIVATE_KEY, "PrivateKeyDetector", KEY_LINE),
        ("settings_local.py", f'SECRET = "{KEYWORD_SECRET}"\n', "KeywordDetector", KEYWORD_SECRET),
        ("db.yml", f"db:\n  password: {KEYWORD_SECRET}\n", "KeywordDetector", KEYWORD_SECRET),
        (
            "fixtures.py",
            f'BLOB = ["{ENTROPY_BLOB}"]\n',
            "Base64HighEntropyString",
            ENTROPY_BLOB,
        ),
    ],
)
def test_secret_content_is_found_by_detect_secrets_and_left_out(
    repo: Path, path: str, content: str, plugin: str, secret: str
) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text("# set up by hand\n" + content)
    (repo / "src" / "new_module.py").write_text(NEW_MODULE)
    section = save(repo, "2026-01-01T00.00.00.002Z")
    assert skipped(section) == {path: f"looks like a secret (detect-secrets {plugin})"}
    assert path not in snapshot_files(repo, section)
    assert show(repo, section, "src/new_module.py") == NEW_MODULE
    assert_nowhere(repo, secret)


def test_ordinary_code_and_allowlisted_lines_go_in(repo: Path) -> None:
    # the whole-text sweep flags these; detect-secrets' own line-by-line filters clear them
    allowed = f'password = "{KEYWORD_SECRET}"  # pragma: allowlist secret\n'
    templated = 'password = "${DB_PASSWORD}"\n'
    (repo / "src" / "allowed.py").write_text(allowed)
    (repo / "src" / "templated.py").write_text(templated)
    (repo / "src" / "new_module.py").write_text(NEW_MODULE)
    (repo / "README.md").write_text("how to run: `python -m app --token-count 3`\n")
    section = save(repo, "2026-01-01T00.00.00.003Z")
    assert "snapshot_skipped" not in section
    assert show(repo, section, "src/allowed.py") == allowed
    assert show(repo, section, "src/templated.py") == templated
    assert show(repo, section, "src/new_module.py") == NEW_MODULE
    assert show(repo, section, "README.md").startswith("how to run")


def test_a_modified_tracked_file_with_a_secret_keeps_heads_version(repo: Path) -> None:
    (repo / "src" / "app.py").write_text(f'print(1)\nTOKEN = "{GITHUB_TOKEN}"\n')
    (repo / "README.md").write_text("edited, no secret\n")
    section = save(repo, "2026-01-01T00.00.00.004Z")
    assert skipped(section) == {
        "src/app.py": "looks like a secret (detect-secrets GitHubTokenDetector); the "
        "snapshot keeps HEAD's version"
    }
    assert show(repo, section, "src/app.py") == "print(1)\n"  # HEAD's
    assert show(repo, section, "README.md") == "edited, no secret\n"
    assert_nowhere(repo, GITHUB_TOKEN)


def test_a_renamed_file_with_a_secret_keeps_heads_version_under_its_old_name(
    repo: Path,
) -> None:
    git(repo, "mv", "src/app.py", "src/client.py")
    (repo / "src" / "client.py").write_text(f'print(1)\nTOKEN = "{GITHUB_TOKEN}"\n')
    section = save(repo, "2026-01-01T00.00.00.019Z")
    assert section["changes"] == [
        {"path": "src/client.py", "status": "renamed", "from": "src/app.py"}
    ]
    assert skipped(section) == {
        "src/app.py": "renamed to src/client.py, which is left out; the snapshot keeps "
        "HEAD's version",
        "src/client.py": "looks like a secret (detect-secrets GitHubTokenDetector); the "
        "snapshot keeps no version of it (HEAD has none)",
    }
    assert "src/client.py" not in snapshot_files(repo, section)
    assert show(repo, section, "src/app.py") == "print(1)\n"
    assert_nowhere(repo, GITHUB_TOKEN)


def test_a_staged_secret_is_kept_out_of_the_snapshot_and_the_remote(tmp_path: Path) -> None:
    seed = make_repo(tmp_path / "seed", {"README.md": "hello\n", "src/app.py": "print(1)\n"})
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(remote))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    # `git add` hashed this one already (the user's doing): it must not travel further
    (clone / "staged.py").write_text(f'TOKEN = "{GITHUB_TOKEN}"\n')
    git(clone, "add", "staged.py")
    (clone / "src" / "app.py").write_text(f'KEY_ID = "{AWS_KEY_ID}"\n')  # staged, then edited
    git(clone, "add", "src/app.py")
    (clone / "src" / "app.py").write_text(f'SLACK = "{SLACK_TOKEN}"\n')
    (clone / ".env").write_text(f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n")
    (clone / "new_module.py").write_text(NEW_MODULE)
    section = save(clone, "2026-01-01T00.00.00.005Z")
    reasons = skipped(section)
    assert reasons["staged.py"].endswith("the snapshot keeps no version of it (HEAD has none)")
    assert reasons["src/app.py"].endswith("the snapshot keeps HEAD's version")
    assert set(reasons) == {"staged.py", "src/app.py", ".env"}
    assert show(clone, section, "src/app.py") == "print(1)\n"
    assert "staged.py" not in snapshot_files(clone, section)
    assert_nowhere(clone, SLACK_TOKEN, AWS_SECRET)  # never hashed (the staged ones were)
    proc = cli("-C", str(clone), "sync")
    assert proc.returncode == 0, proc.stderr
    remote_log = SessionLog(remote)
    assert remote_log.get("2026-01-01T00.00.00.005Z")["git"]["snapshot"] == section["snapshot"]
    assert git(remote, "show", f"{section['snapshot']}:new_module.py") == NEW_MODULE
    assert_nowhere(remote, GITHUB_TOKEN, AWS_KEY_ID, SLACK_TOKEN, AWS_SECRET)


def test_diff_and_checkout_work_and_name_what_was_left_out(repo: Path, tmp_path: Path) -> None:
    (repo / ".env").write_text("DEBUG=1\n")
    (repo / "creds.txt").write_text(f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n")
    (repo / "src" / "new_module.py").write_text(NEW_MODULE)
    save(repo, "2026-01-01T00.00.00.006Z")
    diff = cli("-C", str(repo), "diff", "2026-01-01T00.00.00.006Z")
    assert diff.returncode == 0, diff.stderr
    assert "+++ b/src/new_module.py" in diff.stdout
    assert ".env" not in diff.stdout and AWS_SECRET not in diff.stdout
    assert (
        "gitprov: not in the patch: .env (left out of the snapshot: looks like a secret "
        "(name matches .env*))" in diff.stderr
    )
    assert "not in the patch: creds.txt (left out of the snapshot: looks like a secret " in (
        diff.stderr
    )
    out = tmp_path / "restored"
    checkout = cli("-C", str(repo), "checkout", "2026-01-01T00.00.00.006Z", str(out))
    assert checkout.returncode == 0, checkout.stderr
    assert (out / "src" / "new_module.py").read_text() == NEW_MODULE
    assert not (out / ".env").exists() and not (out / "creds.txt").exists()
    assert "not restored: .env (left out of the snapshot: looks like a secret" in (checkout.stdout)
    assert "not restored: creds.txt (left out of the snapshot: looks like a secret" in (
        checkout.stdout
    )


def test_the_total_budget_leaves_the_largest_out_first(repo: Path) -> None:
    (repo / "outputs").mkdir()
    for name, size in (("small.txt", 300), ("medium.txt", 400), ("large.txt", 600)):
        (repo / "outputs" / name).write_text(f"{name}-marker\n".ljust(size, "."))
    (repo / "src" / "new_module.py").write_text(NEW_MODULE)  # 34 bytes
    (repo / "src" / "app.py").write_text("print(2)\n" + "#" * 2000)  # tracked, over on its own
    section = save(repo, "2026-01-01T00.00.00.007Z", snapshot_max_total_bytes=1000)
    budget = (
        "over the 1000-byte budget of the snapshot's changed files (snapshot_max_total_bytes; "
        "the largest are left out first)"
    )
    entries = {e["path"]: e for e in section["snapshot_skipped"]}
    assert entries == {
        "outputs/large.txt": {"path": "outputs/large.txt", "size": 600, "reason": budget},
        "src/app.py": {
            "path": "src/app.py",
            "size": 2009,
            "reason": f"{budget}; the snapshot keeps HEAD's version",
        },
    }
    files = snapshot_files(repo, section)
    assert {"outputs/small.txt", "outputs/medium.txt", "src/new_module.py"} <= files
    assert show(repo, section, "src/app.py") == "print(1)\n"
    assert_nowhere(repo, "large.txt-marker", "print(2)")
    # the default budget (100 MB) stores them all
    section = save(repo, "2026-01-01T00.00.00.008Z")
    assert "snapshot_skipped" not in section


def test_gitprovignore_and_snapshot_exclude(repo: Path) -> None:
    (repo / ".gitprovignore").write_text("# outputs of the pipeline\ndata/*.csv\n!data/keep.csv\n")
    (repo / "data").mkdir()
    (repo / "data" / "out.csv").write_text("a,b\nout-csv-marker,2\n")
    (repo / "data" / "keep.csv").write_text("a,b\nkeep,1\n")
    (repo / "models").mkdir()
    (repo / "models" / "model.txt").write_text("model-marker\n")
    (repo / "models" / "notes.md").write_text("notes-marker\n")
    (repo / "src" / "new_module.py").write_text(NEW_MODULE)
    section = save(repo, "2026-01-01T00.00.00.009Z", snapshot_exclude=["models/*.txt"])
    assert skipped(section) == {
        "data/out.csv": "excluded by .gitprovignore (data/*.csv)",
        "models/model.txt": "excluded by snapshot_exclude (models/*.txt)",
    }
    files = snapshot_files(repo, section)
    assert {"data/keep.csv", "models/notes.md", ".gitprovignore", "src/new_module.py"} <= files
    assert_nowhere(repo, "out-csv-marker", "model-marker")


def test_a_user_pattern_can_readmit_a_secret_name_but_not_a_secret(repo: Path) -> None:
    (repo / ".gitprovignore").write_text("!.env.example\n")
    (repo / ".env.example").write_text("DEBUG=1\nLOG_LEVEL=info\n")
    (repo / ".env").write_text("DEBUG=0\n")
    section = save(repo, "2026-01-01T00.00.00.010Z")
    assert skipped(section) == {".env": "looks like a secret (name matches .env*)"}
    assert show(repo, section, ".env.example") == "DEBUG=1\nLOG_LEVEL=info\n"
    (repo / ".env.example").write_text(f"GITHUB_TOKEN={GITHUB_TOKEN}\n")
    section = save(repo, "2026-01-01T00.00.00.011Z")
    assert skipped(section)[".env.example"] == (
        "looks like a secret (detect-secrets GitHubTokenDetector)"
    )
    assert_nowhere(repo, GITHUB_TOKEN)


def test_untracked_folders_listed_as_folders_are_screened_file_by_file(repo: Path) -> None:
    (repo / "newpkg").mkdir()
    (repo / "newpkg" / "mod.py").write_text(NEW_MODULE)
    (repo / "newpkg" / ".env").write_text(f"GITHUB_TOKEN={GITHUB_TOKEN}\n")
    section = save(repo, "2026-01-01T00.00.00.012Z", untracked="normal")
    assert section["changes"] == [{"path": "newpkg/", "status": "untracked"}]
    assert skipped(section) == {"newpkg/.env": "looks like a secret (name matches .env*)"}
    assert show(repo, section, "newpkg/mod.py") == NEW_MODULE
    assert_nowhere(repo, GITHUB_TOKEN)


def test_large_files_are_screened_whole_and_a_guess_is_not_confirmed(repo: Path) -> None:
    rows = "".join(f"{i},{i * 7},row\n" for i in range(12000))  # ~120 kB of data
    (repo / "keys.csv").write_text(rows + f"{AWS_KEY_ID},key\n")
    (repo / "export.csv").write_text(rows + f'"{ENTROPY_BLOB}",blob\n')
    (repo / "plain.csv").write_text(rows)
    section = save(repo, "2026-01-01T00.00.00.013Z")
    assert skipped(section) == {
        "keys.csv": "looks like a secret (detect-secrets AWSKeyDetector)",
        "export.csv": "looks like a secret (detect-secrets Base64HighEntropyString; over "
        "65536 bytes, so not checked line by line)",
    }
    assert "plain.csv" in snapshot_files(repo, section)
    assert_nowhere(repo, AWS_KEY_ID, ENTROPY_BLOB)


def test_text_too_large_to_sweep_is_left_out_binaries_by_name_only(repo: Path) -> None:
    line = "too-large-marker,1,2,3\n"
    (repo / "huge.csv").write_text(line * (2 * 1024 * 1024 // len(line)))  # 2 MB of text
    blob = b"\0binary-marker\0" + bytes(range(256)) * 8192  # 2 MB, NUL at the start
    (repo / "model.bin").write_bytes(blob)
    (repo / "src" / "new_module.py").write_text(NEW_MODULE)
    section = save(repo, "2026-01-01T00.00.00.018Z")
    size = (repo / "huge.csv").stat().st_size
    assert section["snapshot_skipped"] == [
        {
            "path": "huge.csv",
            "size": size,
            "reason": "text file over 1048576 bytes, too large to screen for secrets",
        }
    ]
    assert {"model.bin", "src/new_module.py"} <= snapshot_files(repo, section)
    assert_nowhere(repo, "too-large-marker")


def test_gitprov_run_and_the_kedro_store_take_snapshot_exclude(repo: Path) -> None:
    (repo / "outputs").mkdir()
    (repo / "outputs" / "run.txt").write_text("run-output-marker\n")
    (repo / "outputs" / "store.txt").write_text("store-output-marker\n")
    (repo / "src" / "new_module.py").write_text(NEW_MODULE)
    sid = "2026-01-01T00.00.00.014Z"
    proc = cli(
        "-C", str(repo), "run", "--id", sid, "--snapshot-exclude", "outputs/run.txt",
        "--snapshot-exclude", "outputs/store.txt", "--", sys.executable, "-c", "pass",
        process=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    section = SessionLog(repo).get(sid)["git"]
    assert skipped(section) == {
        "outputs/run.txt": "excluded by snapshot_exclude (outputs/run.txt)",
        "outputs/store.txt": "excluded by snapshot_exclude (outputs/store.txt)",
    }
    store = GitSessionStore(
        path=str(repo / "sessions"),
        session_id="2026-01-01T00.00.00.015Z",
        snapshot_exclude="outputs/",  # one pattern as a plain string, as settings.py may give
    )
    store.save()
    section = store.read()["git"]
    assert set(skipped(section)) == {"outputs/run.txt", "outputs/store.txt"}
    assert "src/new_module.py" in snapshot_files(repo, section)
    assert_nowhere(repo, "run-output-marker", "store-output-marker")


def test_screening_loads_nothing_on_a_clean_save_and_leaves_warnings_alone(repo: Path) -> None:
    script = (
        "import sys, warnings, gitprov\n"
        "before = warnings.showwarning\n"
        "with gitprov.record(sys.argv[1], session_id=sys.argv[2]): pass\n"
        "print(sorted(m for m in ('detect_secrets', 'pathspec') if m in sys.modules))\n"
        "print(warnings.showwarning is before)\n"
    )

    def run(session_id: str) -> list[str]:
        proc = subprocess.run(
            [sys.executable, "-c", script, str(repo), session_id], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()

    assert run("2026-01-01T00.00.00.016Z") == ["[]", "True"]  # clean: nothing to screen
    (repo / "src" / "new_module.py").write_text(NEW_MODULE)
    # dirty: both loaded, and detect-secrets' import no longer routes warnings to logging
    assert run("2026-01-01T00.00.00.017Z") == ["['detect_secrets', 'pathspec']", "True"]


def test_a_secret_in_a_notebook_cell_is_found(repo: Path) -> None:
    import json

    cell = f'api_key = "{KEYWORD_SECRET}"\n'
    notebook = {
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": [cell]}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (repo / "explore.ipynb").write_text(json.dumps(notebook, indent=1))
    plain = {**notebook, "cells": [{**notebook["cells"][0], "source": ["x = 1\n"]}]}
    (repo / "plain.ipynb").write_text(json.dumps(plain, indent=1))
    section = save(repo, "2026-01-01T00.00.00.050Z")
    assert skipped(section) == {
        "explore.ipynb": "looks like a secret (detect-secrets KeywordDetector)"
    }
    assert "plain.ipynb" in snapshot_files(repo, section)  # an ordinary notebook goes in
    assert_nowhere(repo, KEYWORD_SECRET)
