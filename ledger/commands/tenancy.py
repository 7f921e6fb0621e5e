"""Tenants, their settings and their API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from ledger import ids
from ledger.aggregates.tenant import Tenant, TenantSettings
from ledger.commands.base import ADMIN, OPERATOR, Command, Decision, Invocation, Title, handles
from ledger.errors import Conflict
from ledger.periods import is_timezone

if TYPE_CHECKING:
    from ledger.service import Ledger

TenantId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


class CreateTenant(Command):
    tenant_id: TenantId
    name: Title
    timezone: str | None = Field(None, max_length=64)
    settings: TenantSettings | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None and not is_timezone(value):
            raise ValueError(f"unknown IANA timezone {value!r}")
        return value


class IssueApiKey(Command):
    role: Literal["admin", "manager", "service", "analyst"]
    label: Label


class ChangeSettings(Command):
    accepted_status = 200
    settings: TenantSettings


@handles(CreateTenant, roles=OPERATOR)
def create_tenant(ledger: Ledger, cmd: CreateTenant, inv: Invocation) -> Decision:
    settings = cmd.settings or TenantSettings()
    if cmd.timezone is not None:
        # Validated like the settings field; a top-level timezone wins over settings.timezone.
        settings = TenantSettings.model_validate(
            {**settings.model_dump(), "timezone": cmd.timezone}
        )
    tenant = ledger.store.load_or_blank(
        Tenant, ids.tenant_aggregate_id(cmd.tenant_id), cmd.tenant_id
    )
    if tenant.exists:
        raise Conflict(f"tenant {cmd.tenant_id!r} already exists", field="tenant_id")
    tenant.create(cmd.name, settings)
    key, api_key = ledger.new_api_key(cmd.tenant_id, "admin", "initial admin key")
    return Decision([tenant, api_key], {"tenant_id": cmd.tenant_id, "admin_key": key})


@handles(IssueApiKey, roles=ADMIN)
def issue_api_key(ledger: Ledger, cmd: IssueApiKey, inv: Invocation) -> Decision:
    key, api_key = ledger.new_api_key(inv.tenant_id, cmd.role, cmd.label)
    return Decision([api_key], {"key": key, "role": cmd.role, "label": cmd.label})


@handles(ChangeSettings, roles=ADMIN)
def change_settings(ledger: Ledger, cmd: ChangeSettings, inv: Invocation) -> Decision:
    tenant = ledger.tenant(inv.tenant_id)
    tenant.change_settings(cmd.settings)
    return Decision([tenant], {"settings": cmd.settings.model_dump()})
