"""Authentication (bearer API keys, operator token) and the per-key rate limit."""

from __future__ import annotations

import hmac
import threading
import time

from fastapi import Request

from ledger.api.problems import Problem
from ledger.commands.base import Caller
from ledger.errors import Forbidden, Unauthenticated
from ledger.service import Ledger

READ_ROLES = ("admin", "manager", "service", "analyst")
FEED_ROLES = ("admin", "analyst")


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class RateLimiter:
    """Token bucket per API key: `rate` requests per second, bursts up to `rate`."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def check(self, key: str) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(key, (self.rate, now))
            tokens = min(self.rate, tokens + (now - last) * self.rate)
            if tokens < 1:
                retry = max(1, int((1 - tokens) / self.rate + 0.999))
                self.buckets[key] = (tokens, now)
                raise Problem(
                    429, "rate limit exceeded for this API key", {"Retry-After": str(retry)}
                )
            self.buckets[key] = (tokens - 1, now)


class Authenticator:
    def __init__(self, ledger: Ledger, operator_token: str, limiter: RateLimiter) -> None:
        self.ledger = ledger
        self.operator_token = operator_token
        self.limiter = limiter

    def caller(self, request: Request, roles: tuple[str, ...] = READ_ROLES) -> Caller:
        token = bearer(request)
        caller = self.ledger.authenticate(token)
        assert token is not None
        self.limiter.check(token)
        if caller.role not in roles:
            raise Forbidden(f"role {caller.role!r} may not do this")
        return caller

    def operator(self, request: Request) -> Caller:
        token = bearer(request)
        if not token or not hmac.compare_digest(token, self.operator_token):
            raise Unauthenticated("the operator token is required")
        return Caller("", "operator", "operator")
