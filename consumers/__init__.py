"""Long-running processes: the relay (store -> Kafka) and the projector (log -> DuckDB)."""
