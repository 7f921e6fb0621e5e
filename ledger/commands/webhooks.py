"""Webhooks: an admin registers and deletes receivers; the dispatcher (role `system`)
claims, records and abandons deliveries."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ledger.aggregates.webhooks import Webhooks
from ledger.commands.base import Command, Decision
from ledger.commands.context import Context
from ledger.webhooks.urls import MAX_URL, hint

# Event names a webhook subscribes to (Standard Webhooks "type"), and the events they are.
WEBHOOK_EVENTS = {
    "drift.alert.raised": "DriftAlertRaised",
    "drift.alert.acknowledged": "DriftAlertAcknowledged",
}
EventName = Literal["drift.alert.raised", "drift.alert.acknowledged"]
Url = Annotated[
    str, StringConstraints(min_length=8, max_length=MAX_URL, pattern=r"^https?://[\x21-\x7e]+$")
]


def sealing_key(webhook_id: str) -> str:
    """The key that seals a webhook's URL and secret (not a member id: ':' is not allowed
    in those), destroyed when the webhook is deleted."""
    return f"webhook:{webhook_id}"


class RegisterWebhook(Command):
    secret_fields = ("secret",)
    url: Url
    events: list[EventName] = Field(min_length=1, max_length=len(WEBHOOK_EVENTS))


class DeleteWebhook(Command):
    accepted_status = 200
    webhook_id: uuid.UUID


class ClaimDelivery(Command):
    webhook_id: str
    delivery_id: str
    source_event_id: str
    lease_seconds: float = Field(gt=0, le=3600)


class RecordDeliveryAttempt(Command):
    webhook_id: str
    delivery_id: str
    attempt: int
    at: datetime
    status: int | None
    error: str | None = Field(None, max_length=500)
    delivered: bool


class AbandonDelivery(Command):
    webhook_id: str
    delivery_id: str
    reason: str = Field(max_length=500)


def register_webhook(cmd: RegisterWebhook, ctx: Context) -> Decision:
    webhooks = ctx.load_or_blank(Webhooks)
    webhook_id = str(uuid.uuid4())
    # The scheme's own form, so the scheme's libraries verify deliveries with it as given.
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    seal = sealing_key(webhook_id)
    events = sorted(set(cmd.events))
    webhooks.register(
        webhook_id=webhook_id,
        url=ctx.encrypt(seal, cmd.url),
        url_hint=hint(cmd.url),
        events=events,
        secret=ctx.encrypt(seal, secret),
        key_label=ctx.invocation.caller.key_label,
    )
    return Decision(
        [webhooks],
        {"webhook_id": webhook_id, "secret": secret, "url": hint(cmd.url), "events": events},
    )


def delete_webhook(cmd: DeleteWebhook, ctx: Context) -> Decision:
    webhooks = ctx.load_or_blank(Webhooks)
    webhook_id = str(cmd.webhook_id)
    webhooks.delete(webhook_id)
    ctx.forget(sealing_key(webhook_id))  # its URL and secret are unreadable from now on
    return Decision([webhooks], {"webhook_id": webhook_id, "deleted": True})


def claim_delivery(cmd: ClaimDelivery, ctx: Context) -> Decision:
    webhooks = ctx.load_or_blank(Webhooks)
    attempt = webhooks.claim(
        cmd.webhook_id,
        cmd.delivery_id,
        cmd.source_event_id,
        ctx.invocation.received_at,
        timedelta(seconds=cmd.lease_seconds),
    )
    return Decision([webhooks], {"attempt": attempt})


def record_delivery_attempt(cmd: RecordDeliveryAttempt, ctx: Context) -> Decision:
    webhooks = ctx.load_or_blank(Webhooks)
    webhooks.attempted(**cmd.model_dump())
    return Decision([webhooks], {"delivered": cmd.delivered})


def abandon_delivery(cmd: AbandonDelivery, ctx: Context) -> Decision:
    webhooks = ctx.load_or_blank(Webhooks)
    webhooks.abandon(cmd.webhook_id, cmd.delivery_id, cmd.reason)
    return Decision([webhooks], {"abandoned": True})
