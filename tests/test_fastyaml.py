"""The fast record reader's copy of PyYAML's tables, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import yaml

from gitprov.index import fastyaml


def test_the_resolver_table_is_pyyamls() -> None:
    """Plain scalars resolve as PyYAML resolves them only while the copy is the same."""
    ours = {
        first: [(tag, rx.pattern, rx.flags) for tag, rx in found]
        for first, found in fastyaml._RESOLVERS.items()
    }
    theirs = {
        first: [(tag.rpartition(":")[2], rx.pattern, rx.flags) for tag, rx in found]
        for first, found in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    }
    assert ours == theirs
    non_printable = fastyaml._NON_PRINTABLE
    assert non_printable == yaml.reader.Reader.NON_PRINTABLE.pattern


def test_reading_a_record_does_not_import_pyyaml() -> None:
    code = (
        "import sys\n"
        "from gitprov.index.fastyaml import parse_record\n"
        "r = parse_record(b'session_id: s1\\ngit:\\n  dirty: false\\n', 's1', 'ref:s1.yaml')\n"
        "assert r == {'session_id': 's1', 'git': {'dirty': False}}, r\n"
        "print('yaml' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
