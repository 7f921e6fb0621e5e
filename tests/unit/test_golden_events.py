"""Golden files: every event type at every schema version keeps loading, forever.

Files under tests/golden are stored states exactly as the event store holds
them. Never edit one; add a file when a schema version is added.
"""

from __future__ import annotations

import importlib
import json
import uuid
from pathlib import Path

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from ledger.events import EVENT_TYPES
from ledger.mapper import LedgerMapper

GOLDEN = Path(__file__).parent.parent / "golden"
FILES = sorted(GOLDEN.glob("*.json"))
importlib.import_module("ledger.commands.handlers")  # every aggregate module, every event type


def stored(doc: dict) -> StoredEvent:
    return StoredEvent(
        originator_id=uuid.UUID(doc["originator_id"]),
        originator_version=doc["originator_version"],
        topic=doc["topic"],
        state=orjson.dumps(doc["state"]),
    )


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden_event_loads_into_the_current_class(path: Path) -> None:
    doc = json.loads(path.read_text())
    event = LedgerMapper(transcoder=None).to_domain_event(stored(doc))  # type: ignore[arg-type]
    assert type(event).__name__ == doc["event_type"]
    assert event.tenant_id == doc["state"]["tenant_id"]  # type: ignore[attr-defined]


def test_every_event_type_has_a_golden_file_at_every_version() -> None:
    have = {(p.stem.rsplit(".v", 1)[0], int(p.stem.rsplit(".v", 1)[1])) for p in FILES}
    for name, cls in EVENT_TYPES.items():
        for version in range(1, cls.schema_version + 1):
            assert (name, version) in have, f"no golden file for {name} v{version}"


def test_tenant_created_v1_is_upcast_with_the_default_pair_limit() -> None:
    doc = json.loads((GOLDEN / "TenantCreated.v1.json").read_text())
    event = LedgerMapper(transcoder=None).to_domain_event(stored(doc))  # type: ignore[arg-type]
    assert event.settings["max_recognitions_per_pair_per_week"] == 2  # type: ignore[attr-defined]


def test_round_trip_writes_the_current_schema_version(world) -> None:  # type: ignore[no-untyped-def]
    first = world.ledger.store.select(0, 1)[0]
    assert orjson.loads(first.state)["schema_version"] == 2  # TenantCreated is at v2


def test_every_event_type_belongs_to_exactly_one_aggregate() -> None:
    from ledger.aggregates.base import AGGREGATE_OF

    assert set(AGGREGATE_OF) == set(EVENT_TYPES.values())
