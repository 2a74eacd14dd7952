"""Git itself: the one place that runs git processes (:mod:`~gitprov.git.process`), a located
repository (:mod:`~gitprov.git.repo`), object formats (:mod:`~gitprov.git.objects`), object
and ref reads without a process (:mod:`~gitprov.git.reader`, :mod:`~gitprov.git.reffiles`),
git's write rules (:mod:`~gitprov.git.writing`) and the one retry policy
(:mod:`~gitprov.git.retry`).
"""

from gitprov.git.repo import Git

__all__ = ["Git"]
