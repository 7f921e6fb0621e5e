"""Envelopes to fact rows: the only per-event Python work of the projector (decoding).

A FactBatch collects rows per table, the last state of each upserted key,
and per tenant what the batch can change in the derived rows: its new awards
(added to their days), the moments of its reversals (their days re-derived),
and the earliest moment from which a team move or a strategy revision
changes everything after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

Row = dict[str, Any]
Decrypt = Callable[[str, str, str | None], str | None]
EPOCH = "1970-01-01T00:00:00"


@dataclass
class FactBatch:
    events: list[Row] = field(default_factory=list)
    awards: list[Row] = field(default_factory=list)
    reversals: list[Row] = field(default_factory=list)
    team_history: list[Row] = field(default_factory=list)
    member_joins: list[Row] = field(default_factory=list)
    departures: dict[tuple[str, str], Row] = field(default_factory=dict)
    forgotten: dict[tuple[str, str], Row] = field(default_factory=dict)
    tenants_created: list[Row] = field(default_factory=list)
    settings_changed: dict[str, Row] = field(default_factory=dict)
    values_defined: list[Row] = field(default_factory=list)
    values_retired: dict[tuple[str, str], Row] = field(default_factory=dict)
    revisions: list[Row] = field(default_factory=list)
    targets: list[Row] = field(default_factory=list)
    missions: list[Row] = field(default_factory=list)
    missions_archived: dict[tuple[str, str], Row] = field(default_factory=dict)
    campaigns: list[Row] = field(default_factory=list)
    winners: dict[tuple[str, str], Row] = field(default_factory=dict)
    drift_raised: list[Row] = field(default_factory=list)
    drift_acknowledged: dict[tuple[str, str], Row] = field(default_factory=dict)
    # tenant -> earliest ISO instant from which this batch may change every later period
    since: dict[str, str] = field(default_factory=dict)
    # tenant -> minutes (ISO) of reversals: their days are re-derived from the facts
    moments: dict[str, set[str]] = field(default_factory=dict)
    # False in a deferred batch (a rebuild): `finish` derives everything at the end
    derive: bool = True
    positions: dict[str, int] = field(default_factory=dict)

    def touch(self, tenant_id: str, moment: str) -> None:
        # "YYYY-MM-DDTHH:MM:SS" of a UTC instant sorts chronologically; flooring to the
        # second keeps `since` a lower bound, which is all recomputation needs.
        floor = moment[:19]
        current = self.since.get(tenant_id)
        if current is None or floor < current:
            self.since[tenant_id] = floor

    def touch_day(self, tenant_id: str, moment: str) -> None:
        # To the minute: every timezone's days begin on a whole minute, so the floored
        # moment lies in the same local day; a batch's awards share few minutes.
        self.moments.setdefault(tenant_id, set()).add(moment[:16] + ":00")

    def earliest(self) -> dict[str, str]:
        """Per tenant, the earliest moment the batch changes anything from."""
        earliest = dict(self.since)
        firsts = [(t, min(m)) for t, m in self.moments.items()]
        firsts += [(a["tenant_id"], str(a["occurred_at"])[:19]) for a in self.awards]
        for tenant_id, first in firsts:
            if tenant_id not in earliest or first < earliest[tenant_id]:
                earliest[tenant_id] = first
        return earliest

    def added(self) -> list[Row]:
        """The batch's new awards, added to the rollups of their days."""
        return [
            {
                "tenant_id": a["tenant_id"],
                "position": a["position"],
                "occurred_at": a["occurred_at"],
            }
            for a in self.awards
        ]

    def affected(self) -> list[Row]:
        """(tenant, since, until) ranges of instants whose local days must be re-derived;
        `until` None is open-ended."""
        ranges: list[Row] = [
            {"tenant_id": t, "since": s, "until": None} for t, s in self.since.items()
        ]
        for tenant_id, moments in self.moments.items():
            since = self.since.get(tenant_id)
            ranges.extend(
                {"tenant_id": tenant_id, "since": m, "until": m}
                for m in sorted(moments)
                if since is None or m < since
            )
        return ranges

    def add(self, envelope: Row, decrypt: Decrypt | None) -> None:
        tenant_id = envelope["tenant_id"]
        self.positions[tenant_id] = max(self.positions.get(tenant_id, 0), envelope["position"])
        self.events.append(
            {
                "position": envelope["position"],
                "tenant_id": tenant_id,
                "event_type": envelope["event_type"],
                "schema_version": envelope["schema_version"],
                "event_id": envelope["event_id"],
                "aggregate_id": envelope["aggregate_id"],
                "aggregate_version": envelope["aggregate_version"],
                "occurred_at": envelope["occurred_at"],
                "recorded_at": envelope["recorded_at"],
                "causation_id": envelope.get("causation_id"),
                "correlation_id": envelope.get("correlation_id"),
                "payload": orjson.dumps(envelope["payload"]).decode(),
            }
        )
        handler = _HANDLERS.get(envelope["event_type"])
        if handler is not None:
            handler(self, envelope, envelope["payload"], decrypt)


