"""``gitprov report`` at 10,000 runs (issue 16): the file stays under 20 MB and headless
Chromium reaches ``load`` in under 3 s.

Run it with ``.venv/bin/python bench/bench_report.py`` (``--records N``, ``--rounds N``,
``--keep``). The fixture is bench_query's (one ``git fast-import`` stream: Kedro, record()
and command records, half dirty on shared snapshots). Times: ``gitprov report`` as a whole
process, the first one building the query index and the others warm; then, in one
headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright), each round opens
the file in a fresh page and reads the navigation's ``loadEventStart`` (from the start of
navigation to ``load``: the HTML parsed, the page's script run, the table, time line and
plot drawn). Verdict: size < 20 MB and median load < 3 s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_query import build
from bench_sync import in_scratch

MAX_BYTES = 20_000_000
MAX_LOAD_S = 3.0
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def report(repo: Path, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gitprov", "-C", str(repo), "report", "-o", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def load_times(page_file: Path, rounds: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for _ in range(rounds):
            page = browser.new_page()
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            rows = page.locator("#runs tbody tr").count()
            assert rows == 200, rows  # the first page of the table
            load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventStart")
            times.append(load / 1000)
            page.close()
        browser.close()
    return times


def run(tmp: Path, records: int, rounds: int) -> int:
    fixture = build(tmp / "repo", records)
    out = tmp / "report.html"
    cold = report(fixture.repo, out)
    warm = statistics.median(report(fixture.repo, out) for _ in range(max(1, rounds // 3)))
    size = out.stat().st_size
    loads = load_times(out, rounds)
    load = statistics.median(loads)
    print(
        f"gitprov report, {records} runs: first {cold:.1f} s (builds the index), warm {warm:.1f} s"
    )
    print(f"file: {size / 1e6:.1f} MB (limit {MAX_BYTES / 1e6:.0f} MB)")
    print(
        f"chromium load: median {load:.2f} s, min {min(loads):.2f}, max {max(loads):.2f} "
        f"over {rounds} (limit {MAX_LOAD_S:.0f} s)"
    )
    ok = size < MAX_BYTES and load < MAX_LOAD_S
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the fixture and the report")
    args = parser.parse_args()
    return in_scratch("report", args.keep, lambda tmp: run(tmp, args.records, args.rounds))


if __name__ == "__main__":
    sys.exit(main())
