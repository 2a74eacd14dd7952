"""Git itself: the one place that runs git processes (:mod:`~gitprov.git.process`), a located
repository (:mod:`~gitprov.git.repo`), object formats (:mod:`~gitprov.git.objects`), object
and ref reads without a process (:mod:`~gitprov.git.reader`, :mod:`~gitprov.git.reffiles`),
git's write rules (:mod:`~gitprov.git.writing`) and the one retry policy
(:mod:`~gitprov.git.retry`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitprov.git.repo import Git

__all__ = ["Git"]


def __getattr__(name: str) -> Any:
    # imported on first use: ``gitprov.git.writing`` (which the ref names read config
    # through) must not cost every command the object code
    if name == "Git":
        from gitprov.git.repo import Git

        return Git
    raise AttributeError(f"module 'gitprov.git' has no attribute {name!r}")
