"""Page cursors of the catalog's lists: the last item's sort key, base64 of JSON.

A cursor is input like any other: a client can send any bytes. Each list declares the
shape of its key (a text, a position, an instant), and a cursor that does not have
exactly that shape is a 422 before it reaches a query.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson

from ledger.commands.base import EARLIEST_YEAR, LATEST_YEAR
from ledger.errors import Invalid

Part = Callable[[object], Any]
MAX_POSITION = 2**62


def text(part: object) -> str:
    """An id or key (member, mission, value): a non-empty string."""
    if type(part) is not str or not 0 < len(part) <= 200:
        raise ValueError("not a key")
    return part


def position(part: object) -> int:
    """An event-store position (booleans are not integers here)."""
    if type(part) is not int or not 0 <= part <= MAX_POSITION:
        raise ValueError("not a position")
    return part


def instant(part: object) -> datetime:
    """An ISO instant with its offset, in the years the ledger accepts."""
    if type(part) is not str or len(part) > 40:
        raise ValueError("not an instant")
    moment = datetime.fromisoformat(part)
    if moment.tzinfo is None or not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError("not an instant")
    return moment


def encode(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode(cursor: str | None, shape: Sequence[Part]) -> list[Any] | None:
    """The sort key a cursor names, each part checked by `shape`; anything else is a 422."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = orjson.loads(raw)
        if not isinstance(key, list) or len(key) != len(shape):
            raise ValueError("wrong arity")
        return [check(part) for check, part in zip(shape, key, strict=True)]
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise Invalid(
            "not a cursor of this list: pass next_cursor as it was given", field="cursor"
        ) from None
