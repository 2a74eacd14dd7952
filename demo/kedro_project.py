"""The smallest real Kedro 1.x project, built by hand, that records its runs with gitprov.

Used by ``demo/demo.py`` (beside it) and by the tests (pytest's ``pythonpath`` names
``demo/``), so it uses the standard library only (no pytest, no conftest).
``make_kedro_project`` writes the files; ``kedro_run`` runs ``python -m kedro run`` in the
project as a user would.

The pipeline is ``make_numbers -> total -> report``, all in memory. Two switches make it
observable from outside:

- it fails on demand: ``total`` raises ``RuntimeError`` when the parameter ``fail`` is true
  (``fail=True`` here, or ``kedro run --params fail=true``) or the environment variable
  ``GITPROV_DEMO_FAIL`` is ``1``;
- it leaves a trace: ``report`` writes the total to the file named by the environment
  variable ``GITPROV_DEMO_MARKER``, when set, so a caller can tell whether the pipeline ran;
- it pauses on demand: when ``GITPROV_DEMO_PAUSE`` names a file, ``total`` creates it and
  then sleeps for a minute, so that a caller can wait for the file and stop the run while
  it is inside the pipeline (``make_numbers`` done, ``total`` running).
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

#: Environment variables the demo pipeline reads.
FAIL_ENV = "GITPROV_DEMO_FAIL"
MARKER_ENV = "GITPROV_DEMO_MARKER"
PAUSE_ENV = "GITPROV_DEMO_PAUSE"

#: The message ``total`` raises with when asked to fail.
FAIL_MESSAGE = "the demo pipeline was asked to fail"

_PIPELINE_REGISTRY = '''\
"""The demo pipeline: make_numbers -> total -> report, all in memory."""

from __future__ import annotations

import os
import time
from pathlib import Path

from kedro.pipeline import Pipeline, node


def make_numbers(n: int) -> list[int]:
    return list(range(1, n + 1))


def total(numbers: list[int], fail: bool) -> int:
    pause = os.environ.get("{pause_env}")
    if pause:
        Path(pause).touch()
        time.sleep(60)
    if fail or os.environ.get("{fail_env}") == "1":
        raise RuntimeError("{fail_message}")
    return sum(numbers)


def report(value: int) -> str:
    line = f"total={{value}}"
    marker = os.environ.get("{marker_env}")
    if marker:
        Path(marker).write_text(line + "\\n", encoding="utf-8")
    return line


def register_pipelines() -> dict[str, Pipeline]:
    pipeline = Pipeline(
        [
            node(make_numbers, "params:n", "numbers", name="make_numbers"),
            node(total, ["numbers", "params:fail"], "total", name="total"),
            node(report, "total", "report", name="report"),
        ]
    )
    return {{"__default__": pipeline}}
'''

_SETTINGS = '''\
"""Project settings: every session is recorded in git by gitprov."""

from gitprov import GitSessionStore

SESSION_STORE_CLASS = GitSessionStore
SESSION_STORE_ARGS = {store_args!r}
'''

_CATALOG = """\
# Everything stays in memory; declared only to show the datasets by name.
numbers:
  type: MemoryDataset

total:
  type: MemoryDataset
"""

#: Variables (leaked by git hooks) that would point git at another repository or index.
_REPOSITORY_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
    }
)

_GITIGNORE = """\
__pycache__/
*.pyc
"""


def make_kedro_project(
    root: Path,
    package: str = "demo_pkg",
    store_args: dict[str, Any] | None = None,
    fail: bool = False,
) -> Path:
    """Write a minimal Kedro project into ``root`` (created if needed) and return ``root``.

    ``store_args`` becomes ``SESSION_STORE_ARGS`` in settings.py (written with ``repr``, so
    plain literals only). ``fail=True`` sets the ``fail`` parameter, so every run fails.
    Nothing is installed: :func:`kedro_run` puts ``src/`` on ``PYTHONPATH``.
    """
    if not package.isidentifier():
        raise ValueError(f"package must be a Python identifier, not {package!r}")
    kedro_version = version("kedro")
    files = {
        "pyproject.toml": (
            "[tool.kedro]\n"
            f'package_name = "{package}"\n'
            f'project_name = "{package.replace("_", " ")}"\n'
            f'kedro_init_version = "{kedro_version}"\n'
        ),
        ".gitignore": _GITIGNORE,
        f"src/{package}/__init__.py": f'"""{package}: a demo Kedro project."""\n',
        f"src/{package}/settings.py": _SETTINGS.format(store_args=dict(store_args or {})),
        f"src/{package}/pipeline_registry.py": _PIPELINE_REGISTRY.format(
            fail_env=FAIL_ENV,
            marker_env=MARKER_ENV,
            pause_env=PAUSE_ENV,
            fail_message=FAIL_MESSAGE,
        ),
        "conf/base/catalog.yml": _CATALOG,
        "conf/base/parameters.yml": f"n: 4\nfail: {'true' if fail else 'false'}\n",
        "conf/local/.gitkeep": "",
    }
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def kedro_env(project: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a run: the caller's, telemetry off, no stray git variables,
    no bytecode files in the work tree, the project's ``src/`` first on ``PYTHONPATH``."""
    full = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARS}
    full["KEDRO_DISABLE_TELEMETRY"] = "1"
    full["PYTHONDONTWRITEBYTECODE"] = "1"
    src = str(Path(project, "src").resolve())
    python_path = full.get("PYTHONPATH")
    full["PYTHONPATH"] = src + (os.pathsep + python_path if python_path else "")
    full.update(env or {})
    return full


def kedro_run(
    project: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m kedro run *args`` in ``project`` (or in ``cwd``, a folder Kedro finds
    the project from: the project or one of its subfolders); never raises on a non-zero
    exit."""
    return subprocess.run(
        [sys.executable, "-m", "kedro", "run", *args],
        cwd=cwd or project,
        env=kedro_env(project, env),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
