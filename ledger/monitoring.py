"""Health and metrics of the long-running processes, and the one measure of projection lag."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ledger.envelope import envelope_of, event_class
from ledger.store import EventStore

# Counting the unapplied public events reads at most this many notifications per scrape;
# past it the lag is reported as the distance in positions (an upper bound).
LAG_COUNT_LIMIT = 20_000


def projection_lag(store: EventStore, applied: int, now: datetime) -> tuple[int, float]:
    """(public events recorded but not applied, age in seconds of the oldest of them).

    `applied` is the furthest position the projection applied (Projection.applied_position),
    so the measure is the same whether the projection follows the store or Kafka;
    internal events (keys, idempotency records) never reach a projection and do not count.
    """
    head = store.max_position()
    if head <= applied:
        return 0, 0.0
    count, oldest, after = 0, None, applied
    while after < head and after - applied < LAG_COUNT_LIMIT:
        page = store.select(after, 1_000)
        if not page:
            break
        for notification in page:
            if event_class(notification.topic).internal:
                continue
            count += 1
            if oldest is None:
                oldest = envelope_of(notification)
        after = page[-1].id
    if after < head:
        count += head - after  # beyond what we counted: every position may be an event
    if oldest is None:
        return count, 0.0
    recorded = datetime.fromisoformat(oldest["recorded_at"].replace("Z", "+00:00"))
    return count, max(0.0, (now - recorded).total_seconds())


class Snapshotting(Protocol):
    copies: int
    seconds: float


class HttpMetrics:
    """What `ledger serve` reports on /metrics: requests, command outcomes, the store's
    head, projection lag, and the analysts' snapshot copies."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "ledger_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "ledger_http_request_seconds", "HTTP latency", ["method", "route"], registry=registry
        )
        self.outcomes = Counter(
            "ledger_commands_total", "Command outcomes", ["command", "outcome"], registry=registry
        )
        self.lag_events = Gauge(
            "ledger_projection_lag_events",
            "Events recorded but not yet projected",
            registry=registry,
        )
        self.lag_seconds = Gauge(
            "ledger_projection_lag_seconds",
            "Age of the oldest event not yet projected",
            registry=registry,
        )
        self.head = Gauge(
            "ledger_event_store_position",
            "Last position recorded in the event store",
            registry=registry,
        )
        self.snapshot_copies = Gauge(
            "ledger_snapshot_copies", "Analysts' snapshots published since start", registry=registry
        )
        self.snapshot_seconds = Gauge(
            "ledger_snapshot_copy_seconds",
            "How long publishing the last snapshot took (the parts that changed)",
            registry=registry,
        )

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def command(self, command: str, outcome: str) -> None:
        self.outcomes.labels(command, outcome).inc()

    def scrape(
        self, store: EventStore, applied: int, now: datetime, snapshots: Snapshotting | None
    ) -> None:
        self.head.set(store.max_position())
        events, seconds = projection_lag(store, applied, now)
        self.lag_events.set(events)
        self.lag_seconds.set(seconds)
        if snapshots is not None:
            self.snapshot_copies.set(snapshots.copies)
            self.snapshot_seconds.set(snapshots.seconds)


class ProcessMetrics:
    """What `ledger relay` and `ledger project` report on their ops port: lag behind the
    store, whether their loop makes progress, and counters of their own."""

    def __init__(self, process: str) -> None:
        self.registry = registry = CollectorRegistry()
        self.lag_events = Gauge(
            f"ledger_{process}_lag_events", "Events recorded but not yet handled", registry=registry
        )
        self.lag_seconds = Gauge(
            f"ledger_{process}_lag_seconds",
            "Age of the oldest event not yet handled",
            registry=registry,
        )
        self.up = Gauge(
            f"ledger_{process}_healthy", "1 while the loop makes progress", registry=registry
        )

    def counter(self, name: str, description: str) -> Counter:
        return Counter(name, description, registry=self.registry)

    def scrape(self, store: EventStore, handled: int, now: datetime, healthy: bool) -> None:
        events, seconds = projection_lag(store, handled, now)
        self.lag_events.set(events)
        self.lag_seconds.set(seconds)
        self.up.set(1 if healthy else 0)


class OpsServer:
    """`/metrics` (Prometheus text) and `/healthz` for `ledger relay` and `ledger project`.

    `health()` returns (healthy, details); unhealthy answers 503, so a container health
    check restarts a process whose loop stopped making progress.
    """

    def __init__(
        self,
        port: int,
        registry: CollectorRegistry,
        health: Callable[[], tuple[bool, dict[str, Any]]],
        before_scrape: Callable[[], None] = lambda: None,
        host: str = "0.0.0.0",  # noqa: S104  (inside a container; the compose file maps ports)
    ) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/metrics":
                    outer.before_scrape()
                    self._send(200, generate_latest(outer.registry), CONTENT_TYPE_LATEST)
                elif self.path.split("?")[0] == "/healthz":
                    healthy, details = outer.health()
                    body = orjson.dumps({"status": "ok" if healthy else "unhealthy", **details})
                    self._send(200 if healthy else 503, body, "application/json")
                else:
                    self._send(404, b'{"status": 404}', "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None  # scrapes every few seconds are not news

        self.registry = registry
        self.health = health
        self.before_scrape = before_scrape
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> OpsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
