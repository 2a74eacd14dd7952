"""The storage seam's contract (``gitprov.store.api.Records``), run against every backend.

A new backend joins ``BACKENDS``; these tests then say whether session, log and audit can
use it. Today there is one: the records ref and notes index in git.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gitprov.errors import SessionExistsError, SessionForgottenError, SessionNotFoundError
from gitprov.git import Git
from gitprov.store.api import Note, Records
from gitprov.store.records import RecordStore

from conftest import git

Backend = Callable[[Path], Records]


def git_records(repo: Path) -> Records:
    return RecordStore(Git.discover(repo))


BACKENDS: dict[str, Backend] = {"git": git_records}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, repo: Path) -> Records:
    return BACKENDS[request.param](repo)


def record(session_id: str, text: str = "x") -> bytes:
    return f"session_id: {session_id}\nvalue: {text}\n".encode()


def test_what_is_saved_reads_back(store: Records) -> None:
    assert store.ids() == [] and not store.has("a")
    store.save("b", record("b"))
    store.save("a", record("a"))
    assert store.ids() == ["a", "b"]
    assert store.has("a") and store.read("a") == record("a")
    with pytest.raises(SessionNotFoundError):
        store.read("c")


def test_a_save_through_saving_is_one_save(store: Records) -> None:
    with store.saving("s") as pending:
        pending.prefetch()
        tip = pending.save(record("s"))
    assert len(tip) == 40 and store.read("s") == record("s")


def test_an_id_with_a_record_is_replaced_only_on_purpose(store: Records) -> None:
    store.save("s", record("s", "first"))
    with pytest.raises(SessionExistsError):
        store.save("s", record("s", "second"), replace=False)
    store.save("s", record("s", "first"), replace=False)  # the same bytes again: no change
    store.save("s", record("s", "third"))
    assert store.read("s") == record("s", "third")


def test_records_and_notes_are_found_on_the_stores_own_ref(store: Records, repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    store.save("s", record("s"), note=Note(head, "- {session_id: s, status: success}"))
    with Git.discover(repo).local_objects() as cat:
        found = store.record_in(cat, store.ref, "s")
        assert found is not None and found.data == record("s")
        assert found.where.startswith(f"{store.ref}:")
        assert store.record_in(cat, store.ref, "other") is None
        assert store.notes_ref is not None
        assert store.note_in(cat, store.notes_ref, head) == b"- {session_id: s, status: success}\n"
        assert store.tombstone_in(cat, store.ref, "s") is None


def test_a_forgotten_id_leaves_a_tombstone_and_cannot_be_saved_again(
    store: Records, repo: Path
) -> None:
    store.save("kept", record("kept"))
    store.save("gone", record("gone", "a secret"))
    forgotten = store.forget(["gone"], "leaked a token")
    assert forgotten.ids == ["gone"]
    assert store.ids() == ["kept"] and not store.has("gone")
    tombstone = store.forgotten("gone")
    assert tombstone is not None and tombstone.reason == "leaked a token"
    with Git.discover(repo).local_objects() as cat:
        assert store.tombstone_in(cat, store.ref, "gone") is not None
        assert store.record_in(cat, store.ref, "gone") is None
    with pytest.raises(SessionForgottenError):
        store.save("gone", record("gone"))
    assert store.read("kept") == record("kept")
