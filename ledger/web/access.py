"""Access log and request metrics, as a pure ASGI middleware (no per-request task hop).

One log line per request: request id, tenant, method, route template (never the raw
path or query, which may carry member ids), status and latency. The request id comes
from a well-formed `X-Request-Id` or is generated, and is echoed in the response.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog

from ledger.logs import get_logger
from ledger.web.headers import ANSWER_HEADERS

log = get_logger("ledger.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


Observe = Callable[[str, str, int, float], None]


class AccessLog:
    def __init__(self, app: Any, observe: Observe) -> None:
        self.app = app
        self.observe = observe  # (method, route, status, seconds) -> metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given if given and REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})
        status = 500

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                present = {bytes(name).lower() for name, _ in headers}
                headers.append((b"x-request-id", request_id.encode()))
                # Answers carry keys and personal data: no cache keeps them, no sniffing.
                for name, value in ANSWER_HEADERS:
                    if name not in present:
                        headers.append((name, value))
                if status == 401 and b"www-authenticate" not in present:
                    headers.append((b"www-authenticate", b'Bearer realm="ledger"'))
                message["headers"] = headers
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.observe(scope["method"], route, status, elapsed)
            log.info(
                "request",
                tenant=scope["state"].get("tenant_id"),
                method=scope["method"],
                route=route,
                status=status,
                ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
