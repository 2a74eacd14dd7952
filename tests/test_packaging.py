"""The distributions: the sdist ships what its own tests need, the wheel what users run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_sdist_and_the_wheel_ship_what_is_needed(tmp_path: Path) -> None:
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
    out = tmp_path / "dist"
    out.mkdir()
    code = (
        "import sys; from setuptools import build_meta as b; "
        "out = sys.argv[1]; b.build_sdist(out); b.build_wheel(out)"
    )
    built = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=source, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (sdist_file,) = out.glob("gitprov-*.tar.gz")
    (wheel_file,) = out.glob("gitprov-*.whl")

    with tarfile.open(sdist_file) as sdist:
        shipped = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    needed = [
        name
        for name in tracked
        if name.startswith(("tests/", "demo/", "src/")) or name == ".pre-commit-hooks.yaml"
    ]
    assert needed and not [name for name in needed if name not in shipped]
    assert {"pyproject.toml", "README.md", "LICENSE", "Makefile"} <= shipped

    installed = set(zipfile.ZipFile(wheel_file).namelist())
    assert {
        "gitprov/hooks/pre-push",
        "gitprov/model/record.schema.json",
        "gitprov/report/page.js",
        "gitprov/report/page.css",
    } <= installed
    assert not [name for name in installed if name.startswith(("tests/", "demo/"))]
