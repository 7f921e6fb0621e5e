"""The one path every read takes: authenticate, wait for `min_position` if asked, then
run the projection query off the event loop; and the query parameters reads share."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import AfterValidator, BeforeValidator
from starlette.concurrency import run_in_threadpool

from ledger.commands.base import EARLIEST_YEAR, KEY_PATTERN, LATEST_YEAR
from ledger.errors import Invalid
from ledger.projections.projection import Projection
from ledger.web.auth import READ_ROLES, Authenticator
from ledger.web.problems import Problem

WAIT_SECONDS = 10.0
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_date(value: object) -> object:
    if isinstance(value, str) and not ISO_DATE.match(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


def _iso_instant(value: object) -> object:
    if isinstance(value, str) and not ISO_INSTANT.match(value):
        raise ValueError("expected an ISO 8601 timestamp")
    return value


def _aware(value: datetime) -> datetime:
    # As for commands: an instant without an offset means different moments to different readers.
    if value.tzinfo is None:
        raise ValueError("the timestamp needs an offset (Z or +hh:mm)")
    return value


def _year(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"the year must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


Day = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_year)]
Instant = Annotated[
    datetime, BeforeValidator(_iso_instant), AfterValidator(_aware), AfterValidator(_year)
]
MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        le=2**62,
        description=(
            "Wait (at most 10 s, else 503) until the projections have applied this position."
        ),
    ),
]
AsOf = Annotated[
    Instant | None,
    Query(description=("Time travel: answer with only the events recorded up to this moment.")),
]
Key = Annotated[str | None, Query(pattern=KEY_PATTERN)]
Answer = Callable[..., Awaitable[Any]]


def reader(projection: Projection, auth: Authenticator, head: Callable[[], int]) -> Answer:
    """The read path over `projection`. `head` is the event store's last position: a
    min_position beyond it is invalid."""

    async def answer(
        request: Request,
        min_position: int | None,
        query: Callable[..., Any],
        *args: Any,
        roles: tuple[str, ...] = READ_ROLES,
        by_role: Callable[[str], dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Authenticate, wait for `min_position` if asked, then run the query off the loop.

        `by_role` adds arguments that depend on the caller's role (what it may see)."""
        caller = await run_in_threadpool(auth.caller, request, roles)
        if by_role is not None:
            kwargs |= by_role(caller.role)
        if projection.catching_up:
            # The file was started afresh (see Projection): an answer now would be wrong.
            raise Problem(
                503,
                "the projections are being rebuilt; commands are still accepted",
                {"Retry-After": "5"},
            )
        if min_position is not None:
            if min_position > await run_in_threadpool(head):
                raise Invalid(
                    f"position {min_position} has not been recorded", field="min_position"
                )
            if not await run_in_threadpool(
                projection.wait_for, caller.tenant_id, min_position, WAIT_SECONDS
            ):
                raise Problem(
                    503,
                    f"the projections have not reached position {min_position} yet",
                    {"Retry-After": "1"},
                )
        return await run_in_threadpool(projection.run, query, caller.tenant_id, *args, **kwargs)

    return answer
