"""gitprov init and the pre-push hook: plain git shows, keeps and carries the records."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitprov import GitSessionStore, SessionLog

from conftest import GIT_ENV, git, make_repo
from conftest import cli as gitprov

ROOT = Path(__file__).resolve().parents[1]


def save(repo: Path, session_id: str) -> None:
    GitSessionStore(path=str(repo), session_id=session_id).save()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of a bare remote, as a team member has it."""
    seed = make_repo(tmp_path / "seed")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(remote))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    return work


def test_init_is_idempotent_and_reports(clone: Path) -> None:
    first = gitprov("-C", str(clone), "init")
    assert first.returncode == 0, first.stderr
    assert "+ added notes.displayRef = refs/notes/provenanc[e]" in first.stdout
    second = gitprov("-C", str(clone), "init")
    assert second.returncode == 0
    assert all(line.startswith("= ") for line in second.stdout.splitlines()), second.stdout
    for key in ("notes.displayRef", "notes.rewriteRef"):
        assert git(clone, "config", "--get-all", key).splitlines() == ["refs/notes/provenanc[e]"]
    assert git(clone, "config", "notes.provenance.mergeStrategy").strip() == "cat_sort_uniq"
    assert git(clone, "config", "--get-all", "remote.origin.fetch").splitlines() == FETCH_SPECS


FETCH_SPECS = [
    "+refs/heads/*:refs/remotes/origin/*",
    "+refs/provenance/session*:refs/provenance/remotes/origin/session*",
    "^refs/provenance/sessions/*",
    "+refs/notes/provenanc*:refs/notes/remotes/origin/provenanc*",
    "^refs/notes/provenance/*",
]


def test_init_upgrades_what_an_earlier_init_wrote(clone: Path) -> None:
    for key, value in (
        ("notes.displayRef", "refs/notes/provenance"),
        ("notes.rewriteRef", "refs/notes/provenance"),
        ("remote.origin.fetch", "refs/provenance/session*:refs/provenance/remotes/origin/session*"),
        ("remote.origin.fetch", "refs/notes/provenanc*:refs/notes/remotes/origin/provenanc*"),
    ):
        git(clone, "config", "--add", key, value)
    proc = gitprov("-C", str(clone), "init")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("upgraded") == 4
    assert sorted(git(clone, "config", "--get-all", "remote.origin.fetch").splitlines()) == sorted(
        FETCH_SPECS
    )
    for key in ("notes.displayRef", "notes.rewriteRef"):
        assert git(clone, "config", "--get-all", key).splitlines() == ["refs/notes/provenanc[e]"]


