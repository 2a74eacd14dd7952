"""Reads without a process (ref files, loose and packed objects) agree with git's own, and
leave to git whatever they cannot tell."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitprov.git import Git
from gitprov.git.reffiles import common_dir_of, has_refs_under, read_ref_file

from conftest import git, make_repo

REF = "refs/provenance/sessions"


def test_ref_files_loose_packed_and_missing(repo: Path) -> None:
    common = Git.discover(repo).common_dir
    head = git(repo, "rev-parse", "HEAD").strip()
    assert read_ref_file(common, REF) == (True, None)
    git(repo, "update-ref", REF, head)
    assert read_ref_file(common, REF) == (True, head)
    git(repo, "pack-refs", "--all")
    assert not (common / REF).exists()
    assert read_ref_file(common, REF) == (True, head)
    git(repo, "update-ref", "-d", REF)
    assert read_ref_file(common, REF) == (True, None)


def test_what_the_files_cannot_tell_is_left_to_git(repo: Path) -> None:
    common = Git.discover(repo).common_dir
    (common / REF).parent.mkdir(parents=True)
    (common / REF).write_text("ref: refs/heads/main\n")  # a symbolic ref
    assert read_ref_file(common, REF) == (False, None)
    (common / REF).unlink()
    (common / "reftable").mkdir()  # another ref store: nothing in files is to be trusted
    assert read_ref_file(common, REF) == (False, None)
    assert has_refs_under(common, "refs/tags/") is None


def test_refs_under_a_prefix(repo: Path) -> None:
    common = Git.discover(repo).common_dir
    assert has_refs_under(common, "refs/tags/") is False
    git(repo, "tag", "v1")
    assert has_refs_under(common, "refs/tags/") is True
    git(repo, "pack-refs", "--all")
    assert has_refs_under(common, "refs/tags/") is True  # in packed-refs only
    assert has_refs_under(None, "refs/tags/") is None


def test_common_dir_found_as_git_finds_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a/b/c.txt": "x\n"})
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"))
    common = (repo / ".git").resolve()
    assert common_dir_of(repo / "a" / "b") == common
    assert common_dir_of(tmp_path / "wt") == common  # through .git file, then commondir
    assert common_dir_of(tmp_path) is None


@pytest.mark.parametrize("packed", [False, True])
def test_local_reads_match_cat_file(repo: Path, packed: bool) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "update-ref", REF, head)
    if packed:
        git(repo, "gc", "-q")
        assert not list((repo / ".git" / "objects").glob("??/*"))
    listed = git(repo, "rev-list", "--objects", "--all").splitlines()
    names = [
        *(line.split()[0] for line in listed),  # every object, by id
        REF,  # a ref file (or packed-refs)
        "refs/provenance/none",  # a ref that does not exist
        "HEAD",
        "HEAD^{tree}",  # revision syntax: cat-file's
        "HEAD:src/app.py",
        "0" * 40,  # an id that names nothing
    ]
    g = Git.discover(repo)
    with g.objects() as cat, g.local_objects() as local:
        for name in names:
            assert local.read(name) == cat.read(name), name
        assert local.read(REF) is not None and local.read("refs/provenance/none") is None
    assert len(names) > 10
