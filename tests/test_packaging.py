"""The source distribution ships what its own tests need."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_sdist_holds_the_tests_and_everything_they_read(tmp_path: Path) -> None:
    tracked = (
        subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    source = tmp_path / "source"
    for name in filter(None, tracked):  # a clean copy: what a release is built from
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():
            target.symlink_to((ROOT / name).readlink())
        elif (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    code = f"from setuptools import build_meta as b; print(b.build_sdist({str(tmp_path)!r}))"
    built = subprocess.run([sys.executable, "-c", code], cwd=source, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    with tarfile.open(tmp_path / built.stdout.strip().splitlines()[-1]) as sdist:
        shipped = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    needed = [
        name
        for name in tracked
        if name.startswith(("tests/", "demo/", "src/")) or name in (".pre-commit-hooks.yaml",)
    ]
    assert needed and not [name for name in needed if name not in shipped]
    assert {"pyproject.toml", "README.md", "LICENSE", "Makefile"} <= shipped
