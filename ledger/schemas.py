"""JSON Schemas of the public record: the Kafka envelope and every event payload version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ledger.envelope import ENVELOPE_KEYS
from ledger.events import EVENT_TYPES, METADATA_FIELDS, LedgerEvent

ENVELOPE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Ledger event envelope",
    "type": "object",
    "required": list(ENVELOPE_KEYS),
    "properties": {
        "event_id": {"type": "string", "format": "uuid"},
        "event_type": {"type": "string"},
        "schema_version": {"type": "integer", "minimum": 1},
        "tenant_id": {"type": "string"},
        "aggregate_id": {"type": "string", "format": "uuid"},
        "aggregate_version": {"type": "integer", "minimum": 1},
        "position": {
            "type": "integer",
            "minimum": 1,
            "description": "event-store notification id; strictly increasing per "
            "tenant; the dedupe watermark of every consumer",
        },
        "occurred_at": {"type": "string", "format": "date-time"},
        "recorded_at": {"type": "string", "format": "date-time"},
        "causation_id": {"type": ["string", "null"]},
        "correlation_id": {"type": ["string", "null"]},
        "payload": {"type": "object"},
    },
}


def payload_schema(cls: type[LedgerEvent]) -> dict[str, Any]:
    schema = cls.model_json_schema()
    for name in METADATA_FIELDS:
        schema.get("properties", {}).pop(name, None)
    schema["required"] = [r for r in schema.get("required", []) if r not in METADATA_FIELDS]
    return schema


def export_schemas(directory: Path) -> list[Path]:
    """Write envelope.json and <EventType>.v<N>.json for every type and version."""
    import ledger.commands.handlers  # noqa: F401  (imports every aggregate module)

    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "envelope.json"]
    written[0].write_bytes(orjson.dumps(ENVELOPE_SCHEMA, option=orjson.OPT_INDENT_2))
    for name, cls in sorted(EVENT_TYPES.items()):
        if cls.__module__.startswith("ledger.") and not cls.internal:
            legacy: dict[int, dict[str, Any]] = getattr(cls, "legacy_payload_schemas", {})
            for version in range(1, cls.schema_version + 1):
                schema = payload_schema(cls) if version == cls.schema_version else legacy[version]
                path = directory / f"{name}.v{version}.json"
                path.write_bytes(
                    orjson.dumps(
                        {"title": f"{name} payload, schema version {version}", **schema},
                        option=orjson.OPT_INDENT_2,
                    )
                )
                written.append(path)
    return written