def test_plain_git_is_never_blocked_after_init(clone: Path, tmp_path: Path) -> None:
    remote = Path(git(clone, "remote", "get-url", "origin").strip())
    assert gitprov("-C", str(clone), "init").returncode == 0
    # a fresh clone has no notes yet: amend and log say nothing about them
    amended = subprocess.run(
        ["git", "-C", str(clone), "commit", "--amend", "-q", "--allow-empty", "-m", "amended"],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )
    assert amended.returncode == 0 and amended.stderr == "", amended.stderr
    logged = subprocess.run(["git", "-C", str(clone), "log"], capture_output=True, text=True)
    assert logged.stderr == ""
    git(clone, "reset", "-q", "--hard", "origin/main")
    recorded = gitprov("-C", str(clone), "run", "--", "true", process=True)
    assert recorded.returncode == 0, recorded.stderr
    assert gitprov("-C", str(clone), "push").returncode == 0
    # the remote's records rewritten backwards, and a ref below the records ref
    first = git(remote, "rev-parse", "refs/provenance/sessions^").strip()  # older: backwards
    git(remote, "update-ref", "refs/provenance/sessions", first)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    (other / "new.txt").write_text("new code\n")
    git(other, "add", "new.txt")
    git(other, "commit", "-q", "-m", "new code")
    git(other, "push", "-q", "origin", "main")
    for command in (["fetch"], ["pull", "-q", "--no-rebase"]):
        proc = subprocess.run(
            ["git", "-C", str(clone), *command],
            capture_output=True,
            text=True,
            env={**os.environ, **GIT_ENV},
        )
        assert proc.returncode == 0, proc.stderr
    assert (clone / "new.txt").read_text() == "new code\n"  # the user's code was merged
    # refs below the names the tracking refs use (a file/folder clash for them)
    git(remote, "update-ref", "-d", "refs/provenance/sessions")
    git(remote, "update-ref", "refs/provenance/sessions/x", first)
    git(remote, "update-ref", "-d", "refs/notes/provenance")
    git(remote, "update-ref", "refs/notes/provenance/x", git(remote, "rev-parse", "main").strip())
    proc = subprocess.run(["git", "-C", str(clone), "fetch"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_init_never_clobbers_a_user_value(clone: Path) -> None:
    git(clone, "config", "notes.provenance.mergeStrategy", "union")
    proc = gitprov("-C", str(clone), "init")
    assert proc.returncode == 1
    assert "notes.provenance.mergeStrategy is already 'union'" in proc.stdout
    assert git(clone, "config", "notes.provenance.mergeStrategy").strip() == "union"


def test_unknown_remote_is_refused(clone: Path) -> None:
    proc = gitprov("-C", str(clone), "init", "--remote", "nope")
    assert proc.returncode == 1 and "no remote named 'nope'" in proc.stdout


def test_git_log_shows_sessions_and_amend_keeps_them(clone: Path) -> None:
    gitprov("-C", str(clone), "init")
    save(clone, "2026-11-24T10.30.45.123Z")
    assert "session_id: 2026-11-24T10.30.45.123Z" in git(clone, "log", "-1")
    git(clone, "commit", "-q", "--amend", "-m", "reworded")
    assert "2026-11-24T10.30.45.123Z" in git(clone, "log", "-1")
    records = SessionLog(clone).for_commit("HEAD")
    assert [r["session_id"] for r in records] == ["2026-11-24T10.30.45.123Z"]


def test_plain_fetch_works_before_and_after_the_remote_has_records(
    clone: Path, tmp_path: Path
) -> None:
    gitprov("-C", str(clone), "init")
    fetched = subprocess.run(["git", "-C", str(clone), "fetch", "-q"], capture_output=True)
    assert fetched.returncode == 0, fetched.stderr  # the remote has no records yet
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(other))
    save(other, "teammate-1")
    git(other, "push", "-q", "origin", "refs/provenance/sessions", "refs/notes/provenance")
    git(clone, "fetch", "-q")
    tracked = git(clone, "for-each-ref", "--format=%(refname)", "refs/provenance", "refs/notes")
    assert tracked.split() == [
        "refs/notes/remotes/origin/provenance",
        "refs/provenance/remotes/origin/sessions",
    ]
    assert git(clone, "for-each-ref", "refs/provenance/sessions").strip() == ""


def test_pre_push_hook_pushes_both_refs(clone: Path, tmp_path: Path) -> None:
    proc = gitprov("-C", str(clone), "init", "--hooks")
    assert proc.returncode == 0 and "installed the pre-push hook" in proc.stdout
    save(clone, "pushed-1")
    (clone / "f.txt").write_text("f")
    git(clone, "add", "f.txt")
    git(clone, "commit", "-qm", "work")
    git(clone, "push", "-q", "origin", "main")
    remote = tmp_path / "remote.git"
    for ref in ("refs/provenance/sessions", "refs/notes/provenance"):
        assert git(remote, "rev-parse", ref) == git(clone, "rev-parse", ref)
    assert SessionLog(remote, notes_ref=None).ids() == ["pushed-1"]


def test_dry_run_push_pushes_no_records(clone: Path, tmp_path: Path) -> None:
    assert gitprov("-C", str(clone), "init", "--hooks").returncode == 0
    save(clone, "not-yet")
    remote = tmp_path / "remote.git"
    for flag in ("--dry-run", "-n", "-vn", "--dry"):
        git(clone, "push", "-q", flag, "origin", "main")
        assert git(remote, "for-each-ref", "refs/provenance", "refs/notes") == ""
    git(clone, "push", "-q", "origin", "main")
    assert SessionLog(remote, notes_ref=None).ids() == ["not-yet"]


def test_custom_refs_through_init_cli_and_hook(clone: Path, tmp_path: Path) -> None:
    refs = ["--ref", "refs/provenance/team", "--notes-ref", "refs/notes/team"]
    proc = gitprov("-C", str(clone), *refs, "init", "--hooks")
    assert proc.returncode == 0, proc.stderr
    assert git(clone, "config", "gitprov.ref").strip() == "refs/provenance/team"
    GitSessionStore(
        path=str(clone), session_id="t-1", ref="refs/provenance/team", notes_ref="refs/notes/team"
    ).save()
    # no flags needed any more: the CLI and the hook read the names init kept
    assert gitprov("-C", str(clone), "list", "--format", "ids").stdout.split() == ["t-1"]
    assert "t-1" in git(clone, "log", "-1", "--format=%N")  # notes.displayRef
    assert (
        gitprov("-C", str(clone), "--ref", "refs/provenance/sessions", "show", "t-1").returncode
        == 1
    )
    git(clone, "push", "-q", "origin", "main")
    remote = tmp_path / "remote.git"
    pushed = git(remote, "for-each-ref", "--format=%(refname)", "refs/provenance", "refs/notes")
    assert pushed.split() == ["refs/notes/team", "refs/provenance/team"]
    bad = gitprov("-C", str(clone), "--ref", "sessions", "list")
    assert bad.returncode == 2 and "not a full ref name" in bad.stderr


def test_hook_rejection_never_blocks_the_push(clone: Path, tmp_path: Path) -> None:
    gitprov("-C", str(clone), "init", "--hooks")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(other))
    save(other, "theirs")
    git(other, "push", "-q", "origin", "refs/provenance/sessions")
    save(clone, "mine")
    (clone / "f.txt").write_text("f")
    git(clone, "add", "f.txt")
    git(clone, "commit", "-qm", "work")
    push = subprocess.run(
        ["git", "-C", str(clone), "push", "origin", "main"], capture_output=True, text=True
    )
    assert push.returncode == 0
    assert "gitprov sync origin" in push.stderr
    remote = tmp_path / "remote.git"
    assert git(remote, "rev-parse", "main") == git(clone, "rev-parse", "main")
    assert SessionLog(clone).ids() == ["mine"]  # local records intact


