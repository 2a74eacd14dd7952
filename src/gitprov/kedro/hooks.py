"""The Kedro plugin: hooks that write what ran and how it ended into the record's ``run:``.

Registered in every Kedro project through the ``kedro.hooks`` entry point; a session whose
``SESSION_STORE_CLASS`` is not :class:`~gitprov.kedro.store.GitSessionStore` is left
alone. Kedro gives hooks the session id, never the store, so the store is looked up with
:func:`~gitprov.kedro.store.live_store`; the ``run:`` section is put into it when the
pipeline starts and filled in place, and Kedro's own ``save()`` at session close writes it.

Node and dataset hooks run once per node and per output, so they only append to lists.
``ParallelRunner`` calls them in worker processes, where the section is a lost copy: there
they append a line to a journal file instead, which the pipeline hooks read back in the
main process once the workers are done.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, MemoryDataset
from kedro.io.core import CatalogProtocol
from kedro.io.shared_memory_dataset import SharedMemoryDataset
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node

from gitprov.errors import InvalidSessionIdError
from gitprov.kedro.store import live_store
from gitprov.record import run as run_section
from gitprov.record.document import validate_session_id
from gitprov.record.model import (
    FAILED,
    INTERRUPTED,
    SUCCESS,
    RunError,
    RunSection,
    RunStatus,
    Saved,
)
from gitprov.record.run import KEDRO_FILTERS, Started, error_of
from gitprov.signals import Catch, Stopped

#: Names the journal folder of the process that owns the stores, for its workers.
JOURNAL_ENV = "GITPROV_KEDRO_JOURNALS"

_journal_dir: Path | None = None
_journal_lock = threading.Lock()


def _journals() -> Path:
    """This process's journal folder, made on first use and removed at exit."""
    global _journal_dir
    with _journal_lock:
        if _journal_dir is None:
            _journal_dir = Path(tempfile.mkdtemp(prefix="gitprov-kedro-"))
            atexit.register(shutil.rmtree, _journal_dir, ignore_errors=True)
        os.environ[JOURNAL_ENV] = str(_journal_dir)  # inherited by the runner's workers
        return _journal_dir


def _append_to_journal(run_id: str, *event: str) -> None:
    """From a worker process: note ``event`` for the main process, if it asked for one.

    The journal is created by the main process only for runs it records, and opened
    here without ``O_CREAT``: any other run, or a run id that is no file name, is a no-op.
    """
    folder = os.environ.get(JOURNAL_ENV)
    if not folder:
        return
    try:
        validate_session_id(run_id)
        fd = os.open(os.path.join(folder, run_id), os.O_WRONLY | os.O_APPEND)
    except (InvalidSessionIdError, OSError):
        return
    with os.fdopen(fd, "a", encoding="utf-8") as journal:
        journal.write(json.dumps(event) + "\n")  # one small O_APPEND write: never interleaved


def _runner_name(value: object) -> str:
    """Kedro passes ``str(runner)``, e.g. ``<kedro.runner....ThreadRunner object at 0x..>``."""
    text = str(value)
    match = re.fullmatch(r"<([\w.]+) object at 0x[0-9a-fA-F]+>", text)
    if match:
        return match.group(1).rsplit(".", 1)[-1]
    return "SequentialRunner" if value is None or text == "None" else text


class _Run:
    """One recorded pipeline run, in the process that owns its store."""

    def __init__(
        self,
        section: RunSection,
        started: Started,
        catalog: CatalogProtocol[Any, Any],
        journal: Path,
    ) -> None:
        self.section = section
        self.started = started
        self.completed: list[str] = section["nodes"]["completed"]
        self.failed: list[str] = section["nodes"]["failed"]
        self.saved: list[Saved] = section["datasets_saved"]
        self.seen: set[str] = set()
        self.saving: dict[str, str] = {}  # dataset -> node, while Kedro saves it
        self.catalog = catalog
        self.journal = journal
        self.pid = os.getpid()
        # SIGTERM/SIGHUP raise in the main thread, so that Kedro's session exit saves
        # the store; released when the pipeline ends.
        self.catch = Catch(on_signal=self.stopped)

    def fail(self, node: str, error: RunError) -> None:
        self.failed.append(node)
        if self.section["failed_node"] is None:
            self.section["failed_node"] = node
            self.section["error"] = error

    def unsaved(self, error: RunError) -> None:
        """Blame the nodes whose outputs were still being saved when the run failed: Kedro
        reports a node done before it saves the outputs, and a failed save names no node."""
        for dataset, node in self.saving.items():
            if node in self.completed:
                self.completed.remove(node)
            message = f"saving its output {dataset} failed: {error['message']}"
            self.fail(node, {"type": error["type"], "message": message})
        self.saving.clear()

    def save(self, name: str) -> None:
        """Note a persisted dataset once (generator nodes save chunk by chunk), with the
        version Kedro saved it under; in-memory datasets leave nothing to trace."""
        self.saving.pop(name, None)
        if name in self.seen:
            return
        self.seen.add(name)
        dataset = self.catalog.get(name)
        if dataset is None or isinstance(dataset, MemoryDataset | SharedMemoryDataset):
            return
        entry: Saved = {"name": name}
        if isinstance(dataset, AbstractVersionedDataset):
            version = dataset.resolve_save_version()
            if version:
                entry["version"] = version
        self.saved.append(entry)

    def replay_journal(self) -> None:
        """Take in what worker processes noted, then drop the journal."""
        try:
            lines = self.journal.read_text(encoding="utf-8").splitlines()
            self.journal.unlink()
        except OSError:
            return
        for line in lines:
            kind, name, *rest = json.loads(line)
            if kind == "completed":
                self.completed.append(name)
            elif kind == "failed":
                self.fail(name, {"type": rest[0], "message": rest[1]})
            elif kind == "saving":
                self.saving[name] = rest[0]
            elif kind == "saved":
                self.save(name)

    def stopped(self, stop: Stopped) -> None:
        """A SIGTERM or SIGHUP is about to end the run: no end hook will run. (Kedro's own
        ``exception`` key gets the traceback.)"""
        self.finish(INTERRUPTED, signal=stop.signal_name, error=error_of(stop))

    def finish(
        self, status: RunStatus, *, signal: str | None = None, error: RunError | None = None
    ) -> None:
        self.replay_journal()
        run_section.finish(self.section, status, self.started, signal=signal, error=error)


