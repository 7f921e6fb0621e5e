"""The ledger's web app: the API (ledger.api) and the dashboard (ledger.dashboard) on
one FastAPI application, with the operations routes (/healthz, /metrics, the analysts'
snapshot). Neither half imports the other: what they share is ledger.web."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from consumers.snapshots import Snapshots
from ledger.api import catalog, commands, drift, queries, webhooks
from ledger.clock import Clock
from ledger.commands.webhooks import RegisterWebhook
from ledger.dashboard import pages
from ledger.monitoring import HttpMetrics
from ledger.projections.projection import Projection
from ledger.service import Ledger
from ledger.web import problems
from ledger.web.access import AccessLog
from ledger.web.auth import FEED_ROLES, Authenticator, RateLimiter
from ledger.web.headers import DocsHeaders
from ledger.web.reading import reader
from ledger.web.tables import CsvTables
from ledger.webhooks.urls import check_url
from ledger.writer import Writer

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
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}
RESPONSES: dict[int | str, Any] = {
    status: {
        "description": problems.TITLES[status],
        "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        **({"headers": RETRY_AFTER} if status in (429, 503) else {}),
    }
    for status in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
}
# Swagger UI's Authorize button: every route takes a bearer token (an API key, or the
# operator token for POST /v1/tenants) except the operations routes below.
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (lk_...); POST /v1/tenants takes the operator token.",
    }
}
PUBLIC = {"/healthz", "/metrics"}
# How every ledger HTTP server runs uvicorn. uvicorn believes X-Forwarded-For from
# 127.0.0.1 by default; here only LEDGER_TRUSTED_PROXIES are believed (create_app).
SERVER_OPTIONS: dict[str, Any] = {"proxy_headers": False, "server_header": False}


def _document_security(schema: dict[str, Any]) -> None:
    """Bearer auth everywhere but PUBLIC; `Idempotency-Key` on every command."""
    schema["components"]["securitySchemes"] = SECURITY_SCHEMES
    schema["security"] = [{"bearer": []}]
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if path in PUBLIC:
                operation["security"] = []
            if method in ("post", "put") and path.startswith("/v1/") and "snapshot" not in path:
                operation.setdefault("parameters", []).append(commands.IDEMPOTENCY_HEADER)


def create_app(
    ledger: Ledger,
    projection: Projection,
    writer: Writer,
    operator_token: str,
    *,
    metrics: HttpMetrics | None = None,
    rate_limit: float = 100.0,
    clock: Clock | None = None,
    snapshots: Snapshots | None = None,
    auth_failure_rate: float = 1.0,
    operator_rate: float = 2.0,
    trusted_proxies: str = "",
    webhook_allow_private: bool = False,
) -> FastAPI:
    """The app over one process's ledger, projection and single writer (ledger.bootstrap
    assembles them; the app closes the writer when it shuts down)."""
    clock = clock or ledger.clock
    metrics = metrics or HttpMetrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        writer.close()  # the last group is committed and answered before the store closes

    # Swagger UI and ReDoc from the package's own assets: /docs works offline, no CDN.
    app = FastAPIOffline(
        lifespan=lifespan,
        title="Behavior ledger",
        version="1.0",
        description="Missions, value tags, recognitions, campaigns and strategy "
        "alignment, as an event-sourced ledger.",
    )
    auth = Authenticator(
        ledger, operator_token, RateLimiter(rate_limit), auth_failure_rate, operator_rate
    )
    problems.install(app)
    commands.install(
        app,
        ledger,
        writer,
        auth,
        metrics.command,
        RESPONSES,
        {RegisterWebhook: lambda body: check_url(body["url"], webhook_allow_private)},
    )
    webhooks.install(app, ledger, auth, RESPONSES)
    answer = reader(projection, auth, ledger.store.max_position)
    queries.install(app, answer, clock, projection.decrypt, RESPONSES)
    catalog.install(app, answer, clock, projection.decrypt, RESPONSES)
    drift.install(app, answer, clock, RESPONSES, ledger.store)
    pages.install(app, answer, clock, projection.decrypt, ledger.store)

    app.add_middleware(CsvTables)
    app.add_middleware(DocsHeaders)
    app.add_middleware(AccessLog, observe=metrics.request)
    if trusted_proxies.strip():
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted_proxies)

    @app.post("/v1/projections/snapshot", tags=["operations"], responses=RESPONSES)
    def publish_snapshot(request: Request, response: Response) -> dict[str, Any]:
        """Publish the analysts' DuckDB snapshot now (admin, analyst).

        Copies are shared and spaced, whoever asks: at most one a second, and never more
        often than copying at most a tenth of the time allows. A request in between, or
        with nothing changed, answers the snapshot there is (`copied: false`, and with
        `Retry-After` when a newer one can be made). The answer names the file (beside
        the projections), never a server path.
        """
        auth.caller(request, FEED_ROLES)
        if snapshots is None:
            raise problems.Problem(409, "this process publishes no snapshot")
        published = snapshots.request()
        if published.retry_after:
            response.headers["Retry-After"] = str(published.retry_after)
        return {
            "snapshot": published.path.name,
            "position": published.position,
            "copied": published.copied,
        }

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, Any]:
        """Liveness: the process answers and its event store is reachable.

        No position: the platform-wide event count is the operator's (see /metrics).
        """
        ledger.store.max_position()
        return {
            "status": "ok",
            "projections": "catching up" if projection.catching_up else "ready",
        }

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus() -> Response:
        """Prometheus text metrics, projection lag included (events and seconds)."""
        metrics.scrape(ledger.store, projection.applied_position(), clock.now(), snapshots)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                commands.SCHEMA_DEFS
            )
            _document_security(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
