"""The one place that turns refusals into RFC 9457 problem details."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import LedgerError

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


class Problem(Exception):
    """An HTTP-level refusal that is not a domain rule (400, 413, 415, 429, 503)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "type": PROBLEM_TYPE + (code or str(status)),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


def refusal_response(error: LedgerError) -> JSONResponse:
    return problem(error.status, error.detail, code=error.code, errors=error.errors)


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic errors as {field, message}, without echoing the (possibly huge) input."""
    out = []
    for error in errors:
        location = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        out.append({"field": ".".join(location) or None, "message": str(error.get("msg"))})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def _refused(_: Request, error: LedgerError) -> JSONResponse:
        return refusal_response(error)

    @app.exception_handler(Problem)
    async def _problem(_: Request, error: Problem) -> JSONResponse:
        return problem(error.status, error.detail, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return problem(
            422,
            "the request is not valid",
            code="invalid",
            errors=validation_errors(error.errors()),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem(
            error.status_code, str(error.detail), headers=getattr(error, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        # Reached only by a bug: answer a problem document, never a stack trace.
        return problem(500, "unexpected error; it has been logged")
