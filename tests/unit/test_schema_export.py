"""`ledger schema export`: the envelope and every public event type at every version."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from ledger.envelope import envelope_of
from ledger.events import EVENT_TYPES
from ledger.schemas import export_schemas
from tests.support import World


def test_exports_every_public_event_type_and_version(tmp_path: Path) -> None:
    written = {p.name for p in export_schemas(tmp_path)}
    assert "envelope.json" in written
    for name, cls in EVENT_TYPES.items():
        if not cls.__module__.startswith("ledger."):
            continue
        for version in range(1, cls.schema_version + 1):
            assert (f"{name}.v{version}.json" in written) != cls.internal, name
    assert "TenantCreated.v1.json" in written and "TenantCreated.v2.json" in written


def test_published_envelopes_validate_against_the_exported_schemas(
    world: World, tmp_path: Path
) -> None:
    export_schemas(tmp_path)
    envelope_schema = json.loads((tmp_path / "envelope.json").read_text())
    for notification in world.ledger.store.select(0, 10_000):
        envelope = envelope_of(notification)
        if envelope is None:
            continue
        jsonschema.validate(envelope, envelope_schema)
        payload_schema = json.loads(
            (tmp_path / f"{envelope['event_type']}.v{envelope['schema_version']}.json").read_text()
        )
        jsonschema.validate(envelope["payload"], payload_schema)
