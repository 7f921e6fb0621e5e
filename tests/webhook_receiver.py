"""A webhook receiver on 127.0.0.1 for tests: records every request, answers as told."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)  # statuses to give in turn, then 200
    received: list[Received] = field(default_factory=list)
    location: str | None = None  # answered with a 3xx
    # While set, requests are held unanswered (a sender killed mid-request never hears).
    holding: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} deliveries"
            time.sleep(0.05)
        return self.received


@contextmanager
def receiver(
    answers: list[int] | None = None, location: str | None = None, hold: bool = False
) -> Iterator[Receiver]:
    state = Receiver("", list(answers or []), location=location)
    if hold:
        state.holding.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            state.received.append(Received(dict(self.headers), self.rfile.read(length)))
            deadline = time.monotonic() + 60
            while state.holding.is_set() and time.monotonic() < deadline:
                time.sleep(0.05)
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            if state.location and 300 <= status < 400:
                self.send_header("Location", state.location)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
