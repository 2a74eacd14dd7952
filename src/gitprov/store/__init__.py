"""Where records live: the seam (``api``), the records ref in git (``records``), what a
records tree may hold when it comes from elsewhere (``untrusted``), the notes index
(``notes``), the spool of unsaved records (``spool``), forgetting (``forget``).
"""
