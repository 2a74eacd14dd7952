"""Carrying records between clones: which remote (``remote``), the network (``transport``),
one sync at a time (``lock``), the merge's rules on plain mappings (``merge``), tombstones
across clones (``purge``), and the orchestrator that reads the store, vets what a remote
offers (:mod:`gitprov.store.untrusted`), merges and writes (``engine``)."""
