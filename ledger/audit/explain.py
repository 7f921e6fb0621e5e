"""Explanations read from the event store itself: an auditor trusts no projection file.

The history (up to `as_of`) is projected into a scratch in-memory database, and the
same query that answers `GET /v1/members/{id}/points` explains the member.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson

from consumers.projector import catch_up
from consumers.sources import RecordedUntil, StoreSource
from ledger.aggregates.award import AwardReversed, PointsAwarded
from ledger.aggregates.recognition import RecognitionGiven
from ledger.aggregates.tenant import Tenant
from ledger.audit.reciprocity import Recognition
from ledger.config import Settings
from ledger.errors import NotFound
from ledger.ids import tenant_aggregate_id
from ledger.periods import local_midnight
from ledger.projections import queries
from ledger.projections.projection import Projection
from ledger.service import Ledger
from ledger.store import EventStore, topic_of

PAGE = 5_000


def scratch_projection(ledger: Ledger, as_of: datetime | None = None) -> Projection:
    """The history recorded up to `as_of`, projected into memory (nothing is written)."""
    projection = Projection(":memory:", decrypt=ledger.personal.decrypt)
    source: Any = StoreSource(ledger.store)
    if as_of is not None:
        source = RecordedUntil(source, as_of)
    catch_up(projection, source, rebuild=True)
    return projection


def explain_member(
    settings: Settings, tenant_id: str, member_id: str, as_of: datetime | None
) -> dict[str, Any]:
    ledger = Ledger.open(settings)
    try:
        projection = scratch_projection(ledger, as_of)
        try:
            return projection.run(
                queries.member_points,
                tenant_id,
                member_id,
                as_of=as_of,
                decrypt=ledger.personal.decrypt,
            )
        finally:
            projection.close()
    finally:
        ledger.close()


def recognitions_of(
    store: EventStore, tenant_id: str, start: date | None, end: date | None
) -> tuple[list[Recognition], tuple[datetime | None, datetime | None]]:
    """The tenant's recognitions (reversed ones marked) and [start, end) as UTC instants
    of local midnights in the tenant's timezone."""
    tenant = store.load(Tenant, tenant_aggregate_id(tenant_id))
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    tz = tenant.settings.timezone
    bounds = (
        local_midnight(start, tz) if start else None,
        local_midnight(end, tz) if end else None,
    )
    given: dict[str, dict[str, Any]] = {}
    award_source: dict[str, str] = {}
    reversed_sources: set[str] = set()
    topics = [topic_of(RecognitionGiven), topic_of(PointsAwarded), topic_of(AwardReversed)]
    after = 0
    while True:
        page = store.select(after, PAGE, topics=topics)
        for n in page:
            state = orjson.loads(n.state)
            if state.get("tenant_id") != tenant_id:
                continue
            if n.topic == topics[0]:
                given[state["recognition_id"]] = state
            elif n.topic == topics[1]:
                if state["source"]["type"] == "recognition":
                    award_source[str(n.originator_id)] = state["source"]["id"]
            elif str(n.originator_id) in award_source:
                reversed_sources.add(award_source[str(n.originator_id)])
        if len(page) < PAGE:
            break
        after = page[-1].id
    recognitions = [
        Recognition(
            recognition_id=rid,
            from_member=s["from_member"],
            to_member=s["to_member"],
            points=s["points"],
            occurred_at=datetime.fromisoformat(s["occurred_at"]),
            reversed=rid in reversed_sources,
        )
        for rid, s in given.items()
    ]
    return recognitions, bounds