def test_hook_never_shows_a_urls_credentials(clone: Path, tmp_path: Path) -> None:
    gitprov("-C", str(clone), "init", "--hooks")
    remote = tmp_path / "remote.git"
    refuse = remote / "hooks" / "pre-receive"
    refuse.write_text(
        "#!/bin/sh\nwhile read -r old new ref; do\n"
        "  case $ref in refs/provenance/*) exit 1;; esac\ndone\n"
    )
    refuse.chmod(0o755)
    save(clone, "mine")
    url = f"file://oauth2:S3CRET-TOKEN-9f2@{remote}"
    push = subprocess.run(
        ["git", "-C", str(clone), "push", url, "main"], capture_output=True, text=True
    )
    assert push.returncode == 0, push.stderr
    assert "not pushed" in push.stderr and "file://***@" in push.stderr
    assert "S3CRET-TOKEN-9f2" not in push.stderr + push.stdout


def test_existing_user_hook_is_chained(clone: Path, tmp_path: Path) -> None:
    hooks = clone / ".git" / "hooks"
    marker = tmp_path / "user-hook-ran"
    user_hook = f'#!/bin/sh\necho "$1 $(cat)" > {marker}\n'
    (hooks / "pre-push").write_text(user_hook)
    (hooks / "pre-push").chmod(0o755)
    proc = gitprov("-C", str(clone), "init", "--hooks")
    assert "pre-push.legacy" in proc.stdout
    assert (hooks / "pre-push.legacy").read_text() == user_hook
    assert gitprov("-C", str(clone), "init", "--hooks").stdout.count("= pre-push hook") == 1
    save(clone, "s1")
    (clone / "f.txt").write_text("f")
    git(clone, "add", "f.txt")
    git(clone, "commit", "-qm", "work")
    git(clone, "push", "-q", "origin", "main")
    ran = marker.read_text()
    assert ran.startswith("origin refs/heads/main ")
    assert git(tmp_path / "remote.git", "rev-parse", "refs/provenance/sessions")
    (hooks / "pre-push.legacy").write_text("#!/bin/sh\nexit 3\n")
    (clone / "g.txt").write_text("g")
    git(clone, "add", "g.txt")
    git(clone, "commit", "-qm", "blocked")
    blocked = subprocess.run(["git", "-C", str(clone), "push", "-q", "origin", "main"])
    assert blocked.returncode != 0  # the user's own hook still decides


def test_hook_respects_core_hooks_path(clone: Path) -> None:
    git(clone, "config", "core.hooksPath", ".githooks")
    gitprov("-C", str(clone), "init", "--hooks")
    assert (clone / ".githooks" / "pre-push").exists()
    assert not (clone / ".git" / "hooks" / "pre-push").exists()


def test_the_installed_hook_names_its_python_and_runs_gitprov(clone: Path) -> None:
    assert gitprov("-C", str(clone), "init", "--hooks").returncode == 0
    installed = (clone / ".git" / "hooks" / "pre-push").read_text()
    assert f"INSTALL_PYTHON={sys.executable}\n" in installed
    assert "gitprov hook pre-push" in installed
    # nothing but finding Python is left in shell: no ref name, no config key
    for fact in ("refs/", "gitprov.ref", "notesRef", "git push"):
        assert fact not in installed
    # a hook naming another Python (or an earlier gitprov's hook) is replaced
    hook = clone / ".git" / "hooks" / "pre-push"
    hook.write_text(installed.replace(sys.executable, "/gone/python"))
    assert "+ installed the pre-push hook" in gitprov("-C", str(clone), "init", "--hooks").stdout
    assert hook.read_text() == installed
    assert not (clone / ".git" / "hooks" / "pre-push.legacy").exists()


