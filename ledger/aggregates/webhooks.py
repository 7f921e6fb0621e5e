"""Webhooks: a tenant's registered receivers and every delivery made to them.

One stream per tenant (deliveries are rare: alerts, not behaviors). Everything here is
internal: URLs and signing secrets are sealed with a key per webhook (destroyed when it
is deleted), and none of it travels to Kafka or the projections. Deliveries are
claimed before they are sent, so two dispatchers reading the same store send each
attempt once (the store's concurrency decides), and a claim expires so a crash
between claiming and sending delays a delivery, never loses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import AlreadyDone, NotFound
from ledger.events import LedgerEvent


class WebhookRegistered(LedgerEvent):
    internal = True
    webhook_id: str
    url: str  # sealed
    url_hint: str
    events: list[str]
    secret: str  # sealed, in the scheme's whsec_ form
    key_label: str


class WebhookDeleted(LedgerEvent):
    internal = True
    webhook_id: str


class WebhookDeliveryClaimed(LedgerEvent):
    internal = True
    webhook_id: str
    delivery_id: str
    source_event_id: str  # the event delivered
    attempt: int
    until: datetime


class WebhookDeliveryAttempted(LedgerEvent):
    internal = True
    webhook_id: str
    delivery_id: str
    attempt: int
    at: datetime
    status: int | None
    error: str | None
    delivered: bool


class WebhookDeliveryAbandoned(LedgerEvent):
    internal = True
    webhook_id: str
    delivery_id: str
    reason: str


@dataclass
class Delivery:
    delivery_id: str
    webhook_id: str
    source_event_id: str
    attempts: list[WebhookDeliveryAttempted] = field(default_factory=list)
    claimed: WebhookDeliveryClaimed | None = None
    delivered: bool = False
    abandoned: str | None = None

    @property
    def settled(self) -> bool:
        return self.delivered or self.abandoned is not None


@dataclass
class Receiver:
    webhook_id: str
    url: str
    url_hint: str
    events: list[str]
    secret: str
    registered_at: datetime
    key_label: str
    deleted: bool = False


class Webhooks(LedgerAggregate):
    kind = "webhooks"
    events = (
        WebhookRegistered,
        WebhookDeleted,
        WebhookDeliveryClaimed,
        WebhookDeliveryAttempted,
        WebhookDeliveryAbandoned,
    )

    def init_state(self) -> None:
        self.receivers: dict[str, Receiver] = {}
        self.deliveries: dict[str, Delivery] = {}

    def apply(self, event: LedgerEvent) -> None:
        super().apply(event)
        if isinstance(event, WebhookRegistered):
            self.receivers[event.webhook_id] = Receiver(
                event.webhook_id,
                event.url,
                event.url_hint,
                list(event.events),
                event.secret,
                event.timestamp,
                event.key_label,
            )
        elif isinstance(event, WebhookDeleted):
            self.receivers[event.webhook_id].deleted = True
        elif isinstance(event, WebhookDeliveryClaimed):
            delivery = self.deliveries.setdefault(
                event.delivery_id,
                Delivery(event.delivery_id, event.webhook_id, event.source_event_id),
            )
            delivery.claimed = event
        elif isinstance(event, WebhookDeliveryAttempted):
            delivery = self.deliveries[event.delivery_id]
            delivery.attempts.append(event)
            delivery.claimed = None
            delivery.delivered = event.delivered
        elif isinstance(event, WebhookDeliveryAbandoned):
            self.deliveries[event.delivery_id].abandoned = event.reason

    def private_copy(self) -> Webhooks:
        clone = super().private_copy()
        clone.receivers = {k: Receiver(**vars(r)) for k, r in self.receivers.items()}
        clone.deliveries = {
            k: Delivery(**(vars(d) | {"attempts": list(d.attempts)}))
            for k, d in self.deliveries.items()
        }
        return clone

    def active(self, webhook_id: str) -> Receiver:
        receiver = self.receivers.get(webhook_id)
        if receiver is None or receiver.deleted:
            raise NotFound(f"no webhook {webhook_id}")
        return receiver

    def register(self, **registration: object) -> None:
        self.trigger(WebhookRegistered, **registration)

    def delete(self, webhook_id: str) -> None:
        self.active(webhook_id)
        self.trigger(WebhookDeleted, webhook_id=webhook_id)

    def claim(
        self,
        webhook_id: str,
        delivery_id: str,
        source_event_id: str,
        now: datetime,
        lease: timedelta,
    ) -> int:
        """Claim the next attempt of a delivery for `lease`; AlreadyDone if it is settled
        or another dispatcher holds an unexpired claim. Returns the attempt's number."""
        self.active(webhook_id)
        delivery = self.deliveries.get(delivery_id)
        if delivery is not None:
            if delivery.settled:
                raise AlreadyDone("the delivery is settled")
            if delivery.claimed is not None and delivery.claimed.until > now:
                raise AlreadyDone("another dispatcher is sending this attempt")
        attempt = (len(delivery.attempts) if delivery else 0) + 1
        self.trigger(
            WebhookDeliveryClaimed,
            webhook_id=webhook_id,
            delivery_id=delivery_id,
            source_event_id=source_event_id,
            attempt=attempt,
            until=now + lease,
        )
        return attempt

    def attempted(self, **outcome: object) -> None:
        delivery = self.deliveries.get(str(outcome["delivery_id"]))
        if delivery is None or delivery.settled:
            raise AlreadyDone("the delivery is settled")
        self.trigger(WebhookDeliveryAttempted, **outcome)

    def abandon(self, webhook_id: str, delivery_id: str, reason: str) -> None:
        delivery = self.deliveries.get(delivery_id)
        if delivery is not None and delivery.settled:
            raise AlreadyDone("the delivery is settled")
        self.trigger(
            WebhookDeliveryAbandoned, webhook_id=webhook_id, delivery_id=delivery_id, reason=reason
        )
