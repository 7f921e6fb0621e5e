"""Webhook reads (admin): the registered receivers and each one's delivery log. They read
the tenant's Webhooks stream in the store (internal: not in the projections)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from ledger.aggregates.webhooks import Webhooks
from ledger.commands.base import ADMIN
from ledger.errors import NotFound
from ledger.service import Ledger
from ledger.web.auth import Authenticator


def install(
    app: FastAPI, ledger: Ledger, auth: Authenticator, responses: dict[int | str, Any]
) -> None:
    def registered(request: Request) -> Webhooks:
        caller = auth.caller(request, ADMIN)
        ledger.store.sync()
        found = ledger.store.load(Webhooks, Webhooks.id_for(caller.tenant_id))
        return found or Webhooks(Webhooks.id_for(caller.tenant_id), caller.tenant_id)

    @app.get("/v1/webhooks", tags=["webhooks"], responses=responses)
    async def webhooks(request: Request) -> dict[str, Any]:
        """The tenant's webhooks (the URL's scheme and host only: paths can be secrets)."""
        found = await run_in_threadpool(registered, request)
        return {
            "webhooks": [
                {
                    "webhook_id": r.webhook_id,
                    "url": r.url_hint,
                    "events": r.events,
                    "registered_at": r.registered_at.isoformat(),
                    "registered_by": r.key_label,
                }
                for r in found.receivers.values()
                if not r.deleted
            ]
        }

    @app.get("/v1/webhooks/{webhook_id}/deliveries", tags=["webhooks"], responses=responses)
    async def deliveries(request: Request, webhook_id: uuid.UUID) -> dict[str, Any]:
        """Every delivery to the webhook, newest first, with each attempt's answer."""
        found = await run_in_threadpool(registered, request)
        if str(webhook_id) not in found.receivers:
            raise NotFound(f"no webhook {webhook_id}")
        listed = [d for d in found.deliveries.values() if d.webhook_id == str(webhook_id)]
        return {
            "deliveries": [
                {
                    "delivery_id": d.delivery_id,
                    "event_id": d.source_event_id,
                    "delivered": d.delivered,
                    "abandoned": d.abandoned,
                    "attempts": [
                        {
                            "attempt": a.attempt,
                            "at": a.at.isoformat(),
                            "status": a.status,
                            "error": a.error,
                        }
                        for a in d.attempts
                    ],
                }
                for d in reversed(listed)
            ]
        }
