"""Tenants, their settings and their API keys."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from ledger.aggregates.tenant import TenantSettings
from ledger.commands.base import (
    Command,
    Decision,
    Label,
    Title,
)
from ledger.commands.context import Context
from ledger.errors import AlreadyExists, Invalid, NotFound
from ledger.periods import is_timezone

TenantId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


class CreateTenant(Command):
    secret_fields = ("admin_key",)
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
    secret_fields = ("key",)
    role: Literal["admin", "manager", "service", "analyst"]
    label: Label


class IssueAdminKey(Command):
    """The operator issues a tenant another admin key (the tenant lost the first one)."""

    secret_fields = ("key",)
    tenant_id: TenantId
    label: Label = "admin key issued by the operator"


class ChangeSettings(Command):
    accepted_status = 200
    settings: TenantSettings


def create_tenant(cmd: CreateTenant, ctx: Context) -> Decision:
    settings = cmd.settings or TenantSettings()
    if cmd.timezone is not None:
        given = cmd.settings is not None and "timezone" in cmd.settings.model_fields_set
        if given and settings.timezone != cmd.timezone:
            raise Invalid(
                "timezone and settings.timezone differ; send one of them", field="timezone"
            )
        settings = TenantSettings.model_validate(
            {**settings.model_dump(), "timezone": cmd.timezone}
        )
    tenant = ctx.tenant_named(cmd.tenant_id)
    if tenant.exists:
        raise AlreadyExists(f"tenant {cmd.tenant_id!r} already exists", field="tenant_id")
    tenant.create(cmd.name, settings)
    key, api_key = ctx.new_api_key(cmd.tenant_id, "admin", "initial admin key")
    return Decision([tenant, api_key], {"tenant_id": cmd.tenant_id, "admin_key": key})


def issue_api_key(cmd: IssueApiKey, ctx: Context) -> Decision:
    inv = ctx.invocation
    key, api_key = ctx.new_api_key(inv.tenant_id, cmd.role, cmd.label)
    return Decision([api_key], {"key": key, "role": cmd.role, "label": cmd.label})


def change_settings(cmd: ChangeSettings, ctx: Context) -> Decision:
    tenant = ctx.tenant()
    tenant.change_settings(cmd.settings)
    return Decision([tenant], {"settings": cmd.settings.model_dump()})


def issue_admin_key(cmd: IssueAdminKey, ctx: Context) -> Decision:
    tenant = ctx.tenant_named(cmd.tenant_id)
    if not tenant.exists:
        raise NotFound(f"no tenant {cmd.tenant_id!r}")
    key, api_key = ctx.new_api_key(cmd.tenant_id, "admin", cmd.label)
    tenant.record_admin_key(cmd.label)
    return Decision(
        [tenant, api_key],
        {"tenant_id": cmd.tenant_id, "key": key, "role": "admin", "label": cmd.label},
    )
