"""The webhook dispatcher: the event store is the outbox.

It follows the notification log (like the relay) for the events a webhook can
subscribe to, and for each (webhook, event) pair makes one delivery whose id, the
Standard Webhooks `webhook-id`, follows from the pair: the same on every retry. Each
attempt is claimed in the store first (so two dispatchers never send the same attempt
twice; a claim of a crashed dispatcher expires), sent signed, and its answer recorded.
A 2xx settles it; anything else is retried with backoff until 24 hours after the
event, then abandoned. What is settled is in the store, so a restart re-sends nothing
a receiver acknowledged, and a crash between the event and the POST loses nothing:
the scan restarts from the last position below which everything was settled.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from eventsourcing.persistence import Tracking
from standardwebhooks.webhooks import Webhook

from ledger.aggregates.webhooks import Receiver, Webhooks
from ledger.clock import Clock
from ledger.commands.base import Caller, Command
from ledger.commands.webhooks import (
    WEBHOOK_EVENTS,
    AbandonDelivery,
    ClaimDelivery,
    RecordDeliveryAttempt,
    sealing_key,
)
from ledger.envelope import envelope_of
from ledger.errors import Conflict, Invalid, LedgerError
from ledger.logs import cause, get_logger
from ledger.service import Ledger
from ledger.store import topic_of
from ledger.webhooks.urls import check_url

log = get_logger("ledger.webhooks")
NAMES = {event: name for name, event in WEBHOOK_EVENTS.items()}
RETENTION = timedelta(hours=24)
MAX_BACKOFF = timedelta(hours=4)
DISPATCHER = "webhook dispatcher"  # the key label its commands carry
Execute = Callable[[Command, Caller], dict[str, Any]]


@dataclass
class Pending:
    tenant_id: str
    webhook_id: str
    delivery_id: str
    envelope: dict[str, Any]
    position: int
    due: float = 0.0  # monotonic time of the next attempt


def delivery_id(webhook_id: str, event_id: str) -> str:
    """The Standard Webhooks message id of one event to one webhook: the same on retries."""
    return "msg_" + uuid.uuid5(uuid.UUID(webhook_id), event_id).hex


def backoff(attempts: int, base: float) -> timedelta:
    """The wait after `attempts` failed attempts: base, 4x base, 16x ..., at most 4 hours."""
    return min(timedelta(seconds=base * 4 ** max(0, attempts - 1)), MAX_BACKOFF)


def summary(envelope: dict[str, Any]) -> str:
    """One line a person reads in a chat channel (Slack's and Teams' `text`)."""
    p = envelope["payload"]
    where = f"team {p['team']}" if p.get("team") else "the whole company"
    if envelope["event_type"] == "DriftAlertRaised":
        return (
            f"Drift alert: {p['value']} is fading in {where} since {p['onset']}: "
            f"{p['share_since_onset']:.0%} of behaviors since then, against a baseline of "
            f"{p['baseline_share']:.0%} and a target of {p['target']:.0%}."
        )
    return f"A drift alert was acknowledged by {p.get('by_key_label')}: {p.get('note')}"


def body(envelope: dict[str, Any]) -> bytes:
    """The Standard Webhooks payload: type, timestamp, data; plus `text` for chat tools."""
    data = {
        **envelope["payload"],
        "tenant_id": envelope["tenant_id"],
        "event_id": envelope["event_id"],
        "position": envelope["position"],
    }
    if envelope["event_type"] == "DriftAlertAcknowledged":
        data["alert_id"] = envelope["aggregate_id"]
    return orjson.dumps(
        {
            "type": NAMES[envelope["event_type"]],
            "timestamp": envelope["recorded_at"],
            "data": data,
            "text": summary(envelope),
        }
    )


class Dispatcher:
    def __init__(
        self,
        ledger: Ledger,
        execute: Execute,
        allow_private: bool = False,
        retry_base: float = 5.0,
        lease: float = 60.0,
        clock: Clock | None = None,
        name: str = "webhooks",
    ) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.execute = execute
        self.allow_private = allow_private
        self.retry_base = retry_base
        self.lease = lease
        self.clock = clock or ledger.clock
        self.name = name
        self.tracking = self.store.tracking_recorder()
        self.topics = [topic_of(t) for t in _event_classes()]
        self.position = int(self.tracking.max_tracking_id(name) or 0)
        self.pending: dict[str, Pending] = {}
        self.sent = 0
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.client = httpx.Client(timeout=10.0, follow_redirects=False)

    # -- finding what to deliver ---------------------------------------------------------

    def scan(self) -> None:
        """Pick up the events after the scanned position that webhooks subscribe to."""
        while True:
            page = self.store.select(self.position, 500, topics=self.topics)
            for notification in page:
                envelope = envelope_of(notification)
                if envelope is not None:
                    self._schedule(envelope)
                self.position = notification.id
            if len(page) < 500:
                break

    def _schedule(self, envelope: dict[str, Any]) -> None:
        tenant_id = envelope["tenant_id"]
        webhooks = self.store.load(Webhooks, Webhooks.id_for(tenant_id))
        if webhooks is None:
            return
        recorded = datetime.fromisoformat(envelope["recorded_at"])
        name = NAMES[envelope["event_type"]]
        for receiver in webhooks.receivers.values():
            if receiver.deleted or name not in receiver.events or receiver.registered_at > recorded:
                continue
            ident = delivery_id(receiver.webhook_id, envelope["event_id"])
            delivery = webhooks.deliveries.get(ident)
            if delivery is not None and delivery.settled:
                continue
            pending = Pending(tenant_id, receiver.webhook_id, ident, envelope, envelope["position"])
            if delivery is not None and delivery.attempts:
                last = delivery.attempts[-1]
                wait = last.at + backoff(len(delivery.attempts), self.retry_base) - self.clock.now()
                pending.due = time.monotonic() + max(0.0, wait.total_seconds())
            self.pending.setdefault(ident, pending)

    # -- delivering ------------------------------------------------------------------------

    def deliver_due(self) -> int:
        done = 0
        for pending in sorted(self.pending.values(), key=lambda p: p.position):
            if pending.due <= time.monotonic():
                done += self._attempt(pending)
        self._advance()
        return done

    def _attempt(self, pending: Pending) -> int:
        caller = Caller(pending.tenant_id, "system", DISPATCHER)
        webhooks = self.store.load(Webhooks, Webhooks.id_for(pending.tenant_id))
        receiver = webhooks.receivers.get(pending.webhook_id) if webhooks else None
        if receiver is None or receiver.deleted:
            self.pending.pop(pending.delivery_id, None)  # deleted: nothing more to send
            return 0
        recorded = datetime.fromisoformat(pending.envelope["recorded_at"])
        if self.clock.now() - recorded > RETENTION:
            self._settle(
                AbandonDelivery(
                    webhook_id=pending.webhook_id,
                    delivery_id=pending.delivery_id,
                    reason="no receiver acknowledged it within 24 hours",
                ),
                caller,
                pending,
            )
            return 0
        try:
            claimed = self.execute(
                ClaimDelivery(
                    webhook_id=pending.webhook_id,
                    delivery_id=pending.delivery_id,
                    source_event_id=pending.envelope["event_id"],
                    lease_seconds=self.lease,
                ),
                caller,
            )
        except Conflict:
            # Settled, or another dispatcher is sending it: look again after its lease.
            pending.due = time.monotonic() + self.lease
            self._reload(pending)
            return 0
        status, error = self._post(receiver, pending)
        delivered = status is not None and 200 <= status < 300
        self._settle(
            RecordDeliveryAttempt(
                webhook_id=pending.webhook_id,
                delivery_id=pending.delivery_id,
                attempt=claimed["attempt"],
                at=self.clock.now(),
                status=status,
                error=error,
                delivered=delivered,
            ),
            caller,
            pending,
        )
        if delivered:
            self.sent += 1
            return 1
        pending.due = (
            time.monotonic() + backoff(claimed["attempt"], self.retry_base).total_seconds()
        )
        log.warning(
            "webhook delivery failed; it will be retried",
            tenant=pending.tenant_id,
            webhook_id=pending.webhook_id,
            attempt=claimed["attempt"],
            status=status,
            error=error,
        )
        return 0

    def _post(self, receiver: Receiver, pending: Pending) -> tuple[int | None, str | None]:
        """Send one signed attempt: (status, error); never raises."""
        personal = self.ledger.personal
        seal = sealing_key(receiver.webhook_id)
        url = personal.decrypt(pending.tenant_id, seal, receiver.url)
        secret = personal.decrypt(pending.tenant_id, seal, receiver.secret)
        if url is None or secret is None:
            return None, "the webhook's keys are gone (it was deleted)"
        try:
            check_url(url, self.allow_private)  # the name may resolve elsewhere by now
        except Invalid as refused:
            return None, refused.detail
        payload = body(pending.envelope)
        # Signature time is the receivers' clock (they check it within minutes): the wall
        # clock, whatever moment the ledger's own clock was started at (tests).
        sent_at = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": pending.delivery_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(secret).sign(
                pending.delivery_id, sent_at, payload.decode()
            ),
        }
        try:
            answer = self.client.post(url, content=payload, headers=headers)
        except httpx.HTTPError as error:
            return None, f"{type(error).__name__}: {error}"[:300]
        if 300 <= answer.status_code < 400:
            return answer.status_code, "redirects are not followed"
        return answer.status_code, None if answer.is_success else answer.text[:200] or None

    def _settle(self, command: Command, caller: Caller, pending: Pending) -> None:
        with contextlib.suppress(Conflict):  # settled by another dispatcher meanwhile
            self.execute(command, caller)
        if not isinstance(command, RecordDeliveryAttempt) or command.delivered:
            self.pending.pop(pending.delivery_id, None)

    def _reload(self, pending: Pending) -> None:
        webhooks = self.store.load(Webhooks, Webhooks.id_for(pending.tenant_id))
        delivery = webhooks.deliveries.get(pending.delivery_id) if webhooks else None
        if delivery is not None and delivery.settled:
            self.pending.pop(pending.delivery_id, None)

    def _advance(self) -> None:
        """Record the position below which every delivery is settled (where a restart
        scans from)."""
        low = min((p.position for p in self.pending.values()), default=self.position + 1) - 1
        if low > int(self.tracking.max_tracking_id(self.name) or 0):
            self.tracking.insert_tracking(Tracking(self.name, low))

    # -- running ------------------------------------------------------------------------

    def step(self) -> int:
        self.store.sync()
        self.scan()
        return self.deliver_due()

    def run(self, every: float = 1.0) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except LedgerError as refusal:
                log.error("webhook dispatch refused", error=cause(refusal))
            except Exception as error:  # the store or the network: retried next turn
                log.error("webhook dispatch failed; retrying", error=cause(error))
            self.stopping.wait(every)

    def start(self, every: float = 1.0) -> None:
        self.thread = threading.Thread(target=self.run, args=(every,), name="webhooks", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
        self.client.close()


def _event_classes() -> list[type]:
    from ledger.aggregates.drift_alert import DriftAlertAcknowledged, DriftAlertRaised

    return [DriftAlertRaised, DriftAlertAcknowledged]
