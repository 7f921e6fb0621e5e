"""The one place that turns refusals into RFC 9457 problem details."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg
from eventsourcing import persistence
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ledger.errors import Conflict, Forbidden, Invalid, LedgerError, NotFound, Unauthenticated
from ledger.projections.database import ProjectionUnavailable
from ledger.writer import WriterBusy

log = logging.getLogger("ledger.api")

PROBLEM_TYPE = "https://behavior-ledger.example/problems/"
TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Unavailable",
}


# "The event store is unavailable": the database went away, cannot be reached, or is
# too busy to answer in time. PEP 249 calls these OperationalError / InterfaceError:
# eventsourcing wraps the drivers' errors in its own classes after its retries are
# spent; the personal-data key store uses psycopg and sqlite3 directly. psycopg_pool's
# PoolTimeout, TooManyRequests and PoolClosed are psycopg.OperationalError subclasses,
# and so are a PostgreSQL lock timeout and a server shutting down. For SQLite this is
# "database is locked" (and a full or unreadable disk). Integrity, programming and
# data errors are not here: they are bugs, and stay 500.
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (
    persistence.OperationalError,
    persistence.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
    WriterBusy,
)
# Seconds a client should wait before retrying: a restarted PostgreSQL is usually back
# within seconds, and the connection pools reconnect on their own.
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_DETAIL = "the event store is unavailable; retry later"


class Problem(Exception):
    """An HTTP-level refusal that is not a domain rule (400, 413, 415, 429, 503)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


# The problem type of a status when no rule names a more specific one: one spelling for
# every kind (a 404 from routing and a domain NotFound are both `not-found`).
CODES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid",
    429: "too-many-requests",
    500: "internal-error",
    503: "unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    errors = errors or []
    body = {
        "type": PROBLEM_TYPE + (code or CODES.get(status, str(status))),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        # The input a refusal is about, where there is one (the first, when several).
        "field": next((e.get("field") for e in errors if e.get("field")), None),
        "errors": errors,
    }
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


# The one table from a kind of refusal to its HTTP status; domain-named refusals
# (AllowanceExceeded, SlotTaken, ...) are answered with the status of their kind.
STATUS_OF: dict[type[LedgerError], int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Invalid: 422,
    Conflict: 409,
}


def status_of(error: LedgerError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return 400


def refusal_response(error: LedgerError) -> JSONResponse:
    replayed = {"Idempotent-Replayed": "true"} if error.replayed else None
    return problem(
        status_of(error), error.detail, code=error.code, errors=error.errors, headers=replayed
    )


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic errors as {field, message}, without echoing the (possibly huge) input."""
    out = []
    for error in errors:
        location = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        out.append({"field": ".".join(location) or None, "message": str(error.get("msg"))})
    return out


def _allowed(app: FastAPI, request: Request) -> list[str]:
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def _refused(_: Request, error: LedgerError) -> JSONResponse:
        return refusal_response(error)

    @app.exception_handler(Problem)
    async def _problem(_: Request, error: Problem) -> JSONResponse:
        return problem(error.status, error.detail, headers=error.headers)

    @app.exception_handler(ProjectionUnavailable)
    async def _projection_unavailable(_: Request, error: ProjectionUnavailable) -> JSONResponse:
        # The projector is retrying; commands are still accepted meanwhile.
        return problem(
            503,
            f"{error}; commands are still accepted",
            code="projections-unavailable",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return problem(
            422,
            "the request is not valid",
            code="invalid",
            errors=validation_errors(error.errors()),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = getattr(error, "headers", None)
        if error.status_code == 405:
            # Starlette names only the first route of the path; a path can have several
            # (POST /v1/missions is a command, GET /v1/missions a list).
            headers = {**(headers or {}), "Allow": ", ".join(_allowed(app, request))}
        return problem(error.status_code, str(error.detail), headers=headers)

    async def _store_unavailable(_: Request, error: Exception) -> JSONResponse:
        # One line for the operator; the client gets neither the driver's text (host,
        # port, paths) nor a stack trace. The cause is the driver error when wrapped.
        cause = error.__cause__ or error
        text = " ".join(str(cause).split())[:300]
        log.warning("event store unavailable: %s: %s", type(cause).__name__, text)
        return problem(
            503,
            UNAVAILABLE_DETAIL,
            code="store-unavailable",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    # Starlette picks a handler by the exception's class hierarchy, so subclasses
    # (PoolTimeout, ConnectionUnavailableError, ...) land here too.
    for cls in STORE_UNAVAILABLE:
        app.add_exception_handler(cls, _store_unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        # Reached only by a bug: answer a problem document, never a stack trace.
        return problem(500, "unexpected error; it has been logged")
