"""Explanations read from the event store itself: an auditor trusts no projection file.

What explains a member is read, and nothing else: the member's own streams (the stream
catalog files them under the member: their membership, their awards and the
reversals in them, their completions), the behaviors and recognitions the awards
name, and the tenant. Those events (up to `as_of`) are projected into a scratch
in-memory database, and the query that answers `GET /v1/members/{id}/points` explains
the member. Its `as_of_position` is the last position of what was read.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import orjson

from consumers.projector import catch_up
from consumers.sources import NotificationsSource, RecordedUntil, StoreSource
from ledger.aggregates.award import Award, AwardReversed, PointsAwarded
from ledger.aggregates.recognition import Recognition as RecognitionStream
from ledger.aggregates.recognition import RecognitionGiven
from ledger.aggregates.tenant import Tenant
from ledger.audit.reciprocity import Recognition
from ledger.errors import NotFound
from ledger.ids import tenant_aggregate_id
from ledger.periods import local_midnight
from ledger.persistence import Row, notification
from ledger.projections import queries
from ledger.projections.projection import Projection
from ledger.service import Ledger
from ledger.store import EventStore, topic_of


def scratch_projection(
    ledger: Ledger, as_of: datetime | None = None, source: Any = None
) -> Projection:
    """The history recorded up to `as_of` (all of it, or what `source` gives), projected
    into memory (nothing is written)."""
    projection = Projection(":memory:", decrypt=ledger.personal.decrypt)
    source = source or StoreSource(ledger.store)
    if as_of is not None:
        source = RecordedUntil(source, as_of)
    catch_up(projection, source, rebuild=True)
    return projection


def member_history(store: EventStore, tenant_id: str, member_id: str) -> list[Row]:
    """The events that explain a member's points, in position order."""
    streams = set(store.records.member_streams(tenant_id, member_id))
    if not streams:
        raise NotFound(f"no member {member_id!r}")
    streams.add(tenant_aggregate_id(tenant_id))
    rows = store.records.streams_rows(sorted(streams))
    sources: set[uuid.UUID] = set()
    for _, _, version, topic, state in rows:
        if version == 1 and topic.endswith(":PointsAwarded"):
            source = orjson.loads(state).get("source") or {}
            if source.get("id"):
                sources.add(uuid.UUID(source["id"]))
    missing = sorted(sources - streams)
    return sorted(rows + (store.records.streams_rows(missing) if missing else []))


def explain_member(
    ledger: Ledger, tenant_id: str, member_id: str, as_of: datetime | None
) -> dict[str, Any]:
    rows = member_history(ledger.store, tenant_id, member_id)
    source = NotificationsSource([notification(r) for r in rows])
    projection = scratch_projection(ledger, as_of, source)
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
    # Only the tenant's recognitions and awards are read (the stream catalog).
    kinds = [RecognitionStream.__name__, Award.__name__]
    for _, stream_id, _, topic, raw in store.records.tenant_rows(tenant_id, kinds):
        if topic not in topics:
            continue
        state = orjson.loads(raw)
        if topic == topics[0]:
            given[state["recognition_id"]] = state
        elif topic == topics[1]:
            if state["source"]["type"] == "recognition":
                award_source[str(stream_id)] = state["source"]["id"]
        elif str(stream_id) in award_source:
            reversed_sources.add(award_source[str(stream_id)])
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
