"""Reading facts straight from the event store (not from projections).

Used where a rule must see every event recorded so far: campaign winners,
audits. The scan is by event topic over the notification log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from ledger.aggregates.award import PointsAwarded
from ledger.store import EventStore, topic_of

PAGE = 5_000


def award_facts(store: EventStore, tenant_id: str, through: int) -> Iterator[dict[str, Any]]:
    """Every award of the tenant recorded at or before position `through`."""
    topic = topic_of(PointsAwarded)
    after = 0
    while after < through:
        page = store.select(after, PAGE, topics=[topic])
        for notification in page:
            if notification.id > through:
                return
            state = orjson.loads(notification.state)
            if state["tenant_id"] != tenant_id:
                continue
            state["occurred_at"] = datetime.fromisoformat(state["occurred_at"])
            state["position"] = notification.id
            yield state
        if len(page) < PAGE:
            return
        after = page[-1].id


def balance(store: EventStore, tenant_id: str, member_id: str) -> int:
    through = store.max_position()
    return sum(
        a["points"] for a in award_facts(store, tenant_id, through) if a["member_id"] == member_id
    )
