"""``gitprov report``: one self-contained HTML file an auditor opens, on any machine.

The file holds everything: the runs as JSON in a ``<script type="application/json">`` (every
``<``, ``>`` and ``&`` escaped, non-ASCII as ``\\u`` escapes, so no record can end the
element), one stylesheet and one script, both inline and allowed by their hashes in a
Content-Security-Policy that forbids every other load (no network, no plugin, no form).

Rendering stack: plain JavaScript and SVG drawn by the page's own small script
(``page.js``), no charting library. The views are a table, dots on a time line and one
scatter plot: a library would add hundreds of kilobytes, a license and a supply chain to
audit, for three shapes that take a hundred lines to draw. Drawing in the page, not on the
server, keeps one copy of the data (the plot draws whichever numeric key the reader picks,
from the same JSON the table reads) and lets the table, time line and plot follow the
filter. The page builds its DOM with ``textContent`` and attributes only, never
``innerHTML`` from data: records may come from a hostile remote.

Size: each run is embedded once, flattened as ``gitprov compare`` flattens it
(:func:`gitprov.audit.compare.flatten_record`) with its keys interned; a dirty run's code
diff is cut at :data:`~gitprov.report.payload.DIFF_CAP` and the report's diffs at
:data:`~gitprov.report.payload.DIFFS_BUDGET`, each cut saying so in the page. The table shows
200 rows a page: every run is in the file, none is dropped silently.
"""

from __future__ import annotations

from gitprov.report.page import render
from gitprov.report.payload import collect

__all__ = ["collect", "render"]
