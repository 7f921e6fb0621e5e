"""HTTP API: FastAPI app, auth, problem details, idempotency, rate limits."""
