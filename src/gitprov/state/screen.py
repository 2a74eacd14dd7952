"""What a snapshot leaves out, decided before git hashes a single byte of it.

A snapshot travels to every clone (the pre-push hook, ``gitprov sync``) and a pushed object
cannot be called back, so every file a snapshot would store that differs from HEAD is
screened first:

1. by name: credential files (:data:`SECRET_NAMES`), then the user's own patterns (a
   ``.gitprovignore`` at the repository root, then ``snapshot_exclude``), all in gitignore
   syntax and matched as one list by ``pathspec``, so a user's ``!.env.example`` can
   re-admit a name the built-in list leaves out (its content is still screened);
2. by size: an untracked file over ``snapshot_max_bytes``, then, largest first, whatever
   would take the snapshot over ``snapshot_max_total_bytes``;
3. by content, with detect-secrets' plugins (private keys, cloud keys, tokens, keyword
   assignments, high-entropy strings) and, for its guesses, its false-positive filters,
   including its ``pragma: allowlist secret`` comment. Binary files are screened by name
   only, as detect-secrets does; a text file too large to sweep is left out.

detect-secrets reads line by line through dependency injection, about 0.5 ms a line (20 s
for a 1 MB file). So its plugins first sweep each file's whole text at regex speed, as
detect-secrets would see it (raw, and through its INI/YAML transformers); only a guess of
the sweep is scanned line by line by detect-secrets itself, which decides. detect-secrets
(70 ms to import, most of it ``requests``) and pathspec (14 ms) are imported only when a
save has changed files to screen: a clean save costs nothing more.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import re
import stat
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from gitprov.model.sections import Skipped

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

#: Untracked files larger than this are not put in a snapshot (``snapshot_max_bytes``).
MAX_UNTRACKED_BYTES = 10 * 1024 * 1024
#: What the changed files of one snapshot may add up to (``snapshot_max_total_bytes``).
MAX_TOTAL_BYTES = 100 * 1024 * 1024
#: The user's own patterns, gitignore syntax, at the repository root.
IGNORE_FILE = ".gitprovignore"

#: Names that hold credentials wherever they are (gitignore syntax). ``credentials*``
#: covers Kedro's ``conf/<env>/credentials.yml``.
SECRET_NAMES = (
    ".env*",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.ppk",
    "*.jks",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    "credentials*",
    "secrets*",
    "kubeconfig*",
    "**/.kube/config",
)

#: detect-secrets plugins not used: a public IP address is not a credential.
PLUGINS_OFF = frozenset({"IPPublicDetector"})
#: detect-secrets plugins that guess (from a variable's name, a string's entropy): only
#: detect-secrets' line-by-line scan, with its filters (``x = f(...)`` references,
#: ``${TEMPLATES}``, ids, ``pragma: allowlist secret``), confirms what they find. The others
#: match a credential's own format (a private key block, ``AKIA...``, ``ghp_...``,
#: ``xox?-...``, ``sk-...``, ``://user:pass@``): that is final, because the same filters
#: would drop ``client = OpenAI(api_key="sk-...")`` as a reference.
HEURISTIC = frozenset({"KeywordDetector", "Base64HighEntropyString", "HexHighEntropyString"})
#: Files larger than this that the sweep flags are left out without detect-secrets' line-by-
#: line check (which would take seconds), and their INI/YAML readings are not swept.
CONFIRM_MAX_BYTES = 64 * 1024
#: Text files larger than this are left out without a sweep: it reads about 1.5 MB a second
#: (detect-secrets' patterns for IBM and Cloudant keys are slow), and a text file that large
#: is data, not code.
SWEEP_MAX_BYTES = 1024 * 1024
#: As git and detect-secrets do, a NUL byte in a file's first bytes marks it binary: only its
#: name is screened.
BINARY_PROBE_BYTES = 8000

#: The start of every reason the screen gives for a secret-looking file.
SUSPECT = "looks like a secret"


@dataclass(frozen=True)
class Rules:
    """A session's screening options."""

    exclude: tuple[str, ...] = ()
    max_file_bytes: int = MAX_UNTRACKED_BYTES
    max_total_bytes: int = MAX_TOTAL_BYTES


DEFAULT_RULES = Rules()


@dataclass(frozen=True)
class Candidate:
    """A changed path a snapshot would store (``tracked``: it differs from HEAD's)."""

    path: str
    tracked: bool


@dataclass(frozen=True)
class Skip:
    path: str
    tracked: bool
    reason: str
    size: int | None = None

    def entry(self) -> Skipped:
        """As listed in ``git.snapshot_skipped`` (path, size when it was the reason, reason)."""
        sized = {} if self.size is None else {"size": self.size}
        return cast(Skipped, {"path": self.path, **sized, "reason": self.reason})


