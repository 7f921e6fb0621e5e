"""Tenant: one company, its settings and timezone, and the campaigns it runs."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger.aggregates.base import LedgerAggregate
from ledger.events import LedgerEvent
from ledger.periods import is_timezone


class TenantSettings(BaseModel):
    """Tenant settings with the defaults of RULES.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field("UTC", max_length=64)
    monthly_allowance: int = Field(100, ge=0, le=1_000_000)
    max_recognition_points: int = Field(50, ge=1, le=1000)
    backdate_days: int = Field(14, ge=0, le=366)
    max_recognitions_per_pair_per_week: int = Field(2, ge=1, le=1000)
    # The drift watch (RULES.md): the decline it looks for, and the CUSUM's alarm line.
    drift_decline: float = Field(0.3, ge=0.1, le=0.9, allow_inf_nan=False)
    drift_threshold: float = Field(9.0, ge=2, le=50, allow_inf_nan=False)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if not is_timezone(value):
            raise ValueError(f"unknown IANA timezone {value!r}")
        return value


class TenantCreated(LedgerEvent):
    # v1 had no pair limit in its settings; v2 stores every setting explicitly.
    schema_version = 2
    name: str
    settings: dict[str, Any]

    # Payload schemas of versions older than the class, for `ledger schema export`.
    legacy_payload_schemas: ClassVar[dict[int, dict[str, Any]]] = {
        1: {
            "type": "object",
            "required": ["name", "settings"],
            "properties": {
                "name": {"type": "string"},
                "settings": {
                    "type": "object",
                    "required": [
                        "timezone",
                        "monthly_allowance",
                        "max_recognition_points",
                        "backdate_days",
                    ],
                    "properties": {
                        "timezone": {"type": "string"},
                        "monthly_allowance": {"type": "integer"},
                        "max_recognition_points": {"type": "integer"},
                        "backdate_days": {"type": "integer"},
                    },
                },
            },
        },
    }

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["settings"].setdefault("max_recognitions_per_pair_per_week", 2)

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Tenant)
        aggregate.name = self.name
        aggregate.settings = TenantSettings.model_validate(self.settings)


class TenantSettingsChanged(LedgerEvent):
    settings: dict[str, Any]

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Tenant)
        aggregate.settings = TenantSettings.model_validate(self.settings)


class CampaignScheduled(LedgerEvent):
    """Index entry so a completion can find the campaigns that exist when it is recorded."""

    campaign_id: str

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Tenant)
        aggregate.campaign_ids.append(self.campaign_id)


class AdminKeyIssuedByOperator(LedgerEvent):
    """The operator issued the tenant another admin key (the first one was lost): on the
    tenant's own record, so its admins and auditors see it. The key's hash is internal."""

    label: str


class Tenant(LedgerAggregate):
    events = (TenantCreated, TenantSettingsChanged, CampaignScheduled, AdminKeyIssuedByOperator)

    def init_state(self) -> None:
        self.name = ""
        self.settings = TenantSettings()
        self.campaign_ids: list[str] = []

    def create(self, name: str, settings: TenantSettings) -> None:
        self.trigger(TenantCreated, name=name, settings=settings.model_dump())

    def change_settings(self, settings: TenantSettings) -> None:
        self.trigger(TenantSettingsChanged, settings=settings.model_dump())

    def schedule_campaign(self, campaign_id: str) -> None:
        self.trigger(CampaignScheduled, campaign_id=campaign_id)

    def record_admin_key(self, label: str) -> None:
        self.trigger(AdminKeyIssuedByOperator, label=label)
