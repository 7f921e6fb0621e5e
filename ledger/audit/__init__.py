"""Audit: explanations, tamper evidence, re-decisions, what-ifs, gaming detection."""
