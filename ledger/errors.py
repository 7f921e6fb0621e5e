"""Typed refusals, named after the rule they enforce. No HTTP here: the API layer maps
each kind (Unauthenticated, Forbidden, NotFound, Invalid, Conflict) to a status in one
table (ledger.web.problems.STATUS_OF).

Precedence when several apply (RULES.md): 401, 403, 404, 422, 409. Handlers
check in that order, so the first refusal raised is the one answered.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LedgerError(Exception):
    """Base of every refusal the ledger gives on purpose."""

    code: ClassVar[str] = "refused"

    def __init__(
        self, detail: str, *, field: str | None = None, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.replayed = False  # the stored refusal of an Idempotency-Key, raised again
        self.field = field
        self.errors = (
            errors
            if errors is not None
            else ([{"field": field, "message": detail}] if field else [])
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "detail": self.detail,
            "field": self.field,
            "errors": self.errors,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> LedgerError:
        cls = _by_code().get(data["code"], LedgerError)
        return cls(data["detail"], field=data.get("field"), errors=data.get("errors"))


class Unauthenticated(LedgerError):
    code = "unauthenticated"


class Forbidden(LedgerError):
    code = "forbidden"


class NotFound(LedgerError):
    code = "not-found"


class Invalid(LedgerError):
    """Input that is wrong on its own: format, range, unknown ids in the body, time window."""

    code = "invalid"


class IdempotencyKeyReused(Invalid):
    code = "idempotency-key-reused"


class Conflict(LedgerError):
    """The command conflicts with the current state of the ledger."""

    code = "conflict"


class ConcurrencyConflict(Conflict):
    code = "concurrency-conflict"


class MemberForgotten(Invalid):
    """A forgotten member can neither act nor receive."""

    code = "member-forgotten"


class AlreadyExists(Conflict):
    code = "already-exists"


class AlreadyDone(Conflict):
    """Archiving, retiring, deciding, departing or forgetting twice."""

    code = "already-done"


class AllowanceExceeded(Conflict):
    code = "allowance-exceeded"


class PairLimitReached(Conflict):
    code = "pair-limit-reached"


class SlotTaken(Conflict):
    """The member already completed the mission in this cadence period."""

    code = "slot-taken"


class OutsideWindow(Conflict):
    """occurred_at lies outside the mission's window."""

    code = "outside-window"


class NotOnTeam(Conflict):
    code = "not-on-team"


class NotActive(Conflict):
    """The member had not joined, or had departed, at occurred_at."""

    code = "not-active"


class RetiredValue(Conflict):
    code = "retired-value"


class CampaignNotEnded(Conflict):
    code = "campaign-not-ended"


def _by_code() -> dict[str, type[LedgerError]]:
    """Every refusal kind by its code (an idempotent replay rebuilds the stored refusal)."""
    found: dict[str, type[LedgerError]] = {}
    pending: list[type[LedgerError]] = [LedgerError]
    while pending:
        cls = pending.pop()
        found[cls.code] = cls
        pending.extend(cls.__subclasses__())
    return found
