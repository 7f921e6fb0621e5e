"""The dashboard's routes on `ledger serve`.

Each page path (`/`, `/leaderboard`, ...) answers the same small shell; its script reads
the API key from the tab's sessionStorage and fetches the page's HTML from `/ui/<page>`
with it, as any API client would (same authentication, roles, tenant and rate limits).
So the key never rides in a cookie or a URL, and every figure comes from the same query
functions the JSON API answers with. Filters are plain GET forms: no script needed to
use them, and a page's URL says what it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ledger.clock import Clock
from ledger.commands.base import EARLIEST_YEAR, LATEST_YEAR
from ledger.dashboard import charts, views
from ledger.errors import Invalid
from ledger.projections import summary
from ledger.projections.facts import Decrypt
from ledger.store import EventStore
from ledger.web.auth import DRIFT_ROLES, MESSAGE_ROLES
from ledger.web.headers import PAGE_HEADERS
from ledger.web.reading import Answer, MinPosition

HERE = Path(__file__).parent
PAGES = (
    "/",
    "/home",
    "/leaderboard",
    "/heatmap",
    "/alignment",
    "/drift",
    "/activity",
    "/members/{member_id}",
)
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["step"] = charts.step
templates.globals["cusum_svg"] = charts.cusum_svg


def _blank(value: str | None) -> str | None:
    """An empty form field means "not chosen"."""
    return value.strip() or None if value is not None else None


def _day(value: str | None, field: str) -> date | None:
    value = _blank(value)
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{field} must be a date as YYYY-MM-DD", field=field) from None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:  # as the API's dates
        raise Invalid(f"the year must be between {EARLIEST_YEAR} and {LATEST_YEAR}", field=field)
    return day


def _countdown(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((moment - now).total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours = rest // 3600
    return f"{days} days {hours} hours" if days else f"{hours} hours {rest % 3600 // 60} minutes"


def install(
    app: FastAPI,
    answer: Answer,
    clock: Clock,
    decrypt: Decrypt | None,
    store: EventStore | None = None,
) -> None:
    shell = (HERE / "templates" / "shell.html").read_text()

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(shell, headers=PAGE_HEADERS)

    for path in PAGES:
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def with_filters(view: Callable[..., dict[str, Any]]) -> Callable[..., tuple[Any, Any]]:
        def both(con: duckdb.DuckDBPyConnection, tenant_id: str, **kwargs: Any) -> tuple[Any, Any]:
            return views.filters(con, tenant_id, kwargs["now"]), view(con, tenant_id, **kwargs)

        return both

    def render(name: str, filters: views.Filters | None = None, **context: Any) -> HTMLResponse:
        if filters is not None:
            context |= {
                "teams": [(t, t) for t in filters.teams],
                "values": [(v["key"], v["name"]) for v in filters.values],
                "campaigns": [(c["campaign_id"], c["name"]) for c in filters.campaigns],
            }
        return HTMLResponse(templates.get_template(name).render(**context))

    @app.get("/ui/leaderboard", include_in_schema=False)
    async def leaderboard(
        request: Request,
        period: Literal["week", "month", "all", "campaign"] = "week",
        at: str | None = None,
        team: str | None = None,
        value: str | None = None,
        campaign_id: str | None = None,
        member_id: str | None = None,
    ) -> HTMLResponse:
        campaign_id, member_id = _blank(campaign_id), _blank(member_id)
        if period == "campaign" and campaign_id is None:
            raise Invalid("choose a campaign to see its leaderboard", field="campaign_id")
        chosen = {"at": _day(at, "at"), "team": _blank(team), "value": _blank(value)}
        filters, doc = await answer(
            request,
            None,
            with_filters(views.leaderboard),
            now=clock.now(),
            period=period,
            campaign_id=campaign_id,
            member_id=member_id,
            **chosen,
        )
        return render(
            "leaderboard.html",
            filters,
            doc=doc,
            period=period,
            campaign_id=campaign_id,
            member_id=member_id,
            **chosen,
        )

    @app.get("/ui/heatmap", include_in_schema=False)
    async def heatmap(
        request: Request, team: str | None = None, per_person: bool = False
    ) -> HTMLResponse:
        # `from` and `to` as in the API (`from` is a Python keyword: read them directly).
        date_from = request.query_params.get("from")
        date_to = request.query_params.get("to")
        filters, doc = await answer(
            request,
            None,
            with_filters(views.heatmap),
            now=clock.now(),
            date_from=_day(date_from, "from"),
            date_to=_day(date_to, "to"),
            team=_blank(team),
            per_person=per_person,
        )
        return render("heatmap.html", filters, doc=doc, team=_blank(team))

    @app.get("/ui/alignment", include_in_schema=False)
    async def alignment(
        request: Request,
        scope: Literal["tenant", "team"] = "tenant",
        team: str | None = None,
        period: Literal["week", "month"] = "week",
        at: str | None = None,
    ) -> HTMLResponse:
        team = _blank(team)
        if scope == "team" and team is None:
            raise Invalid("choose a team to see its alignment", field="team")
        filters, doc = await answer(
            request,
            None,
            with_filters(views.alignment),
            now=clock.now(),
            scope=scope,
            team=team if scope == "team" else None,
            period=period,
            at=_day(at, "at"),
        )
        who = f"team {team}" if scope == "team" else "the whole company"
        trend = charts.alignment_svg(doc["trend"], f"Alignment of {who}, by {period}")
        return render(
            "alignment.html",
            filters,
            doc=doc,
            scope=scope,
            team=team,
            period=period,
            at=_blank(at),
            trend_svg=trend,
        )

    @app.get("/ui/drift", include_in_schema=False)
    async def drift(
        request: Request,
        scope: str | None = None,
        team: str | None = None,
        min_position: MinPosition = None,
    ) -> HTMLResponse:
        team, scope = _blank(team), _blank(scope)
        if scope not in (None, "tenant", "team"):
            raise Invalid("scope is the whole company (tenant) or teams (team)", field="scope")
        filters, doc = await answer(
            request,
            min_position,
            with_filters(views.drift_watch),
            roles=DRIFT_ROLES,
            by_role=lambda role: {"role": role},
            now=clock.now(),
            scope=scope,
            team=team,
            store=store,
        )
        return render("drift.html", filters, doc=doc, scope=scope, team=team)

    @app.get("/ui/home", include_in_schema=False)
    async def home(request: Request, period: Literal["week", "month"] = "week") -> HTMLResponse:
        now = clock.now()
        doc = await answer(
            request, None, summary.summary, roles=DRIFT_ROLES, period=period, now=now
        )
        return render(
            "home.html", doc=doc, period=period, countdown=lambda moment: _countdown(moment, now)
        )

    @app.get("/ui/members/{member_id}", include_in_schema=False)
    async def member(request: Request, member_id: str) -> HTMLResponse:
        doc = await answer(request, None, views.member, member_id, decrypt=decrypt)
        return render("member.html", doc=doc)

    @app.get("/ui/activity", include_in_schema=False)
    async def activity(request: Request, member_id: str | None = None) -> HTMLResponse:
        now = clock.now()
        member_id = _blank(member_id)
        doc = await answer(
            request,
            None,
            views.activity,
            now=now,
            member_id=member_id,
            decrypt=decrypt,
            by_role=lambda role: {"with_messages": role in MESSAGE_ROLES},
        )
        return render(
            "activity.html",
            doc=doc,
            member_id=member_id,
            countdown=lambda moment: _countdown(moment, now),
        )
