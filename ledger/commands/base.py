"""What every command shares: the caller, the invocation, the decision, handler registry."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
)

from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.tenant import TenantSettings
from ledger.clock import as_utc
from ledger.commands.text import check_text
from ledger.errors import Invalid
from ledger.events import LedgerEvent

KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
MEMBER_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"

ValueKey = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
TeamKey = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
MemberId = Annotated[str, StringConstraints(pattern=MEMBER_ID_PATTERN)]
EntityId = Annotated[str, StringConstraints(pattern=MEMBER_ID_PATTERN)]
# The character policy (ledger.commands.text) decides by Unicode category. These classes
# are the part of it a JSON Schema pattern can say (controls and the usual invisible
# characters), so the OpenAPI document tells clients; the policy refuses more.
# (U+200D, the zero-width joiner, is left to the policy: it joins emoji.)
_INVISIBLE = "\u200b\u200c\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff"
_ONE_LINE_CLASS = f"\x00-\x1f\x7f-\x9f{_INVISIBLE}"
_LINES_CLASS = f"\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE}"  # \t and \n allowed
ONE_LINE_TEXT = f"^[^{_ONE_LINE_CLASS}]*$"
LINES_TEXT = f"^[^{_LINES_CLASS}]*$"


def _plain(max_length: int, lines: bool) -> Callable[[object], object]:
    def check(value: object) -> object:
        if isinstance(value, str):
            if len(value) > max_length:
                raise ValueError(f"at most {max_length} characters")
            check_text(value, lines)
            return value.strip()
        return value

    return check


# The before-validator runs first: raw length and characters, then stripping; the
# constraints (listed first so they reach the JSON Schema) check the stripped text.
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=ONE_LINE_TEXT),
    BeforeValidator(_plain(200, lines=False)),
]
Label = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=ONE_LINE_TEXT),
    BeforeValidator(_plain(100, lines=False)),
]
Note = Annotated[
    str,
    StringConstraints(max_length=500, pattern=LINES_TEXT),
    BeforeValidator(_plain(500, lines=True)),
]
Reason = Annotated[
    str,
    StringConstraints(min_length=1, max_length=500, pattern=LINES_TEXT),
    BeforeValidator(_plain(500, lines=True)),
]
Description = Annotated[
    str,
    StringConstraints(max_length=1000, pattern=LINES_TEXT),
    BeforeValidator(_plain(1000, lines=True)),
]
Email = Annotated[
    str,
    StringConstraints(max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]{1,189}$"),
    BeforeValidator(_plain(254, lines=False)),
]
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
SYSTEM = ("system",)  # the ledger's own processes (the drift watch); never an API key

FUTURE_TOLERANCE = timedelta(minutes=5)


class Command(BaseModel):
    """Base of every command: strict, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=10_000)

    # 201 for commands that create something, 200 for those that change it.
    accepted_status: ClassVar[int] = 201
    # Response fields shown once and never stored (an idempotent replay answers null).
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # A scored command decides points from rules a change can alter (mission points,
    # campaign multipliers): simulate and recalibration re-price it.
    scored: ClassVar[bool] = False

    @classmethod
    def read_back(cls, events: Sequence[LedgerEvent]) -> Command | None:
        """The command an invocation was, read back from the events it recorded (their
        inputs as recorded, personal text still sealed); None when they are not its.
        `ledger verify` re-decides every command that reads back."""
        return None


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
            "role": self.caller.role,
            "idempotency_key": self.idempotency_key,
            "received_at": self.received_at.isoformat(),
        }


@dataclass
class Decision:
    """Aggregates with pending events to save atomically, and the response body."""

    aggregates: list[LedgerAggregate]
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Registration:
    """A command's handler, `handle(cmd, ctx) -> Decision`, and the roles that may send it."""

    handler: Callable[[Any, Any], Decision]
    roles: tuple[str, ...]


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
