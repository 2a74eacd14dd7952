"""The Kedro plugin: hooks that write what ran and how it ended into the record's ``run:``.

Registered in every Kedro project through the ``kedro.hooks`` entry point; a session whose
``SESSION_STORE_CLASS`` is not :class:`~gitprov.kedro.store.GitSessionStore` is left
alone. Kedro gives hooks the session id, never the store, so the store is looked up with
:func:`~gitprov.kedro.store.live_store`; the ``run:`` section is put into it when the
pipeline starts and filled in place, and Kedro's own ``save()`` at session close writes it.

Node and dataset hooks run once per node and per output, so they only append to lists
(the names a node loaded come with ``after_node_run``'s ``inputs``); the datasets' items
(:mod:`gitprov.kedro.lineage`: paths and digests) are made once, when the pipeline ends,
outputs after their save. ``ParallelRunner`` calls them in worker processes, where the
section is a lost copy: there they append a line to a journal file instead, which the
pipeline hooks read back in the main process once the workers are done.

What the run used is taken as Kedro builds it, in the thread that then starts the
pipeline: the config loader from ``after_context_created``, the merged parameters from
``after_catalog_created``. A session Kedro's ``kedro run`` did not start (a notebook's,
``kedro ipython``'s, a script's) may never be closed, so its record is saved when its
pipeline ends; closing it later replaces that record.
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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, MemoryDataset
from kedro.io.core import CatalogProtocol
from kedro.io.shared_memory_dataset import SharedMemoryDataset
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node

from gitprov.errors import InvalidSessionIdError
from gitprov.kedro.lineage import config_section, dataset_item
from gitprov.kedro.store import GitSessionStore, live_store
from gitprov.model import run as run_section
from gitprov.model.document import validate_session_id
from gitprov.model.run import KEDRO_FILTERS, Enclosing, Started, error_of
from gitprov.model.sections import (
    FAILED,
    INTERRUPTED,
    SUCCESS,
    DatasetItem,
    RunError,
    RunSection,
    RunStatus,
    Saved,
)
from gitprov.signals import Catch, Stopped
from gitprov.state.digest import Digests
from gitprov.state.environment import git_user

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


def _traced(name: str, dataset: Any) -> bool:
    """Whether ``dataset`` holds data a record can trace: not parameters, not memory."""
    if dataset is None or name == "parameters" or name.startswith("params:"):
        return False
    return not isinstance(dataset, MemoryDataset | SharedMemoryDataset)


class _Run:
    """One recorded pipeline run, in the process that owns its store."""

    def __init__(
        self,
        store: GitSessionStore,
        section: RunSection,
        started: Started,
        catalog: CatalogProtocol[Any, Any],
        project: Path,
        journal: Path,
    ) -> None:
        # by id, not the store: it lives exactly as long as Kedro's session holds it
        self.session_id = store.session_id
        self.git = store.git
        self.section = section
        self.started = started
        self.completed: list[str] = section["nodes"]["completed"]
        self.failed: list[str] = section["nodes"]["failed"]
        self.saved: list[Saved] = section["datasets_saved"]
        self.seen: set[str] = set()
        self.loaded: dict[str, None] = {}  # the names the nodes loaded, in order, once
        self.saving: dict[str, str] = {}  # dataset -> node, while Kedro saves it
        self.catalog = catalog
        self.project = project
        self.journal = journal
        self.pid = os.getpid()
        self.thread = threading.get_ident()
        # Runs started by the nodes (processes included) name this one as their parent.
        self.enclosing = Enclosing(store.session_id, every_thread=True)  # ThreadRunner's too
        self.enclosing.enter()
        # SIGTERM/SIGHUP raise in the main thread, so that Kedro's session exit saves
        # the store; released when the pipeline ends.
        self.catch = Catch(on_signal=self.stopped)

    def load(self, names: Iterable[str]) -> None:
        for name in names:
            self.loaded[name] = None

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
        if not _traced(name, dataset):
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
                self.load(rest)
            elif kind == "failed":
                self.fail(name, {"type": rest[0], "message": rest[1]})
                self.load(rest[2:])
            elif kind == "saving":
                self.saving[name] = rest[0]
            elif kind == "saved":
                self.save(name)

    def stopped(self, stop: Stopped) -> None:
        """A SIGTERM or SIGHUP is about to end the run: no end hook will run. (Kedro's own
        ``exception`` key gets the traceback.)"""
        self.finish(INTERRUPTED, signal=stop.signal_name, error=error_of(stop), cut=True)

    def finish(
        self,
        status: RunStatus,
        *,
        signal: str | None = None,
        error: RunError | None = None,
        cut: bool = False,
    ) -> None:
        self.trace(cut)
        run_section.finish(self.section, status, self.started, signal=signal, error=error)

    def trace(self, cut: bool = False) -> None:
        """Put what the run loaded and saved so far into its section, digested now; a run
        ``cut`` short (a signal, Ctrl-C) gets only the digests the cache holds: hashing a
        large output must not hold up the record of a run that is being stopped."""
        self.replay_journal()
        self.section["inputs"] = self.items(self.loaded, loaded=True, cut=cut)
        saved = [entry["name"] for entry in self.saved]
        self.section["outputs"] = self.items(saved, loaded=False, cut=cut)

    def under_way(self) -> None:
        """Before a save of the run still under way (a Ctrl-C skipped the end hooks): what
        it loaded and saved until then."""
        if self.section["finished_at"] is None:
            self.trace(cut=True)

    def items(self, names: Iterable[str], *, loaded: bool, cut: bool) -> list[DatasetItem]:
        """The items of the datasets ``names`` that hold traceable data, digested now."""
        traced = [(n, d) for n in names if _traced(n, d := self.catalog.get(n))]
        if not traced:
            return []
        with Digests(self.git.common_dir, read=not cut) as digests:
            return [dataset_item(n, d, self.project, digests, loaded=loaded) for n, d in traced]


class GitprovHooks:
    """Kedro hook implementations; one instance serves every session of a process."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}
        # the run of the node this thread last finished; the context and the catalog (with
        # its parameters) Kedro last built in this thread, for the run it starts next
        self._current = threading.local()

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._current.context = context

    @hook_impl
    def after_catalog_created(
        self, catalog: CatalogProtocol[Any, Any], parameters: dict[str, Any]
    ) -> None:
        self._current.catalog = (catalog, parameters)

    def _built(self, catalog: CatalogProtocol[Any, Any]) -> tuple[Any, dict[str, Any] | None]:
        """(config loader, merged parameters) Kedro built ``catalog`` with, when known."""
        context = getattr(self._current, "context", None)
        built = getattr(self._current, "catalog", None)
        self._current.context = self._current.catalog = None  # held no longer than needed
        loader = getattr(context, "config_loader", None)
        if built is None or built[0] is not catalog:
            return loader, None
        parameters = built[1].get("parameters")
        return loader, parameters if isinstance(parameters, dict) else None

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
        ran["user"] = git_user(store.git)
        loader, parameters = self._built(catalog)
        if parameters is not None:
            ran["params"] = parameters  # masked, as every value, when the record is built
        project = Path(str(run_params.get("project_path") or store.git.root))
        self._abandoned()
        if loader is not None:
            # config files are a few small files: reading them costs less than opening the
            # digest cache would (an sqlite import), so none is used
            with Digests(None) as digests:
                ran["config"] = config_section(loader, project, digests)
        ran["inputs"] = []
        parent = run_section.parent_of(run_id)
        if parent is not None:
            store["parent"] = parent
        started = Started()
        # Under way until an end hook says otherwise: KeyboardInterrupt (and SIGTERM/SIGHUP,
        # made exceptions while the run lasts) skips both end hooks, and Kedro still saves
        # the store on its way out (the save then ends the run, gitprov.model.run.close).
        section = run_section.section(
            INTERRUPTED,
            started,
            ran=ran,
            ended={
                "nodes": {"total": len(pipeline.nodes), "completed": [], "failed": []},
                "failed_node": None,
                "datasets_saved": [],
                "outputs": [],
            },
            finished=False,
        )
        journal = _journals() / run_id
        journal.touch()
        store["run"] = section
        run = self._runs[run_id] = _Run(store, section, started, catalog, project, journal)
        store.before_save(run.under_way)
        weakref.finalize(store, self._forget, run_id)

    def _forget(self, run_id: str) -> None:
        """The store of ``run_id`` is gone: nothing of its run can be recorded any more."""
        run = self._runs.pop(run_id, None)
        if run is not None:
            run.enclosing.leave()

    def _abandoned(self) -> None:
        """Runs of this thread that a Ctrl-C left without an end hook (in a notebook,
        whose session lives on) enclose no later run."""
        for run in self._runs.values():
            if run.thread == threading.get_ident() and run.pid == os.getpid():
                run.enclosing.leave()

    @hook_impl
    def after_node_run(self, node: Node, run_id: str, inputs: dict[str, Any]) -> None:
        self._current.run_id = run_id  # this thread's dataset saves come next
        run = self._local_run(run_id)
        if run is not None:
            run.completed.append(node.name)
            run.load(inputs)
        else:
            _append_to_journal(run_id, "completed", node.name, *inputs)

    @hook_impl
    def on_node_error(
        self, error: Exception, node: Node, run_id: str, inputs: dict[str, Any]
    ) -> None:
        run = self._local_run(run_id)
        if run is not None:
            run.fail(node.name, error_of(error))
            run.load(inputs)
        else:
            described = error_of(error)
            _append_to_journal(
                run_id, "failed", node.name, described["type"], described["message"], *inputs
            )

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
            _save_unless_closed(run.session_id)

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any]) -> None:
        run = self._end(run_params)
        if run is not None:
            run.finish(FAILED)
            run.unsaved(error_of(error))
            if run.section["error"] is None:
                run.section["error"] = error_of(error)
            _save_unless_closed(run.session_id)

    def _end(self, run_params: dict[str, Any]) -> _Run | None:
        session_id = run_params.get("run_id") or run_params.get("session_id")
        run = self._runs.pop(str(session_id), None) if session_id else None
        if run is None or run.pid != os.getpid():
            return None
        run.catch.release()
        run.enclosing.leave()
        return run


def _save_unless_closed(session_id: str) -> None:
    """Save the record now unless Kedro's ``kedro run`` started the session: that command
    closes it (and so saves it) right after the pipeline, any other session may never be
    closed (``kedro ipython``, a notebook, a script that exits without ``close()``)."""
    store = live_store(session_id)
    if store is None:
        return
    cli = store.get("cli")
    if isinstance(cli, dict) and cli.get("command_name") == "run":
        return
    store.save()


#: The object the ``kedro.hooks`` entry point names.
hooks = GitprovHooks()
