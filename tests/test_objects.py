"""In-process object reads agree with git's own, loose and packed (deltas included)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gitprov import GitSessionStore
from gitprov.objects import ObjectWriter, PackedObjects, read_loose
from gitprov.runner import Git

from conftest import git


def all_objects(repo: Path) -> dict[str, tuple[str, bytes]]:
    """Every object in the repository, as git reads it."""
    listing = git(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    names = listing.split()
    out = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        input=("\n".join(names) + "\n").encode(),
        capture_output=True,
        check=True,
    ).stdout
    objects, pos = {}, 0
    for _ in names:
        header_end = out.index(b"\n", pos)
        sha, kind, size = out[pos:header_end].decode().split()
        start = header_end + 1
        objects[sha] = (kind, out[start : start + int(size)])
        pos = start + int(size) + 1
    return objects


def test_loose_round_trip(repo: Path) -> None:
    g = Git.discover(repo)
    writer = ObjectWriter(g.objects_dir, g.object_format)
    sha = writer.blob(b"hello\x00world\n")
    assert git(repo, "cat-file", "-p", sha) == "hello\x00world\n"
    found = read_loose(g.objects_dir, sha)
    assert found is not None and (found.type, found.data) == ("blob", b"hello\x00world\n")
    assert writer.blob(b"hello\x00world\n") == sha  # idempotent


def test_packed_objects_with_deltas_match_git(repo: Path) -> None:
    big = repo / "data.txt"
    for i in range(12):
        big.write_text("".join(f"line {j} {'x' * (j % 7)}\n" for j in range(400 + i)))
        git(repo, "add", "data.txt")
        git(repo, "commit", "-qm", f"edit {i}")
        GitSessionStore(path=str(repo), session_id=f"s{i:02d}").save({"i": i})
    git(repo, "repack", "-adfq", "--depth=50", "--window=50")
    stats = git(repo, "count-objects", "-v")
    assert "count: 0" in stats  # everything is packed now
    g = Git.discover(repo)
    expected = all_objects(repo)
    deltas = git(repo, "verify-pack", "-v", *map(str, (repo / ".git/objects/pack").glob("*.idx")))
    assert " delta " in deltas or "chain length" in deltas  # the pack really has deltas
    packs = PackedObjects(g.objects_dir, 20)
    try:
        for sha, (kind, data) in expected.items():
            found = packs.read(sha)
            assert found is not None, sha
            assert (found.type, found.data) == (kind, data), sha
        assert packs.read("0" * 40) is None
    finally:
        packs.close()
    # and a save on the packed repository still works, reading only in-process
    GitSessionStore(path=str(repo), session_id="after-gc").save()
    assert git(repo, "fsck", "--strict", "--no-progress") == ""
