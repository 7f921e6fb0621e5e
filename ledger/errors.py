"""Typed refusals. Each maps to exactly one HTTP status, in one place (ledger.api.problems).

Precedence when several apply (RULES.md): 401, 403, 404, 422, 409. Handlers
check in that order, so the first refusal raised is the one answered.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LedgerError(Exception):
    """Base of every refusal the ledger gives on purpose."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    code: ClassVar[str] = "bad-request"

    def __init__(
        self, detail: str, *, field: str | None = None, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.errors = (
            errors
            if errors is not None
            else ([{"field": field, "message": detail}] if field else [])
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "status": self.status,
            "detail": self.detail,
            "field": self.field,
            "errors": self.errors,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> LedgerError:
        cls = _BY_CODE.get(data["code"], LedgerError)
        return cls(data["detail"], field=data.get("field"), errors=data.get("errors"))


class Unauthenticated(LedgerError):
    status, title, code = 401, "Unauthenticated", "unauthenticated"


class Forbidden(LedgerError):
    status, title, code = 403, "Forbidden", "forbidden"


class NotFound(LedgerError):
    status, title, code = 404, "Not found", "not-found"


class Invalid(LedgerError):
    """Input that is wrong on its own: format, range, unknown ids in the body, time window."""

    status, title, code = 422, "Invalid input", "invalid"


class IdempotencyKeyReused(Invalid):
    code = "idempotency-key-reused"


class Conflict(LedgerError):
    """The command conflicts with the current state of the ledger."""

    status, title, code = 409, "Conflict", "conflict"


class ConcurrencyConflict(Conflict):
    code = "concurrency-conflict"


_BY_CODE: dict[str, type[LedgerError]] = {
    c.code: c
    for c in (
        LedgerError,
        Unauthenticated,
        Forbidden,
        NotFound,
        Invalid,
        IdempotencyKeyReused,
        Conflict,
        ConcurrencyConflict,
    )
}
