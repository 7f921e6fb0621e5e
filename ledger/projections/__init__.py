"""Read side: DuckDB tables rebuilt from the event history."""
