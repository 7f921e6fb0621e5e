"""The FastAPI application of the ledger."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ledger.api import commands, problems, queries
from ledger.api.auth import FEED_ROLES, Authenticator, RateLimiter
from ledger.clock import Clock
from ledger.projections.projection import Projection
from ledger.service import Ledger

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
RESPONSES: dict[int | str, Any] = {
    status: {
        "description": problems.TITLES[status],
        "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
    }
    for status in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
}


def create_app(
    ledger: Ledger,
    projection: Projection,
    operator_token: str,
    rate_limit: float = 100.0,
    clock: Clock | None = None,
    snapshot: Callable[[], Path | None] | None = None,
) -> FastAPI:
    clock = clock or ledger.clock
    app = FastAPI(
        title="Behavior ledger",
        version="1.0",
        description="Missions, value tags, recognitions, campaigns and strategy "
        "alignment, as an event-sourced ledger.",
    )
    registry = CollectorRegistry()
    requests = Counter(
        "ledger_http_requests_total",
        "HTTP requests",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "ledger_http_request_seconds", "HTTP latency", ["method", "route"], registry=registry
    )
    outcomes = Counter(
        "ledger_commands_total", "Command outcomes", ["command", "outcome"], registry=registry
    )
    lag_events = Gauge(
        "ledger_projection_lag_events", "Events recorded but not yet projected", registry=registry
    )
    lag_seconds = Gauge(
        "ledger_projection_lag_seconds",
        "Age of the oldest event not yet projected",
        registry=registry,
    )

    auth = Authenticator(ledger, operator_token, RateLimiter(rate_limit))
    problems.install(app)
    commands.install(app, ledger, auth, lambda c, o: outcomes.labels(c, o).inc(), RESPONSES)
    queries.install(app, projection, auth, clock, RESPONSES, ledger.store.max_position)

    @app.middleware("http")
    async def measure(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        requests.labels(request.method, name, str(response.status_code)).inc()
        latency.labels(request.method, name).observe(time.perf_counter() - started)
        return response

    @app.post("/v1/projections/snapshot", tags=["operations"], responses=RESPONSES)
    def publish_snapshot(request: Request) -> dict[str, Any]:
        """Publish the analysts' DuckDB snapshot now (admin, analyst)."""
        auth.caller(request, FEED_ROLES)
        if snapshot is None:
            raise problems.Problem(409, "this process publishes no snapshot")
        path = snapshot()
        return {
            "snapshot": str(path) if path else None,
            "position": projection.source_position("store"),
        }

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, Any]:
        """Liveness: the process answers and its stores are reachable."""
        return {"status": "ok", "position": ledger.store.max_position()}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def metrics() -> Response:
        """Prometheus text metrics, projection lag included."""
        head = ledger.store.max_position()
        applied = projection.source_position("store")
        lag_events.set(max(0, head - applied))
        lag_seconds.set(_lag_seconds(ledger, applied, clock) if head > applied else 0)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                commands.SCHEMA_DEFS
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _lag_seconds(ledger: Ledger, applied: int, clock: Clock) -> float:
    nxt = ledger.store.select(applied, 1)
    if not nxt:
        return 0.0
    from ledger.envelope import envelope_of

    envelope = envelope_of(nxt[0])
    if envelope is None:
        return 0.0
    from datetime import datetime

    recorded = datetime.fromisoformat(envelope["recorded_at"].replace("Z", "+00:00"))
    return max(0.0, (clock.now() - recorded).total_seconds())
