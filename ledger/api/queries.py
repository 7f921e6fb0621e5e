"""Query endpoints: read the projections, with read-your-writes and time travel."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from pydantic import AfterValidator, BeforeValidator
from starlette.concurrency import run_in_threadpool

from ledger.api.auth import FEED_ROLES, READ_ROLES, Authenticator
from ledger.api.problems import Problem
from ledger.clock import Clock, as_utc
from ledger.commands.base import EARLIEST_YEAR, KEY_PATTERN, LATEST_YEAR, MEMBER_ID_PATTERN
from ledger.errors import Invalid
from ledger.projections import queries
from ledger.projections.projection import Projection

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


def install(
    app: FastAPI,
    projection: Projection,
    auth: Authenticator,
    clock: Clock,
    responses: dict[int | str, Any],
    head: Callable[[], int],
) -> Answer:
    """`head` is the event store's last position: a min_position beyond it is invalid.

    Returns the one path every read route takes (the catalog's routes use it too)."""

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

    def moment(as_of: datetime | None) -> datetime | None:
        return as_utc(as_of) if as_of else None

    @app.get("/v1/leaderboard", tags=["queries"], responses=responses)
    async def leaderboard(
        request: Request,
        period: Literal["week", "month", "all", "campaign"] = "week",
        at: Day | None = None,
        team: Key = None,
        value: Key = None,
        campaign_id: Annotated[str | None, Query(pattern=MEMBER_ID_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """Ranked members for a period and a scope (tenant, team or value)."""
        if period == "campaign" and campaign_id is None:
            raise Invalid("period=campaign needs campaign_id", field="campaign_id")
        return await answer(
            request,
            min_position,
            queries.leaderboard,
            period=period,
            at=at,
            now=clock.now(),
            team=team,
            value=value,
            campaign_id=campaign_id,
            limit=limit,
            as_of=moment(as_of),
        )

    @app.get("/v1/heatmap", tags=["queries"], responses=responses)
    async def heatmap(
        request: Request,
        date_from: Annotated[Day | None, Query(alias="from")] = None,
        date_to: Annotated[Day | None, Query(alias="to")] = None,
        team: Key = None,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """Counted behaviors and points per (team, value, week)."""
        return await answer(
            request,
            min_position,
            queries.heatmap,
            now=clock.now(),
            date_from=date_from,
            date_to=date_to,
            team=team,
            as_of=moment(as_of),
        )

    @app.get("/v1/alignment", tags=["queries"], responses=responses)
    async def alignment(
        request: Request,
        scope: Literal["tenant", "team"] = "tenant",
        period: Literal["week", "month"] = "week",
        team: Key = None,
        at: Day | None = None,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """How well behavior (and reward) matches the strategy in force."""
        return await answer(
            request,
            min_position,
            queries.alignment,
            scope=scope,
            period=period,
            now=clock.now(),
            at=at,
            team=team,
            as_of=moment(as_of),
        )

    @app.get("/v1/members/{member_id}/points", tags=["queries"], responses=responses)
    async def member_points(
        request: Request, member_id: str, as_of: AsOf = None, min_position: MinPosition = None
    ) -> dict[str, Any]:
        """A member's balance and every award behind it, with provenance (404 if unknown)."""
        return await answer(
            request,
            min_position,
            queries.member_points,
            member_id,
            as_of=moment(as_of),
            decrypt=projection.decrypt,
        )

    @app.get("/v1/awards/{award_id}", tags=["queries"], responses=responses)
    async def award(
        request: Request,
        award_id: uuid.UUID,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """One award with its whole chain: behavior, rule, approval, command, reversal."""
        return await answer(
            request,
            min_position,
            queries.award,
            str(award_id),
            as_of=moment(as_of),
            decrypt=projection.decrypt,
        )

    @app.get("/v1/events", tags=["queries"], responses=responses)
    async def events(
        request: Request,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """The tenant's events as Kafka envelopes, oldest first (admin, analyst)."""
        return await answer(
            request,
            min_position,
            queries.events_feed,
            roles=FEED_ROLES,
            after=after,
            limit=limit,
            as_of=moment(as_of),
        )

    return answer
