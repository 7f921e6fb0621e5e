"""Aggregates: one module each, with their events beside them."""
