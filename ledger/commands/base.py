"""What every command shares: the caller, the invocation, the decision, handler registry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, StringConstraints

from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.tenant import TenantSettings
from ledger.clock import as_utc
from ledger.errors import Invalid

if TYPE_CHECKING:
    from ledger.service import Ledger

KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
MEMBER_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"

ValueKey = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
TeamKey = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
MemberId = Annotated[str, StringConstraints(pattern=MEMBER_ID_PATTERN)]
EntityId = Annotated[str, StringConstraints(pattern=MEMBER_ID_PATTERN)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
EARLIEST_YEAR, LATEST_YEAR = 1970, 2999


def reasonable_year(moment: datetime) -> datetime:
    """Business instants live in 1970..2999: far dates would overflow period arithmetic."""
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"the year must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(reasonable_year)]

ADMIN = ("admin",)
MANAGERS = ("admin", "manager")
SERVICES = ("admin", "service")
OPERATOR = ("operator",)

FUTURE_TOLERANCE = timedelta(minutes=5)


class Command(BaseModel):
    """Base of every command: strict, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=10_000)

    # 201 for commands that create something, 200 for those that change it.
    accepted_status: ClassVar[int] = 201


@dataclass(frozen=True)
class Caller:
    """Who sends a command: the tenant and role come from the API key alone."""

    tenant_id: str
    role: str
    key_label: str


@dataclass(frozen=True)
class Invocation:
    """One execution of a command, as handlers see it."""

    caller: Caller
    command_id: uuid.UUID
    received_at: datetime
    idempotency_key: str | None = None
    correlation_id: str | None = None

    @property
    def tenant_id(self) -> str:
        return self.caller.tenant_id

    def provenance(self) -> dict[str, Any]:
        """The command part of an award's provenance."""
        return {
            "command_id": str(self.command_id),
            "key_label": self.caller.key_label,
            "idempotency_key": self.idempotency_key,
            "received_at": self.received_at.isoformat(),
        }


@dataclass
class Decision:
    """Aggregates with pending events to save atomically, and the response body."""

    aggregates: list[LedgerAggregate]
    result: dict[str, Any] = field(default_factory=dict)


C = TypeVar("C", bound=Command)
Handler = Callable[["Ledger", Any, Invocation], Decision]


@dataclass(frozen=True)
class Registration:
    handler: Handler
    roles: tuple[str, ...]


HANDLERS: dict[type[Command], Registration] = {}


def handles(command: type[C], roles: tuple[str, ...]) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[command] = Registration(handler, roles)
        return handler

    return register


def check_occurred_at(moment: datetime | None, settings: TenantSettings, now: datetime) -> datetime:
    """occurred_at defaults to now; at most 5 min ahead and backdate_days behind (422)."""
    if moment is None:
        return now
    moment = as_utc(moment)
    if moment > now + FUTURE_TOLERANCE:
        raise Invalid("occurred_at is more than 5 minutes in the future", field="occurred_at")
    if moment < now - timedelta(days=settings.backdate_days):
        raise Invalid(
            f"occurred_at is more than {settings.backdate_days} days in the past",
            field="occurred_at",
        )
    return moment
