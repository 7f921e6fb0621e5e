"""Which URLs a tenant admin may have the ledger call: https, and only public addresses.

A webhook makes the ledger's own network send requests, so an admin of one tenant must
not be able to point it at the operator's private network (server-side request
forgery): the URL must be https and its host must resolve only to global addresses
(not loopback, private, link-local, shared, reserved or multicast). The same check
runs again before every delivery (the name may resolve elsewhere by then), and
deliveries never follow redirects. `LEDGER_WEBHOOK_ALLOW_PRIVATE=1` (tests,
development) allows http and any address.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ledger.errors import Invalid

MAX_URL = 2000


def check_url(url: str, allow_private: bool = False) -> None:
    """Refuse (Invalid, field `url`) a URL the ledger must not call."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Invalid("not a URL", field="url") from None
    if len(url) > MAX_URL or not parts.hostname:
        raise Invalid("not a URL with a host", field="url")
    if parts.username or parts.password:
        raise Invalid("a URL must not carry a user name or password", field="url")
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise Invalid("a webhook URL must be https", field="url")
    if allow_private:
        return
    for address in resolve(parts.hostname, port or 443):
        if not address.is_global:
            raise Invalid(
                f"{parts.hostname} resolves to a non-public address ({address})", field="url"
            )


def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise Invalid(f"{host} does not resolve", field="url") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


def hint(url: str) -> str:
    """What a list may show of a URL: its scheme and host (paths of chat webhooks are
    secrets in themselves, so they are stored sealed and never shown again)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"
