"""Kedro integration: the session store (and, with the ``kedro`` extra, its plugin parts)."""
