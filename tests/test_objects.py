"""In-process object reads agree with git's own, loose and packed (deltas included)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitprov import GitSessionStore
from gitprov.git import Git
from gitprov.git.objects import (
    BLOB_MODE,
    MAX_PACKS,
    Entry,
    ObjectWriter,
    PackedObjects,
    parse_tree,
    read_loose,
)

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


def pack_files(repo: Path) -> list[Path]:
    return sorted((repo / ".git/objects/pack").glob("pack-*"))


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_batch_is_one_pack_git_reads_and_verifies(tmp_path: Path, object_format: str) -> None:
    repo = tmp_path / "r"
    git(tmp_path, "init", "-q", f"--object-format={object_format}", str(repo))
    g = Git.discover(repo)
    writer = ObjectWriter(g.objects_dir, g.object_format)
    big = bytes(range(256)) * 300  # a size that needs a multi-byte pack entry header
    with writer.batch() as batch:
        blob = writer.blob(big)
        small = writer.blob(b"small\n")
        tree = writer.tree([Entry(BLOB_MODE, "big.bin", blob), Entry(BLOB_MODE, "s", small)])
        commit = writer.commit(tree, [], "packed\n")
        assert pack_files(repo) == []  # nothing on disk until the batch ends
    # held by a .keep (as git's index-pack --keep) until the caller's refs point at it
    assert [p.suffix for p in pack_files(repo)] == [".idx", ".keep", ".pack"]
    assert batch.keep is not None and batch.keep.read_text().startswith("gitprov ")
    batch.release()
    assert [p.suffix for p in pack_files(repo)] == [".idx", ".pack"]
    assert git(repo, "count-objects", "-v").splitlines()[0] == "count: 0"  # no loose object
    idx = pack_files(repo)[0]
    listing = git(repo, "verify-pack", "-v", str(idx))  # checksums, CRCs and offsets
    assert sum(1 for line in listing.splitlines() if line.split()[:1] in ([blob], [commit])) == 2
    assert idx.stem == f"pack-{idx.with_suffix('.pack').read_bytes()[-len(blob) // 2 :].hex()}"
    assert (
        subprocess.run(
            ["git", "-C", str(repo), "cat-file", "blob", f"{commit}:big.bin"],
            capture_output=True,
            check=True,
        ).stdout
        == big
    )
    git(repo, "update-ref", "refs/heads/main", commit)
    assert git(repo, "fsck", "--strict", "--no-progress") == ""
    packs = PackedObjects(g.objects_dir, len(blob) // 2)
    try:
        found = packs.read(tree)
        assert found is not None and found.type == "tree"
        assert parse_tree(found.data, len(blob) // 2)["s"].sha == small
    finally:
        packs.close()


def test_batch_falls_back_to_loose_objects(repo: Path) -> None:
    g = Git.discover(repo)
    writer = ObjectWriter(g.objects_dir, g.object_format)
    before = pack_files(repo)
    with writer.batch():
        one = writer.blob(b"just one object\n")
    assert pack_files(repo) == before and read_loose(g.objects_dir, one) is not None
    with pytest.raises(RuntimeError, match="boom"), writer.batch():
        lost = writer.blob(b"written, then the batch fails\n")
        writer.blob(b"another\n")
        raise RuntimeError("boom")
    assert pack_files(repo) == before
    assert git(repo, "cat-file", "-t", lost, check=False) == ""  # nothing was written
    for i in range(MAX_PACKS):  # as many packs as git's gc.autoPackLimit
        with writer.batch() as batch:
            writer.blob(b"a %d" % i)
            writer.blob(b"b %d" % i)
        batch.release()
    assert len(pack_files(repo)) == 2 * MAX_PACKS
    with writer.batch() as batch:
        loose = [writer.blob(b"c"), writer.blob(b"d")]
    assert (
        batch.keep is None and len(pack_files(repo)) == 2 * MAX_PACKS
    )  # no pack past git's own limit
    assert all(read_loose(g.objects_dir, sha) is not None for sha in loose)


def test_saves_write_packs_that_git_gc_folds(repo: Path) -> None:
    for i in range(3):
        GitSessionStore(path=str(repo), session_id=f"run-{i}").save({"i": i})
    assert len([p for p in pack_files(repo) if p.suffix == ".pack"]) == 3  # one per save
    git(repo, "gc", "-q")
    assert len([p for p in pack_files(repo) if p.suffix == ".pack"]) == 1
    assert git(repo, "fsck", "--strict", "--no-progress") == ""
    assert [GitSessionStore(path=str(repo), session_id=f"run-{i}")["i"] for i in range(3)] == [
        0,
        1,
        2,
    ]
