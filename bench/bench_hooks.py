"""What the Kedro plugin's hooks add to a 200-node ``kedro run`` (target: under 2%).

The same project, in the same repository, with ``GitSessionStore`` configured both times,
is run with the plugin's hooks and with them disabled the way a user would disable them
(``DISABLE_HOOKS_FOR_PLUGINS = ("gitprov",)``, switched here by an environment variable
read in ``settings.py``). Runs are interleaved (with/without, then without/with, ...) so
that drift on a shared machine hits both sides alike; the figure judged is the median of
the rounds' ratios (each round's two runs ran back to back), the ratio of the two medians
is printed too. Run ``.venv/bin/python bench/bench_hooks.py [--rounds N] [--keep]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from gitprov import SessionLog

NODES = 200
CHAINS = 20  # 20 chains of 10 nodes: dependencies, but not one long line
TARGET = 1.02
SWITCH = "GITPROV_BENCH_NO_PLUGIN"

SETTINGS = f'''\
import os

from gitprov import GitSessionStore

SESSION_STORE_CLASS = GitSessionStore
DISABLE_HOOKS_FOR_PLUGINS = ("gitprov",) if os.environ.get("{SWITCH}") == "1" else ()
'''

PIPELINE = f"""\
from kedro.pipeline import Pipeline, node


def step(value):
    return value + 1


def register_pipelines():
    length = {NODES // CHAINS}
    nodes = []
    for chain in range({CHAINS}):
        for i in range(length):
            source = "params:start" if i == 0 else f"c{{chain}}_{{i - 1}}"
            nodes.append(node(step, source, f"c{{chain}}_{{i}}", name=f"c{{chain}}_n{{i}}"))
    return {{"__default__": Pipeline(nodes)}}
"""


def git(root: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="b@x", GIT_COMMITTER_NAME="bench")
    env["GIT_COMMITTER_EMAIL"] = "b@x"
    subprocess.run(["git", "-C", str(root), *args], env=env, check=True, capture_output=True)


def make_project(root: Path) -> None:
    files = {
        "pyproject.toml": (
            f'[tool.kedro]\npackage_name = "bench_pkg"\nproject_name = "bench"\n'
            f'kedro_init_version = "{version("kedro")}"\n'
        ),
        ".gitignore": "__pycache__/\n",
        "src/bench_pkg/__init__.py": "",
        "src/bench_pkg/settings.py": SETTINGS,
        "src/bench_pkg/pipeline_registry.py": PIPELINE,
        "conf/base/parameters.yml": "start: 0\n",
        "conf/base/catalog.yml": "",
        "conf/local/.gitkeep": "",
    }
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bench project")


def kedro_run(root: Path, plugin: bool) -> float:
    """Wall time of one ``python -m kedro run``, as a user's shell would see it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(KEDRO_DISABLE_TELEMETRY="1", PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = str(root / "src")
    env[SWITCH] = "0" if plugin else "1"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "kedro", "run"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"kedro run failed:\n{proc.stderr.decode(errors='replace')}")
    return elapsed


def check_last_run(root: Path, plugin: bool) -> None:
    """Both sides did what they claim: a full ``run:`` section with the plugin, none without."""
    log = SessionLog(root)
    record = log.get(log.ids()[-1])
    if plugin:
        completed = record.get("run", {}).get("nodes", {}).get("completed", [])
        assert len(completed) == NODES, f"plugin run recorded {len(completed)} nodes"
    else:
        assert "run" not in record, "the plugin ran although disabled"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds (default 20)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="gitprov-bench-hooks-"))
    try:
        make_project(root)
        for plugin in (True, False):  # warm-up: imports, bytecode, page cache
            kedro_run(root, plugin)
            check_last_run(root, plugin)
        times: dict[bool, list[float]] = {True: [], False: []}
        for i in range(args.rounds):
            for plugin in (True, False) if i % 2 == 0 else (False, True):
                times[plugin].append(kedro_run(root, plugin))
        with_plugin = statistics.median(times[True])
        without = statistics.median(times[False])
        # Each round's two runs ran back to back, under the same load: their ratio is the
        # figure least disturbed by other work on the machine.
        paired = statistics.median(w / o for w, o in zip(times[True], times[False], strict=True))
        print(f"kedro run, {NODES} nodes, SequentialRunner, {args.rounds} interleaved rounds")
        print(f"  with the gitprov hooks:   median {with_plugin:.3f} s ", _spread(times[True]))
        print(f"  hooks disabled:           median {without:.3f} s ", _spread(times[False]))
        print(f"  ratio of the medians:     {with_plugin / without:.4f}")
        verdict = "ok" if paired < TARGET else "MISSED"
        print(f"  median ratio per round:   {paired:.4f}  (target < {TARGET}: {verdict})")
    finally:
        if args.keep:
            print(f"  project kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def _spread(values: list[float]) -> str:
    return f"(min {min(values):.3f}, max {max(values):.3f})"


if __name__ == "__main__":
    sys.exit(main())
