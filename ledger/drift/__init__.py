"""The drift watch (RULES.md "Drift watch"): notice the slow leak, raise it once."""
