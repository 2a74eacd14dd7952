"""Review of records read by their shape (issue 15): what a fetched record may cost."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_PROBE = textwrap.dedent(
    """
    from gitprov.index.extract import skimmed
    from gitprov.index.fastyaml import Shapes, parse_shaped

    # git entries skimming takes out, each before one it keeps: a choice of two ways to
    # match each taken run (laid out as the template's, or as any entries)
    body = "".join(f"  r{n}: v\\n  'k{n}': 1\\n" for n in range(40))
    template = f"session_id: s1\\ngit:\\n{body}z: 1\\n"
    shapes = Shapes()
    for _ in range(2):
        parse_shaped(template.encode(), "s1", "w", skimmed(), shapes)
    assert shapes.known
    # the same lines but the last: the shape is tried, and fails only at the end
    other = template.replace("z: 1\\n", "y: 1\\n")
    parse_shaped(other.encode(), "s1", "w", skimmed(), shapes)
    """
)


def test_a_record_almost_of_a_known_shape_is_read_at_once() -> None:
    """A record of 80 lines that matches a known shape up to its last line must not cost
    more than reading it: each way of matching the runs is not tried again and again
    (two ways each, 40 runs: 2**40 tries)."""
    subprocess.run([sys.executable, "-c", _PROBE], check=True, timeout=30)