def _key(envelope: Row, payload_key: str, payload: Row) -> tuple[str, str]:
    return envelope["tenant_id"], payload[payload_key]


def _award(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.awards.append(
        {
            "position": env["position"],
            "tenant_id": env["tenant_id"],
            "award_id": env["aggregate_id"],
            "member_id": p["member_id"],
            "points": p["points"],
            "kind": p["kind"],
            "occurred_at": p["occurred_at"],
            "recorded_at": env["recorded_at"],
            "values": p["values"],
            "source_type": p["source"]["type"],
            "source_id": p["source"]["id"],
            "cause_event_id": p["cause_event_id"],
            "rule": orjson.dumps(p["rule"]).decode(),
            "command": orjson.dumps(p["command"]).decode(),
        }
    )


def _reversed(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.reversals.append(
        {
            "position": env["position"],
            "tenant_id": env["tenant_id"],
            "award_id": env["aggregate_id"],
            "member_id": p["member_id"],
            "points": p["points"],
            "award_kind": p["award_kind"],
            "occurred_at": p["occurred_at"],
            "recorded_at": env["recorded_at"],
            "reason": p["reason"],  # encrypted with the member's key
            "command": orjson.dumps(p["command"]).decode(),
        }
    )
    # The award's day changes: it is re-derived as if the award had not counted.
    batch.touch_day(env["tenant_id"], p["occurred_at"])


def _joined(batch: FactBatch, env: Row, p: Row, decrypt: Decrypt | None) -> None:
    tenant_id = env["tenant_id"]
    name = decrypt(tenant_id, p["member_id"], p["display_name"]) if decrypt else None
    batch.member_joins.append(
        {
            "tenant_id": tenant_id,
            "member_id": p["member_id"],
            "display_name": name,
            "joined_at": p["joined_at"],
            "departed_at": None,
            "forgotten": False,
            "recorded_at": env["recorded_at"],
        }
    )
    _team(batch, env, p["member_id"], p["team"], p["joined_at"])


def _team(batch: FactBatch, env: Row, member_id: str, team: str, effective_from: str) -> None:
    batch.team_history.append(
        {
            "position": env["position"],
            "tenant_id": env["tenant_id"],
            "member_id": member_id,
            "team": team,
            "effective_from": effective_from,
            "recorded_at": env["recorded_at"],
        }
    )
    batch.touch(env["tenant_id"], effective_from)


def _moved(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    _team(batch, env, p["member_id"], p["team"], p["effective_from"])


def _departed(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.departures[_key(env, "member_id", p)] = {
        "tenant_id": env["tenant_id"],
        "member_id": p["member_id"],
        "departed_at": p["effective_from"],
    }


def _forgotten(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.forgotten[_key(env, "member_id", p)] = {
        "tenant_id": env["tenant_id"],
        "member_id": p["member_id"],
    }


def _tenant_created(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.tenants_created.append(
        {
            "tenant_id": env["tenant_id"],
            "name": p["name"],
            "timezone": p["settings"]["timezone"],
            "settings": orjson.dumps(p["settings"]).decode(),
            "recorded_at": env["recorded_at"],
        }
    )


def _settings(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.settings_changed[env["tenant_id"]] = {
        "tenant_id": env["tenant_id"],
        "timezone": p["settings"]["timezone"],
        "settings": orjson.dumps(p["settings"]).decode(),
    }


def _value_defined(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.values_defined.append(
        {
            "tenant_id": env["tenant_id"],
            "value": p["key"],
            "name": p["name"],
            "retired": False,
            "recorded_at": env["recorded_at"],
        }
    )


def _value_retired(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.values_retired[_key(env, "key", p)] = {"tenant_id": env["tenant_id"], "value": p["key"]}


def _revised(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    tenant_id = env["tenant_id"]
    batch.revisions.append(
        {
            "position": env["position"],
            "tenant_id": tenant_id,
            "version": p["version"],
            "effective_from": p["effective_from"],
            "recorded_at": env["recorded_at"],
            "goals": orjson.dumps(p["goals"]).decode(),
            "note": p.get("note"),
        }
    )
    batch.targets.extend(
        {"tenant_id": tenant_id, "version": p["version"], "value": v, "target": float(t)}
        for v, t in p["targets"].items()
    )
    batch.touch(tenant_id, p["effective_from"])


def _mission(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.missions.append(
        {
            "tenant_id": env["tenant_id"],
            "mission_id": p["mission_id"],
            "title": p["title"],
            "values": p["values"],
            "points": p["points"],
            "cadence": p["cadence"],
            "requires_verification": p["requires_verification"],
            "starts_at": p.get("starts_at"),
            "ends_at": p.get("ends_at"),
            "teams": p.get("teams", []),
            "archived": False,
            "recorded_at": env["recorded_at"],
        }
    )


def _mission_archived(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.missions_archived[_key(env, "mission_id", p)] = {
        "tenant_id": env["tenant_id"],
        "mission_id": p["mission_id"],
    }


def _campaign(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.campaigns.append(
        {
            "tenant_id": env["tenant_id"],
            "campaign_id": p["campaign_id"],
            "name": p["name"],
            "starts_at": p["starts_at"],
            "ends_at": p["ends_at"],
            "values": p["values"],
            "multiplier": float(p["multiplier"]),
            "winners": p["winners"],
            "reward": p.get("reward"),
            "recorded_at": env["recorded_at"],
            "declared_winners": None,
        }
    )


def _winners(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.winners[_key(env, "campaign_id", p)] = {
        "tenant_id": env["tenant_id"],
        "campaign_id": p["campaign_id"],
        "declared_winners": orjson.dumps(p["winners"]).decode(),
    }


def _drift_raised(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.drift_raised.append(
        {
            "position": env["position"],
            "tenant_id": env["tenant_id"],
            "alert_id": p["alert_id"],
            "scope": p["scope"],
            "team": p.get("team"),
            "value": p["value"],
            "raised_at": env["recorded_at"],
            "figures": orjson.dumps(p).decode(),
        }
    )


def _drift_acknowledged(batch: FactBatch, env: Row, p: Row, _: Decrypt | None) -> None:
    batch.drift_acknowledged[(env["tenant_id"], env["aggregate_id"])] = {
        "tenant_id": env["tenant_id"],
        "alert_id": env["aggregate_id"],
        "acknowledged_at": env["recorded_at"],
        "acknowledged_position": env["position"],
        "by_key_label": p["by_key_label"],
        "note": p["note"],
        "lever": orjson.dumps(p.get("lever")).decode(),
    }


_HANDLERS: dict[str, Callable[[FactBatch, Row, Row, Decrypt | None], None]] = {
    "PointsAwarded": _award,
    "AwardReversed": _reversed,
    "MemberJoined": _joined,
    "MemberMoved": _moved,
    "MemberDeparted": _departed,
    "MemberForgotten": _forgotten,
    "TenantCreated": _tenant_created,
    "TenantSettingsChanged": _settings,
    "ValueDefined": _value_defined,
    "ValueRetired": _value_retired,
    "StrategyRevised": _revised,
    "MissionPublished": _mission,
    "MissionArchived": _mission_archived,
    "CampaignLaunched": _campaign,
    "CampaignWinnersDeclared": _winners,
    "DriftAlertRaised": _drift_raised,
    "DriftAlertAcknowledged": _drift_acknowledged,
}