def test_the_pre_commit_framework_hook_pushes_the_records(clone: Path, tmp_path: Path) -> None:
    """``.pre-commit-hooks.yaml``'s entry, run as the framework runs it: from a pre-push
    hook of its own, with its environment's scripts first on PATH, the remote named in
    ``PRE_COMMIT_REMOTE_NAME`` and no arguments."""
    (entry,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert (entry["id"], entry["stages"], entry["pass_filenames"]) == (
        "gitprov-push",
        ["pre-push"],
        False,
    )
    assert entry["language"] == "python"  # the framework installs gitprov for it
    framework = clone / ".git" / "hooks" / "pre-push"
    framework.write_text(
        "#!/bin/sh\n"
        f"PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH "
        f'PRE_COMMIT_REMOTE_NAME="$1" {entry["entry"]} </dev/null || exit 1\n'
    )
    framework.chmod(0o755)
    save(clone, "framework-1")
    remote = tmp_path / "remote.git"
    git(clone, "push", "-q", "--dry-run", "origin", "main")
    assert git(remote, "for-each-ref", "refs/provenance", "refs/notes") == ""
    git(clone, "push", "-q", "origin", "main")
    assert SessionLog(remote, notes_ref=None).ids() == ["framework-1"]


def test_a_hook_whose_python_is_gone_never_blocks_and_the_legacy_hook_still_decides(
    clone: Path, tmp_path: Path
) -> None:
    hooks = clone / ".git" / "hooks"
    (hooks / "pre-push").write_text("#!/bin/sh\nexit 0\n")
    assert gitprov("-C", str(clone), "init", "--hooks").returncode == 0
    hook = hooks / "pre-push"
    hook.write_text(hook.read_text().replace(sys.executable, str(tmp_path / "gone")))
    bare_path = tmp_path / "bin"  # git, but no python3 at all
    bare_path.mkdir()
    real_git = shutil.which("git")
    assert real_git is not None
    (bare_path / "git").symlink_to(real_git)

    def run_hook() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(hook), "origin", "url"],
            cwd=clone,
            input="",
            capture_output=True,
            text=True,
            env={**os.environ, "PATH": str(bare_path)},
        )

    ran = run_hook()
    assert ran.returncode == 0 and "no Python with gitprov found" in ran.stderr
    (hooks / "pre-push.legacy").write_text("#!/bin/sh\nexit 3\n")
    (hooks / "pre-push.legacy").chmod(0o755)
    assert run_hook().returncode == 3


def test_the_hook_never_imports_the_pushed_projects_own_modules(
    clone: Path, tmp_path: Path
) -> None:
    """A project's own ``yaml.py`` (or ``click.py``) in the folder being pushed is never
    what the hook imports: the push and the records go through."""
    assert gitprov("-C", str(clone), "init", "--hooks").returncode == 0
    save(clone, "pushed-1")
    for name in ("yaml.py", "click.py", "gitprov.py"):
        (clone / name).write_text("raise SystemExit('imported the project module')\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "modules named like libraries")
    pushed = subprocess.run(
        ["git", "-C", str(clone), "push", "-q", "origin", "main"],
        capture_output=True,
        text=True,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert "imported the project module" not in pushed.stderr
    remote = tmp_path / "remote.git"
    assert git(remote, "rev-parse", "refs/provenance/sessions") == git(
        clone, "rev-parse", "refs/provenance/sessions"
    )


def test_a_kept_hook_without_a_shebang_runs_with_the_shell(clone: Path, tmp_path: Path) -> None:
    hooks = clone / ".git" / "hooks"
    legacy = hooks / "pre-push"
    legacy.write_text(f"echo legacy ran > {tmp_path / 'ran'}\nexit 0\n")  # no #! line
    legacy.chmod(0o755)
    assert gitprov("-C", str(clone), "init", "--hooks").returncode == 0
    save(clone, "pushed-1")
    pushed = subprocess.run(
        ["git", "-C", str(clone), "push", "-q", "origin", "main"],
        capture_output=True,
        text=True,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert (tmp_path / "ran").read_text() == "legacy ran\n"
    assert "Traceback" not in pushed.stderr
