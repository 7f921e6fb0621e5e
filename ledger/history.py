"""Reading facts straight from the event store (not from projections).

Used where a rule must see every event recorded so far: campaign winners,
audits. The scan is by event topic over the notification log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from ledger.aggregates.award import AwardReversed, PointsAwarded
from ledger.store import EventStore, topic_of

PAGE = 5_000


def award_facts(store: EventStore, tenant_id: str, through: int) -> list[dict[str, Any]]:
    """Every award of the tenant recorded at or before position `through` and not reversed
    by then (RULES.md "Reversals": a reversed award counts nowhere)."""
    topics = [topic_of(PointsAwarded), topic_of(AwardReversed)]
    awards: dict[str, dict[str, Any]] = {}
    after = 0
    while after < through:
        page = store.select(after, PAGE, topics=topics)
        for notification in page:
            if notification.id > through:
                return list(awards.values())
            state = orjson.loads(notification.state)
            if state["tenant_id"] != tenant_id:
                continue
            award_id = str(notification.originator_id)
            if notification.topic == topics[1]:
                awards.pop(award_id, None)
                continue
            state["occurred_at"] = datetime.fromisoformat(state["occurred_at"])
            state["position"] = notification.id
            state["award_id"] = award_id
            awards[award_id] = state
        if len(page) < PAGE:
            break
        after = page[-1].id
    return list(awards.values())


def balance(store: EventStore, tenant_id: str, member_id: str) -> int:
    through = store.max_position()
    return sum(
        a["points"] for a in award_facts(store, tenant_id, through) if a["member_id"] == member_id
    )
