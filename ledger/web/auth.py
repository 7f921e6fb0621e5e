"""Authentication (bearer API keys, operator token) and the per-key rate limit."""

from __future__ import annotations

import hmac
import re
import threading
import time

from fastapi import Request

from ledger.commands.base import Caller
from ledger.errors import Forbidden, Unauthenticated
from ledger.service import Ledger
from ledger.web.problems import Problem

READ_ROLES = ("admin", "manager", "service", "analyst")
FEED_ROLES = ("admin", "analyst")
# The drift watch and its recalibration: people who act on the company's alignment.
DRIFT_ROLES = ("admin", "manager", "analyst")
# Messages of recognitions are personal data: the admin's and the service's (the system
# that shows them to the two members), not a manager's or an analyst's.
MESSAGE_ROLES = ("admin", "service")


# Keys and tokens are URL-safe ASCII; anything else cannot be one (and is not looked up).
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9._~+/=-]{1,512}$")


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not TOKEN_SHAPE.match(token):
        return None
    return token


class RateLimiter:
    """Token buckets: `rate` per second per key, bursts up to `burst` (default `rate`)."""

    MAX_KEYS = 50_000  # beyond this, idle (full) buckets are dropped: memory stays bounded

    def __init__(self, rate: float, burst: float | None = None, what: str = "API key") -> None:
        self.rate = rate
        self.burst = burst if burst is not None else rate
        self.what = what
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def check(self, key: str, spend: bool = True) -> None:
        """Spend a token (or, with spend=False, only look); 429 when there is none."""
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                retry = max(1, int((1 - tokens) / self.rate + 0.999))
                self.buckets[key] = (tokens, now)
                raise Problem(
                    429, f"rate limit exceeded for this {self.what}", {"Retry-After": str(retry)}
                )
            self.buckets[key] = (tokens - 1 if spend else tokens, now)
            if len(self.buckets) > self.MAX_KEYS:
                self._prune(now)

    def _prune(self, now: float) -> None:
        full = [
            k for k, (t, last) in self.buckets.items() if t + (now - last) * self.rate >= self.burst
        ]
        for key in full:
            del self.buckets[key]


def client_of(request: Request) -> str:
    """The peer address; behind a proxy listed in LEDGER_TRUSTED_PROXIES, the address it
    forwarded (never a header from anyone else: a caller must not choose its address)."""
    return request.client.host if request.client else "unknown"


class Authenticator:
    """Bearer keys and the operator token.

    Only failures are slowed, per client address: 10, then `failure_rate` a second (429
    with Retry-After past that). A valid key or token is answered whatever else came from
    its address, so a guesser behind a shared NAT or proxy cannot lock its neighbours out.
    That does not slow a search for a key, and need not: keys carry 256 random bits and
    the operator token at least 24 characters; the throttle bounds what failing clients
    cost (each failure is a store lookup) and keeps them out of the logs' way.
    """

    def __init__(
        self,
        ledger: Ledger,
        operator_token: str,
        limiter: RateLimiter,
        failure_rate: float = 1.0,
        operator_rate: float = 2.0,
    ) -> None:
        self.ledger = ledger
        self.operator_token = operator_token
        self.limiter = limiter
        self.failures = RateLimiter(failure_rate, 10 * failure_rate, "client's failed sign-ins")
        # The operator's own calls, wherever they come from: its pace, not its address's.
        self.operators = RateLimiter(operator_rate, 10 * operator_rate, "operator token")

    def caller(self, request: Request, roles: tuple[str, ...] = READ_ROLES) -> Caller:
        token = bearer(request)
        try:
            caller = self.ledger.authenticate(token)
        except Unauthenticated:
            self.failures.check(client_of(request))
            raise
        assert token is not None
        request.state.tenant_id = caller.tenant_id  # for the access log line
        self.limiter.check(token)
        if caller.role not in roles:
            raise Forbidden(f"role {caller.role!r} may not do this")
        return caller

    def operator(self, request: Request) -> Caller:
        token = bearer(request)
        if not token or not hmac.compare_digest(token.encode(), self.operator_token.encode()):
            self.failures.check(client_of(request))
            raise Unauthenticated("the operator token is required")
        self.operators.check("operator")
        return Caller("", "operator", "operator")
