"""Response headers that protect readers: every answer, the dashboard's pages, the API docs.

Answers carry keys and personal data, so no cache keeps them and no browser sniffs them.
Pages run only the ledger's own script and styles and are never framed. Swagger UI and
ReDoc (served from the package's own assets) get the same frame and origin rules; their
one inline bootstrap script is allowed by its hash, computed from the page itself.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

ANSWER_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
)
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def docs_policy(html: bytes) -> list[tuple[bytes, bytes]]:
    """Headers for a docs page: its inline scripts allowed by hash, nothing else inline.

    Swagger UI and ReDoc set element styles from script (styled components), hence
    'unsafe-inline' for styles only; ReDoc renders in a worker made from a blob."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in INLINE_SCRIPT.findall(html)
    )
    policy = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    )
    return [
        (b"content-security-policy", policy.encode()),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]


class DocsHeaders:
    """ASGI middleware: the docs pages' headers, computed from their bodies (small HTML)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in DOCS_PATHS:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body = b""

        async def buffered(message: dict[str, Any]) -> None:
            nonlocal body
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body += message.get("body", b"")
            if message.get("more_body"):
                return
            headers = [
                (name, value)
                for name, value in start.get("headers", [])
                if bytes(name).lower() != b"content-length"
            ]
            headers += [*docs_policy(body), (b"content-length", str(len(body)).encode())]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered)
