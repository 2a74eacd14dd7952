"""The record model: its typed sections (``sections``), the ``run:`` builder (``run``), the
YAML document (``document``), what is read of one (``limits``), the digests it lists
(``digests``), tombstones, redaction of its values, and its JSON Schema.

Named ``model`` rather than ``record`` because ``gitprov.record`` is the public function
that records a plain run: a subpackage of that name would shadow it.
"""
