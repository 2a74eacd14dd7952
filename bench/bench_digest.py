"""Digesting inputs and outputs (issue 14): gitprov against ``sha256sum`` of the same bytes.

Two lines, each median(ours) / median(sha256sum) over interleaved rounds:
- a 1 GB file digested with an empty cache (what an output costs): limit 1.2;
- the same file digested again, unchanged, through the cache (what an unchanged input
  costs on every later run): limit 0.05.

Usage: ``python bench/bench_digest.py [--rounds N] [--mb SIZE] [--dir DIR]``. The file is
written under ``bench/.work/`` by default and deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from gitprov.state.digest import CACHE_FILE, Digests

HERE = Path(__file__).resolve().parent


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(
    name: str, ours: Callable[[], object], anchor: Callable[[], object], rounds: int, limit: float
) -> bool:
    mine: list[float] = []
    theirs: list[float] = []
    for n in range(rounds + 1):
        pair = [(mine, ours), (theirs, anchor)]
        for times, fn in pair if n % 2 else reversed(pair):
            took = timed(fn)
            if n:  # the first round warms the page cache and is thrown away
                times.append(took)
    ratio = statistics.median(mine) / statistics.median(theirs)
    verdict = "PASS" if ratio <= limit else "MISS"
    print(
        f"{name}: {statistics.median(mine) * 1e3:.1f} ms vs "
        f"{statistics.median(theirs) * 1e3:.1f} ms, ratio {ratio:.3f} (limit {limit}) {verdict}"
    )
    return ratio <= limit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=HERE / ".work" / "digest")
    args = parser.parse_args()
    work: Path = args.dir
    shutil.rmtree(work, ignore_errors=True)
    git_dir = work / ".git"
    git_dir.mkdir(parents=True)
    data = work / "input.bin"
    block = os.urandom(1 << 20)
    with data.open("wb") as fh:
        for _ in range(args.mb):
            fh.write(block)
    old = time.time_ns() - 3600 * 10**9
    os.utime(data, ns=(old, old))
    try:

        def sha256sum() -> None:
            subprocess.run(["sha256sum", str(data)], check=True, capture_output=True)

        def cold() -> None:
            git_dir.joinpath(*CACHE_FILE).unlink(missing_ok=True)
            with Digests(git_dir) as digests:
                digests.of(data)

        def warm() -> None:
            with Digests(git_dir) as digests:
                digests.of(data)

        print(f"{args.mb} MB file, {args.rounds} rounds")
        ok = compare("digest, empty cache vs sha256sum", cold, sha256sum, args.rounds, 1.2)
        cold()
        ok &= compare("digest, unchanged, cached vs sha256sum", warm, sha256sum, args.rounds, 0.05)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
