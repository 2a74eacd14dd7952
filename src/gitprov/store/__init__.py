"""Where records live: the records ref, the notes index, the spool of unsaved records,
forgetting.
"""