class GitprovHooks:
    """Kedro hook implementations; one instance serves every session of a process."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}
        self._current = threading.local()  # the run of the node this thread last finished

    def _local_run(self, run_id: str | None) -> _Run | None:
        run = self._runs.get(run_id) if run_id else None
        # A forked worker inherits ``_runs``, but its copy of the section would be lost.
        return run if run is not None and run.pid == os.getpid() else None

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol[Any, Any]
    ) -> None:
        session_id = run_params.get("run_id") or run_params.get("session_id")
        store = live_store(str(session_id)) if session_id else None
        if store is None:
            return  # not a GitSessionStore session: nothing to record
        run_id = store.session_id
        names = run_params.get("pipeline_names") or (
            [run_params["pipeline_name"]] if run_params.get("pipeline_name") else None
        )
        ran: dict[str, Any] = {
            "pipeline_names": list(names or ["__default__"]),
            "tags": sorted(run_params.get("tags") or []),
        }
        ran.update({key: run_params[key] for key in KEDRO_FILTERS if run_params.get(key)})
        ran["runner"] = _runner_name(run_params.get("runner"))
        started = Started()
        # Under way until an end hook says otherwise: KeyboardInterrupt (and SIGTERM/SIGHUP,
        # made exceptions while the run lasts) skips both end hooks, and Kedro still saves
        # the store on its way out (the save then ends the run, gitprov.record.run.close).
        section = run_section.section(
            INTERRUPTED,
            started,
            ran=ran,
            ended={
                "nodes": {"total": len(pipeline.nodes), "completed": [], "failed": []},
                "failed_node": None,
                "datasets_saved": [],
            },
            finished=False,
        )
        journal = _journals() / run_id
        journal.touch()
        store["run"] = section
        self._runs[run_id] = _Run(section, started, catalog, journal)
        weakref.finalize(store, self._runs.pop, run_id, None)

    @hook_impl
    def after_node_run(self, node: Node, run_id: str) -> None:
        self._current.run_id = run_id  # this thread's dataset saves come next
        run = self._local_run(run_id)
        if run is not None:
            run.completed.append(node.name)
        else:
            _append_to_journal(run_id, "completed", node.name)

    @hook_impl
    def on_node_error(self, error: Exception, node: Node, run_id: str) -> None:
        run = self._local_run(run_id)
        if run is not None:
            run.fail(node.name, error_of(error))
        else:
            described = error_of(error)
            _append_to_journal(run_id, "failed", node.name, described["type"], described["message"])

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, node: Node) -> None:
        run_id: str | None = getattr(self._current, "run_id", None)
        if run_id is None:
            return
        run = self._local_run(run_id)
        if run is not None:
            run.saving[dataset_name] = node.name
        else:
            _append_to_journal(run_id, "saving", dataset_name, node.name)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        run_id: str | None = getattr(self._current, "run_id", None)
        if run_id is None:
            return
        run = self._local_run(run_id)
        if run is not None:
            run.save(dataset_name)
        else:
            _append_to_journal(run_id, "saved", dataset_name)

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any]) -> None:
        run = self._end(run_params)
        if run is not None:
            run.finish(SUCCESS)

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any]) -> None:
        run = self._end(run_params)
        if run is not None:
            run.finish(FAILED)
            run.unsaved(error_of(error))
            if run.section["error"] is None:
                run.section["error"] = error_of(error)

    def _end(self, run_params: dict[str, Any]) -> _Run | None:
        session_id = run_params.get("run_id") or run_params.get("session_id")
        run = self._runs.pop(str(session_id), None) if session_id else None
        if run is None or run.pid != os.getpid():
            return None
        run.catch.release()
        return run


#: The object the ``kedro.hooks`` entry point names.
hooks = GitprovHooks()
