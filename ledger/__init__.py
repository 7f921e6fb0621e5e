"""Behavior ledger: the event-sourced system of record for value-tagged behavior."""
