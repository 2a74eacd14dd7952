"""Reading records back: the session log, checkout, diff and verify."""
