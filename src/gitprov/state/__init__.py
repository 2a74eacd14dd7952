"""The state of the code that ran: git status, the snapshot of a dirty tree, the environment,
the dirty policy.
"""
