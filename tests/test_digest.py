"""Digests of inputs and outputs: equal to ``sha256sum``'s, and cached only when safe."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from gitprov.state.digest import CACHE_FILE, Digests, NotRead

OLD = time.time_ns() - 3600 * 10**9  # an hour ago: long settled


def sha256sum(*paths: str, cwd: Path) -> str:
    return subprocess.run(
        ["sha256sum", "--", *paths], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def settled(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, ns=(OLD, OLD))
    return path


def rows(git_dir: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(git_dir.joinpath(*CACHE_FILE)) as db:
        return list(db.execute("SELECT * FROM digests"))


def test_a_file_digest_is_what_sha256sum_prints(tmp_path: Path) -> None:
    data = settled(tmp_path / "model.bin", os.urandom(3 * 1024 * 1024 + 7))
    with Digests(None) as digests:
        found = digests.of(data)
    assert found == "sha256:" + sha256sum(data.name, cwd=tmp_path).split()[0]


def test_a_folder_digest_is_sha256sum_of_its_sorted_listing(tmp_path: Path) -> None:
    folder = tmp_path / "partitions"
    names = ["b.csv", "a/2.csv", "a/10.csv", "Z.csv", "a b/c.csv", "é.csv"]
    for n, name in enumerate(names):
        settled(folder / name, f"row {n}\n".encode())
    (folder / "empty").mkdir()
    (folder / "link").symlink_to(folder / "b.csv")  # a link to a file counts as that file
    (folder / "loop").symlink_to(folder)  # a link to a folder is never followed
    ordered = sorted([*names, "link"], key=lambda n: n.encode())
    listing = sha256sum(*ordered, cwd=folder)
    with Digests(None) as digests:
        found = digests.of(folder)
    assert found == "sha256:" + hashlib.sha256(listing.encode()).hexdigest()


def test_an_unchanged_file_is_answered_from_the_cache_and_a_changed_one_read_again(
    tmp_path: Path,
) -> None:
    git_dir = tmp_path / ".git"
    git_dir.mkdir()
    data = settled(tmp_path / "input.csv", b"a,b\n1,2\n")
    with Digests(git_dir) as digests:
        first = digests.of(data)
    [row] = rows(git_dir)
    assert "sha256:" + str(row[-1]) == first
    # the cache is what answers: a value planted in it comes back for the unchanged file
    with sqlite3.connect(git_dir.joinpath(*CACHE_FILE)) as db:
        db.execute("UPDATE digests SET digest = ?", ("0" * 64,))
    with Digests(git_dir) as digests:
        assert digests.of(data) == "sha256:" + "0" * 64
    # same size, mtime put back: the change time still tells, and the file is read again
    data.write_bytes(b"a,b\n9,9\n")
    os.utime(data, ns=(OLD, OLD))
    with Digests(git_dir) as digests:
        assert digests.of(data) == "sha256:" + hashlib.sha256(b"a,b\n9,9\n").hexdigest()


def test_a_file_written_moments_ago_is_not_cached(tmp_path: Path) -> None:
    git_dir = tmp_path / ".git"
    git_dir.mkdir()
    fresh = tmp_path / "out.txt"
    fresh.write_bytes(b"just written\n")
    with Digests(git_dir) as digests:
        assert digests.of(fresh) == "sha256:" + hashlib.sha256(b"just written\n").hexdigest()
    assert rows(git_dir) == []


def test_a_damaged_cache_is_made_anew(tmp_path: Path) -> None:
    git_dir = tmp_path / ".git"
    cache = git_dir.joinpath(*CACHE_FILE)
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"this is no database" * 100)
    data = settled(tmp_path / "x.bin", b"x" * 100)
    with Digests(git_dir) as digests:
        assert digests.of(data) == "sha256:" + hashlib.sha256(b"x" * 100).hexdigest()
    assert len(rows(git_dir)) == 1


def test_where_the_cache_cannot_be_kept_every_file_is_read(tmp_path: Path) -> None:
    git_dir = tmp_path / ".git"
    git_dir.mkdir()
    (git_dir / CACHE_FILE[0]).write_text("a file where the cache's folder would go")
    data = settled(tmp_path / "x.bin", b"y" * 10)
    with Digests(git_dir) as digests:
        assert digests.of(data) == "sha256:" + hashlib.sha256(b"y" * 10).hexdigest()


def test_something_that_is_neither_file_nor_folder_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with Digests(None) as digests, pytest.raises(OSError, match="neither a file nor a folder"):
        digests.of(fifo)
    with Digests(None) as digests, pytest.raises(FileNotFoundError):
        digests.of(tmp_path / "missing")


def test_a_cache_only_digests_answers_what_it_holds_and_reads_nothing(tmp_path: Path) -> None:
    git_dir = tmp_path / ".git"
    git_dir.mkdir()
    known = settled(tmp_path / "known.bin", b"k" * 10)
    unknown = settled(tmp_path / "unknown.bin", b"u" * 10)
    with Digests(git_dir) as digests:
        expected = digests.of(known)
    with Digests(git_dir, read=False) as digests:
        assert digests.of(known) == expected
        with pytest.raises(NotRead, match="was not read"):
            digests.of(unknown)


def test_names_that_could_pass_for_two_lines_are_escaped_as_sha256sum_escapes_them(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "odd"
    names = ["a\nb", "c\\d", "e\rf", "plain"]
    for n, name in enumerate(names):
        settled(folder / name, f"{n}\n".encode())
    (folder / "dangling").symlink_to(tmp_path / "nowhere")  # no file there: adds nothing
    listing = sha256sum(*sorted(names, key=lambda n: n.encode()), cwd=folder)
    with Digests(None) as digests:
        assert digests.of(folder) == "sha256:" + hashlib.sha256(listing.encode()).hexdigest()
    # one file named like a second line of the listing is not two files
    two = tmp_path / "two"
    settled(two / "a", b"X")
    settled(two / "b", b"Y")
    one = tmp_path / "one"
    settled(one / ("a\n" + hashlib.sha256(b"Y").hexdigest() + "  b"), b"X")
    with Digests(None) as digests:
        assert digests.of(one) != digests.of(two)
