"""Carrying records between clones: remotes, transport, the sync lock and the merge."""
