"""``GitSessionStore``: Kedro's ``SESSION_STORE_CLASS`` that keeps sessions in git.

Kedro builds the store with ``path=<project>/sessions`` and ``session_id=<id>`` (plus
``SESSION_STORE_ARGS``), fills it as a dict while the session runs and calls ``save()``
when the session closes. Everything that can go wrong with the repository is checked in
``__init__``, so a misconfigured project fails before its pipeline runs, not after.

The repository recorded is the one holding the project's code, whatever folder the run
was started from: a relative ``path`` (as users write in ``SESSION_STORE_ARGS``) is taken
from the project, and a ``path`` in another repository is refused.

Kedro's logging shows only its own INFO lines, so a Kedro session's first record is named
on stderr in one line; a store that cannot be built ends ``kedro run`` with one line too,
not a traceback whose last line is the message (:func:`_one_line_at_exit`).
"""

from __future__ import annotations

import logging
import sys
import weakref
from collections import UserDict
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from gitprov.errors import GitProvError, NotAGitRepositoryError, SessionNotFoundError, option_style
from gitprov.git import Git
from gitprov.session import Session
from gitprov.session import logger as session_logger

#: The stores of the sessions alive in this process, by session id, for the plugin's hooks
#: (Kedro hands hooks the session id, never the store). Weak: an entry lives exactly as
#: long as its session holds the store, through the ``save()`` Kedro calls after the hooks.
_LIVE: weakref.WeakValueDictionary[str, GitSessionStore] = weakref.WeakValueDictionary()


def live_store(session_id: str) -> GitSessionStore | None:
    """The store of the live session ``session_id`` in this process, if there is one."""
    return _LIVE.get(session_id)


try:  # Kedro's settings validator requires a BaseSessionStore subclass.
    from kedro.framework.session.abstract_session import AbstractSession
    from kedro.framework.session.store import BaseSessionStore as _Base
except ImportError:  # pragma: no cover - exercised by the no-Kedro test environment
    AbstractSession = None  # type: ignore[assignment,misc]

    class _Base(UserDict):  # type: ignore[no-redef,type-arg]
        """The same contract as Kedro's base class, for use without Kedro."""

        def __init__(self, path: str, session_id: str) -> None:
            self._path = path
            self._session_id = session_id
            super().__init__(self.read())

        def read(self) -> dict[str, Any]:
            return {}

        def save(self) -> None:
            return None


def _kedro_project(session_id: str) -> Path | None:
    """The project of the Kedro session building this store, if a session is.

    Kedro 1.x builds the store inside ``KedroSession.__init__`` (``_init_store``), once the
    session's ``session_id`` and resolved ``_project_path`` are set, and passes the store
    neither. That path is the one Kedro reads the project's configuration from and runs
    its own ``git rev-parse`` in, so the store is found in the callers' frames: the
    session whose id is ours. A store built any other way (to read a record, or by
    another framework) finds none.
    """
    if AbstractSession is None:  # pragma: no cover - no Kedro installed
        return None
    frame: FrameType | None = sys._getframe(2)  # GitSessionStore.__init__'s caller
    while frame is not None:
        session = frame.f_locals.get("self")
        if isinstance(session, AbstractSession) and getattr(session, "session_id", None) == (
            session_id
        ):
            project = getattr(session, "_project_path", None)
            return Path(project) if project is not None else None
        frame = frame.f_back
    return None


def _work_tree(path: Path) -> Path | None:
    """The top folder of the work tree holding ``path``; ``None`` outside any."""
    try:
        return Git.discover(path).root
    except NotAGitRepositoryError:
        return None


def _refuse_another_repository(project: Path, path: Path) -> None:
    """Fail before the run when the store's ``path`` would record another repository's
    commit than the one holding the project's code."""
    project_root = Git.discover(project).root  # outside git: the error says `git init`
    store_root = _work_tree(path)
    if store_root != project_root:
        where = f"in the git repository {store_root}" if store_root else "in no git repository"
        raise GitProvError(
            f"the session store path {path} is {where}, but the Kedro project "
            f"{project} is in {project_root}: its runs would be recorded with the "
            f"wrong commit. Leave `path` out of SESSION_STORE_ARGS in settings.py (it "
            f"defaults to <project>/sessions) or give a path inside the project, such "
            f'as "sessions".'
        )