def screen(root: Path, candidates: Sequence[Candidate], rules: Rules) -> list[Skip]:
    """The candidates to leave out, and why. Paths that are not files (deleted, a nested
    repository, a submodule) pass: git stores no content for them."""
    files: list[tuple[Candidate, int, bool]] = []  # (candidate, size, is a regular file)
    for cand in candidates:
        try:
            st = os.lstat(root / cand.path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
            files.append((cand, st.st_size, stat.S_ISREG(st.st_mode)))
    if not files:
        return []
    skipped: list[Skip] = []
    names = _Names(root, rules.exclude)
    sized: list[tuple[Candidate, int, bool]] = []
    for cand, size, regular in files:
        why = names.why(cand.path)
        if why is not None:
            skipped.append(Skip(cand.path, cand.tracked, why))
        elif not cand.tracked and size > rules.max_file_bytes:
            reason = f"untracked file over the {rules.max_file_bytes}-byte snapshot limit"
            skipped.append(Skip(cand.path, False, reason, size))
        else:
            sized.append((cand, size, regular))
    # largest left out first: the small files (code) are what reproduces a run
    total = 0
    readable: list[tuple[Candidate, int]] = []
    for cand, size, regular in sorted(sized, key=lambda f: (f[1], f[0].path)):
        if total + size > rules.max_total_bytes:
            reason = (
                f"over the {rules.max_total_bytes}-byte budget of the snapshot's changed "
                f"files (snapshot_max_total_bytes; the largest are left out first)"
            )
            skipped.append(Skip(cand.path, cand.tracked, reason, size))
            continue
        total += size
        if regular:
            readable.append((cand, size))
    skipped += _contents(root, readable)
    return sorted(skipped, key=lambda s: s.path)


class _Names:
    """Built-in secret names, ``.gitprovignore`` and ``snapshot_exclude``, as one list."""

    def __init__(self, root: Path, exclude: Sequence[str]) -> None:
        from pathspec import GitIgnoreSpec

        try:
            own = (root / IGNORE_FILE).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            own = []
        sources = [
            (f"{SUSPECT} (name matches {{}})", list(SECRET_NAMES)),
            (f"excluded by {IGNORE_FILE} ({{}})", own),
            ("excluded by snapshot_exclude ({})", list(exclude)),
        ]
        # one list, read in order, so that a user's `!pattern` can undo a built-in one
        self._lines = [(why, line) for why, lines in sources for line in lines]
        self._spec: GitIgnoreSpec = GitIgnoreSpec.from_lines(line for _, line in self._lines)

    def why(self, path: str) -> str | None:
        result = self._spec.check_file(path)
        if not result.include or result.index is None:
            return None
        why, line = self._lines[result.index]
        return why.format(line.strip())


def _read(path: Path, size: int) -> bytes | None:
    """The file's bytes, or only the first ones when it is too large to sweep (``None``:
    gone since status, which update-index then sees too)."""
    try:
        with path.open("rb") as fh:
            return fh.read(size if size <= SWEEP_MAX_BYTES else BINARY_PROBE_BYTES)
    except OSError:
        return None


def _contents(root: Path, files: Iterable[tuple[Candidate, int]]) -> list[Skip]:
    """The text files detect-secrets finds a secret in, or too large to sweep."""
    texts: list[tuple[Candidate, int, str]] = []
    skipped = []
    for cand, size in files:
        data = _read(root / cand.path, size)
        if data is None or b"\0" in data[:BINARY_PROBE_BYTES]:
            continue
        if size > SWEEP_MAX_BYTES:
            why = f"text file over {SWEEP_MAX_BYTES} bytes, too large to screen for secrets"
            skipped.append(Skip(cand.path, cand.tracked, why, size))
        else:  # not UTF-8: read as U+FFFD, so that the tokens around those bytes show
            texts.append((cand, size, data.decode("utf-8", "replace")))
    if not texts:
        return skipped
    with _LOCK:  # detect-secrets keeps its settings in globals
        detector = _detector()
        doubtful: dict[str, tuple[Candidate, str]] = {}
        for cand, size, text in texts:
            try:
                hit = detector.sweep(cand.path, text, deep=size <= CONFIRM_MAX_BYTES)
            except Exception as exc:  # a file that cannot be screened is not stored
                skipped.append(Skip(cand.path, cand.tracked, f"could not be screened ({exc})"))
                continue
            if hit is None:
                continue
            plugin, heuristic = hit
            if heuristic and size <= CONFIRM_MAX_BYTES:
                doubtful[cand.path] = (cand, plugin)
                continue
            unchecked = (
                f"; over {CONFIRM_MAX_BYTES} bytes, so not checked line by line"
                if heuristic
                else ""
            )
            why = f"{SUSPECT} (detect-secrets {plugin}{unchecked})"
            skipped.append(Skip(cand.path, cand.tracked, why))
        found = detector.confirm(root, list(doubtful))
        for path, plugin in found.items():
            cand = doubtful[path][0]
            skipped.append(Skip(path, cand.tracked, f"{SUSPECT} (detect-secrets {plugin})"))
    return skipped


_LOCK = threading.Lock()


class _Detector:
    """detect-secrets' plugins, with and without its per-line filters."""

    def __init__(self) -> None:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins import keyword
        from detect_secrets.plugins.base import BasePlugin

        known: Mapping[str, type[BasePlugin]] = get_mapping_from_secret_type_to_class()
        classes = [cls for cls in known.values() if cls.__name__ not in PLUGINS_OFF]
        # fixed formats first: their finding is final
        self.plugins = [cls() for cls in sorted(classes, key=lambda c: c.__name__ in HEURISTIC)]
        # Every KeywordDetector pattern needs one of its keywords, case-insensitively: a
        # search for them in the case-folded text is 50x faster than its patterns on a file
        # with none (the usual case), which then cannot match.
        self.keywords = re.compile("|".join(keyword.DENYLIST))
        # secret_type is a class attribute, typed by detect-secrets as an abstract property
        self.names: dict[str, str] = {str(cls.secret_type): cls.__name__ for cls in classes}

    def sweep(self, path: str, text: str, *, deep: bool) -> tuple[str, bool] | None:
        """The first plugin that finds anything in ``text`` (whole, not line by line, and,
        when ``deep``, in detect-secrets' INI and YAML readings of it), and whether it is
        one of the :data:`HEURISTIC` ones, whose finding only its line-by-line scan can
        confirm. A secret of a fixed format is found before any heuristic is asked."""
        from detect_secrets.plugins.keyword import KeywordDetector
        from detect_secrets.transformers import get_transformed_file

        readings = [text]
        if deep:
            for eager in (False, True):
                stream = io.StringIO(text)
                stream.name = path
                lines = get_transformed_file(stream, use_eager_transformers=eager)  # type: ignore[arg-type]
                if lines:
                    readings.append("\n".join(lines))
        # a notebook's cells, as their code reads (JSON escapes every quote): a finding
        # there is final, since detect-secrets' own scan of the file sees only the JSON
        notebook = _notebook_code(text) if path.endswith(".ipynb") else None
        if notebook is not None:
            readings.append(notebook)
        folded = [reading.casefold() for reading in readings]
        for plugin in self.plugins:
            if isinstance(plugin, KeywordDetector) and not any(map(self.keywords.search, folded)):
                continue
            hits = [r for r in readings if plugin.analyze_line(filename=path, line=r)]
            if hits:
                name = type(plugin).__name__
                in_json = any(hit is not notebook for hit in hits)
                return name, name in HEURISTIC and in_json
        return None

    def confirm(self, root: Path, paths: Sequence[str]) -> dict[str, str]:
        """detect-secrets' own scan of each file, filters and all: the plugin of its first
        finding, for the files it finds one in."""
        if not paths:
            return {}
        from detect_secrets.core.scan import scan_file
        from detect_secrets.settings import transient_settings

        found: dict[str, str] = {}
        plugins = [{"name": name} for name in self.names.values()]
        with transient_settings({"plugins_used": plugins}):
            for path in paths:
                for secret in scan_file(str(root / path)):
                    found[path] = self.names.get(secret.type, secret.type)
                    break
        return found


def _notebook_code(text: str) -> str | None:
    """The sources and text outputs of a Jupyter notebook's cells, one after another;
    ``None`` when ``text`` is no notebook."""
    try:
        cells = json.loads(text).get("cells")
    except (ValueError, AttributeError):
        return None
    if not isinstance(cells, list):
        return None
    parts: list[str] = []
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        pieces = [cell.get("source")]
        pieces += [out.get("text") for out in cell.get("outputs") or [] if isinstance(out, dict)]
        for piece in pieces:
            if isinstance(piece, list):
                parts.append("".join(str(line) for line in piece))
            elif isinstance(piece, str):
                parts.append(piece)
    return "\n".join(parts)


@functools.cache
def _detector() -> _Detector:
    """Import detect-secrets once, undoing the one global it changes on import: it routes
    every Python warning of the process into logging."""
    before = warnings.showwarning
    detector = _Detector()
    if warnings.showwarning is not before:
        logging.captureWarnings(False)
    return detector
