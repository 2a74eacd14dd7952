"""The record: its typed sections, how it is built, its YAML form, its schema and the redaction
of its values.
"""
