"""Carrying records between clones: which remote (``remote``), the network (``transport``),
one sync at a time (``lock``), the merge's rules on plain mappings (``merge``), tombstones
across clones (``purge``), what a remote may hold (``untrusted``), and the orchestrator that
reads the store, merges and writes (``engine``)."""
