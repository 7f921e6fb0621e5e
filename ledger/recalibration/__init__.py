"""Recalibration (RULES.md "Recalibration"): what would bring an under-served value back,
what it would cost exactly, and a range, with its assumption, for how people respond."""
