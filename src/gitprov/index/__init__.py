"""The query index: what ``gitprov list``, ``verify``, ``report`` and ``SessionLog.query``
read instead of parsing every record (derived from the records refs, never their source)."""
