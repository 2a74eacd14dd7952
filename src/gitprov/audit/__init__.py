"""Reading records back: the session log, checkout and diff, verify, which run made a file."""
