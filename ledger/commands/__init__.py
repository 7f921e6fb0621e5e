"""Commands: pydantic models and one handler each, grouped by domain area."""