class GitSessionStore(_Base):
    """A Kedro session store whose records live on ``refs/provenance/sessions``.

    ``options`` (``SESSION_STORE_ARGS``) are :class:`gitprov.session.Session`'s, listed in
    :data:`gitprov.session.OPTIONS`. Built by a Kedro session, a relative ``path`` is taken
    from the project, and must be in the project's repository.
    """

    def __init__(self, path: str, session_id: str, **options: Any) -> None:
        self._project = _kedro_project(session_id)
        try:
            with option_style("kedro" if self._project else "python"):
                self._open(path, session_id, options)
        except GitProvError as exc:
            if self._project is not None:  # Kedro's command line would bury it
                _one_line_at_exit(exc)
            raise

    def _open(self, path: str, session_id: str, options: dict[str, Any]) -> None:
        """Check the repository, start the session and read back its record, if any."""
        if self._project is not None:
            path = str(self._project / path)  # an absolute path stays as it is
            _refuse_another_repository(self._project, Path(path))
        options.setdefault("replace", True)  # Kedro saves its own session again as it goes
        self._session = Session(path, session_id, **options)
        self._path = str(path)
        self._session_id = self._session.session_id
        self._announced = False
        _LIVE[self._session_id] = self
        self._constructing = True
        super().__init__(self._path, self._session_id)
        self._constructing = False
        self._before_save: list[Callable[[], object]] = []

    @property
    def path(self) -> str:
        return self._path

    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def git(self) -> Git:
        """The repository the records are written to."""
        return self._session.git

    def read(self) -> dict[str, Any]:
        """The stored record; ``SessionNotFoundError`` if there is none (but a new
        session under construction simply starts empty)."""
        try:
            return self._session.read()
        except SessionNotFoundError:
            if self._constructing:
                return {}
            raise

    def before_save(self, fill: Callable[[], object]) -> None:
        """Call ``fill`` before every save: the plugin completes a run that is still under
        way when Kedro saves (a Ctrl-C skips its end hooks)."""
        self._before_save.append(fill)

    def save(self, data: dict[str, Any] | None = None) -> None:
        """Capture the git state now and write this session's record (replacing any)."""
        if data:
            self.update(data)
        for fill in self._before_save:
            fill()
        self._check_project_path()
        self._session.save(self.data)
        self._announce()

    def _announce(self) -> None:
        """Name the session a Kedro run recorded, once, where the user sees it: Kedro's
        logging configurations show only ``kedro``'s INFO lines, hiding the session's own
        (which is logged instead when enabled)."""
        if self._announced or self._project is None or not self._session.recorded:
            return
        self._announced = True
        if not session_logger.isEnabledFor(logging.INFO):
            print(self._session.recorded_line(), file=sys.stderr, flush=True)

    def _check_project_path(self) -> None:
        """Refuse to record a ``project_path`` (Kedro's, put in at session start) that lies
        in another repository than the one recorded: only a store built outside a Kedro
        session could get there, and its record would name the wrong commit."""
        value = self.data.get("project_path")
        if value is None:
            return
        project = Path(str(value))
        if project == self._project or not project.is_dir():
            return  # checked when built; or a record read back from a folder now gone
        project_root = _work_tree(project)
        recorded = self._session.git.root
        if project_root != recorded:
            where = f"in {project_root}" if project_root else "in no git repository"
            raise GitProvError(
                f"session {self._session_id} was not recorded: its project_path {project} "
                f"is {where}, but this store records the repository {recorded} (its path "
                f"is {self._path}), whose commit is not the code that ran. Build the store "
                f"with a path inside the project (in a Kedro project: leave `path` out of "
                f"SESSION_STORE_ARGS)."
            )


def _one_line_at_exit(error: GitProvError) -> None:
    """Should ``error`` end the process (``kedro run``: Kedro wraps it in a ``ValueError``
    that its command line lets through), print ``gitprov: error: ...`` instead of the
    traceback, whose last line it is; any other uncaught exception goes to the hook that
    was there before (Kedro's rich one)."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        chain: list[BaseException] = []
        cause: BaseException | None = value
        while cause is not None and cause not in chain:  # a chain may loop
            chain.append(cause)
            cause = cause.__cause__ or cause.__context__
        if error in chain:
            print(f"gitprov: error: {error}", file=sys.stderr, flush=True)
        else:
            previous(kind, value, tb)

    sys.excepthook = hook
