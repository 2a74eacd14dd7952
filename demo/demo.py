"""``make demo``: a real Kedro project whose runs gitprov records in the project's git repository.

Builds a throwaway repository in ``demo-project/`` (git-ignored; wiped first), commits a small
Kedro project into it, runs ``python -m kedro run`` three times (clean, dirty, failing), then
shows what gitprov recorded with ``gitprov list``, ``gitprov show`` and ``git log``, writes
``gitprov report`` into the project and ends with a command that works as printed. Exits 0
when everything went as expected, 1 otherwise. Pass another directory as the only argument to
build the project there instead (it is wiped too, so point it at nothing you want to keep).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from kedro_project import FAIL_MESSAGE, kedro_run, make_kedro_project

ROOT = Path(__file__).resolve().parent.parent

#: The report the demo writes, in the project's folder.
REPORT = "gitprov-report.html"

os.environ["KEDRO_DISABLE_TELEMETRY"] = "1"

#: Repository-locating variables a git hook may have leaked into this process.
_GIT_REPO_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX")


class DemoFailure(Exception):
    """Something did not go as the demo expects."""


def header(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(3, 76 - len(title)), flush=True)


def git(project: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_REPO_VARS}
    # An identity for the demo's own commit only (gitprov itself needs none).
    env.update(
        GIT_AUTHOR_NAME="gitprov demo",
        GIT_AUTHOR_EMAIL="demo@example.invalid",
        GIT_COMMITTER_NAME="gitprov demo",
        GIT_COMMITTER_EMAIL="demo@example.invalid",
    )
    proc = subprocess.run(
        ["git", "-C", str(project), *args], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise DemoFailure(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def gitprov(project: Path, *args: str, show: bool = True) -> str:
    """Run the ``gitprov`` command line, printing it as a user would type it."""
    if show:
        print(f"$ gitprov {' '.join(args)}", flush=True)
    proc = subprocess.run(
        [sys.executable, "-c", "from gitprov.cli import main; main()", "-C", str(project), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise DemoFailure(f"gitprov {' '.join(args)} failed: {proc.stderr.strip()}")
    if show:
        print(proc.stdout.rstrip("\n"), flush=True)
    return proc.stdout


def recorded_ids(project: Path) -> list[str]:
    return gitprov(project, "list", "--format", "ids", show=False).split()


def user_state(project: Path) -> dict[str, Any]:
    """What recording must never touch: the index, HEAD, branches, tags and the files."""
    git_dir = project / ".git"
    return {
        "the index": (git_dir / "index").read_bytes(),
        "HEAD": (git_dir / "HEAD").read_bytes(),
        "branches and tags": git(project, "for-each-ref", "refs/heads", "refs/tags"),
        "the work tree": {
            p.relative_to(project).as_posix(): p.read_bytes()
            for p in sorted(project.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(project).parts
        },
    }


def run_kedro(project: Path, *args: str, expect_success: bool) -> str:
    """One ``kedro run``; returns the id of the session it recorded."""
    before = recorded_ids(project)
    git(project, "status", "--porcelain")  # settle the index's stat data, as Kedro's own does
    state = user_state(project)
    print(f"$ kedro run {' '.join(args)}".rstrip(), flush=True)
    proc = kedro_run(project, *args, env={"COLUMNS": "120"})
    output = " ".join((proc.stdout + proc.stderr).split())
    new = [i for i in recorded_ids(project) if i not in before]
    said = [line for line in proc.stderr.splitlines() if line.startswith("gitprov: ")]
    if expect_success:
        if proc.returncode != 0:
            print(proc.stdout + proc.stderr)
            raise DemoFailure(f"kedro run exited {proc.returncode}, expected success")
        if "Pipeline execution completed successfully" not in output:
            raise DemoFailure("kedro run did not report a completed pipeline")
        check("Completed 3 out of 3 tasks" in output, "not every node of the pipeline ran")
        print("exit status 0: all 3 nodes ran")
    else:
        if proc.returncode == 0:
            raise DemoFailure("kedro run succeeded, but it was asked to fail")
        if FAIL_MESSAGE not in output:
            print(proc.stdout + proc.stderr)
            raise DemoFailure("kedro run failed, but not for the reason it was asked to")
        print(f"exit status {proc.returncode}: failed as intended ({FAIL_MESSAGE!r})")
    if len(new) != 1:
        raise DemoFailure(f"expected one new recorded session, found {new}")
    after = user_state(project)
    for what, value in state.items():
        check(after[what] == value, f"the run changed {what}")
    check(
        said == [f"gitprov: recorded session {new[0]} in {project} (refs/provenance/sessions)"],
        f"kedro run did not name the session it recorded in one line: {said}",
    )
    print(said[0], flush=True)
    return new[0]


def load(project: Path, session_id: str) -> dict[str, Any]:
    from gitprov import SessionLog

    return SessionLog(project).get(session_id)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailure(message)


def demo(project: Path) -> None:
    header(f"1. A Kedro project in a fresh git repository: {project}")
    if project.exists():
        shutil.rmtree(project)
    make_kedro_project(project)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "A demo Kedro project")
    head = git(project, "rev-parse", "HEAD").strip()
    print(git(project, "log", "--oneline", "--no-decorate").rstrip())
    print("settings.py:")
    print((project / "src/demo_pkg/settings.py").read_text().rstrip())

    header("2. A clean run")
    clean = run_kedro(project, expect_success=True)
    record = load(project, clean)
    check(record["git"]["commit"] == head, "the clean run did not record HEAD")
    check(record["git"]["dirty"] is False, "the clean run was recorded as dirty")

    header("3. A dirty run: edited parameters.yml and an untracked file")
    (project / "conf/base/parameters.yml").write_text("n: 100\nfail: false\n")
    (project / "notes").mkdir()
    (project / "notes/idea.md").write_text("try n = 100\n")
    print(git(project, "status", "--short").rstrip())
    dirty = run_kedro(project, expect_success=True)
    changes = load(project, dirty)["git"]["changes"]
    check(
        changes
        == [
            {"path": "conf/base/parameters.yml", "status": "modified"},
            {"path": "notes/idea.md", "status": "untracked"},
        ],
        f"the dirty run recorded the wrong changes: {changes}",
    )

    header("4. A failing run (expected to fail), on a clean tree again")
    git(project, "checkout", "-q", "--", "conf/base/parameters.yml")
    shutil.rmtree(project / "notes")
    failed = run_kedro(project, "--params", "fail=true", expect_success=False)
    exception = load(project, failed).get("exception") or {}
    check(
        exception.get("type") == "RuntimeError" and exception.get("value") == FAIL_MESSAGE,
        f"the failing run's record holds the wrong exception: {exception}",
    )
    print(f"its record keeps the exception: {exception['type']}: {exception['value']}")

    header("5. gitprov list")
    table = gitprov(project, "list")
    check(table.count("\n") == 4, "gitprov list did not show three sessions")

    header("6. gitprov show (the dirty run)")
    gitprov(project, "show", dirty)
    snapshot = load(project, dirty)["git"].get("snapshot")
    check(bool(snapshot), "the dirty run's record names no snapshot")
    print(f"\n$ git show {snapshot[:12]}:conf/base/parameters.yml   # the code that ran")
    ran = git(project, "show", f"{snapshot}:conf/base/parameters.yml")
    print(ran.rstrip())
    check(ran.startswith("n: 100\n"), "the snapshot does not hold the edited parameters.yml")

    header("7. The commit index: git log --notes=provenance")
    log = git(project, "log", "-1", "--notes=provenance")
    print(log.rstrip())
    for session_id in (clean, dirty, failed):
        check(session_id in log, f"session {session_id} is missing from the note on HEAD")

    header("8. Where the records live (the user's branch, index and files were left alone)")
    check(git(project, "rev-parse", "HEAD").strip() == head, "HEAD moved")
    print(git(project, "for-each-ref").rstrip())
    print("Every run above left the index, HEAD, branches, tags and work tree byte-for-byte")
    print("unchanged: the records live on refs/provenance/sessions, and the commit index")
    print("on refs/notes/provenance.")

    header("9. gitprov report: every run in one HTML file, to open or hand over")
    with (project / ".git/info/exclude").open("a", encoding="utf-8") as exclude:
        exclude.write(f"/{REPORT}\n")  # later runs in the project stay clean
    gitprov(project, "report", "-o", str(project / REPORT))
    page = (project / REPORT).read_text(encoding="utf-8")
    for session_id in (clean, dirty, failed):
        check(session_id in page, f"session {session_id} is missing from the report")


def explore(project: Path) -> list[str]:
    """The demo's last lines: commands that work as printed (the command line is in this
    virtual environment, which need not be on PATH), and the report's path."""
    bin_dir = Path(sys.executable).parent
    folder = shlex.quote(str(project))
    script, activate = bin_dir / "gitprov", bin_dir / "activate"
    if not script.is_file():  # not make demo's .venv: the interpreter the demo ran with
        return [
            f"Explore it yourself: {shlex.quote(sys.executable)} -m gitprov -C {folder} list",
            f"The report: {project / REPORT}",
        ]
    return [
        f"Explore it yourself: {shlex.quote(str(script))} -C {folder} list",
        f"(or `source {shlex.quote(str(activate))}` once, then `cd {folder} && gitprov list`)",
        f"The report: {project / REPORT}",
    ]


def main(argv: list[str]) -> int:
    project = Path(argv[1]).resolve() if len(argv) > 1 else ROOT / "demo-project"
    if project in (ROOT, *ROOT.parents) or project == Path.home():
        print(f"demo: refusing to wipe {project}", file=sys.stderr)
        return 2
    try:
        demo(project)
    except DemoFailure as exc:
        print(f"\ndemo: FAILED: {exc}", file=sys.stderr)
        return 1
    header("Done: everything went as expected")
    print("\n".join(explore(project)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
