"""CSV of every read route, for the people who paste it into a spreadsheet anyway.

API.md: every query and catalog route answers CSV (header row, one row per entry, the
same fields and figures) when asked with `Accept: text/csv`. One ASGI middleware does it
for every `GET /v1/...` after the route has answered its JSON, so a CSV can never differ
from the JSON it came from (the typed answers are validated and serialized first), and
a refusal stays a problem document (only a 200 JSON answer is turned into a table).

The rows are the document's list of entries (`ROWS`, else its first list; a document
without one, such as one award, is one row). Nested objects become dotted columns
(`period.start`), lists of plain values are joined with `|`, lists of objects are kept
as JSON text. The document's position is in `X-As-Of-Position`, a page's cursor in
`X-Next-Cursor`. Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab,
carriage return first) is prefixed with `'` (OWASP "CSV injection"): names and messages
are other people's input.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

CSV_TYPE = "text/csv"
# Which list of a document its rows are, where a document has more than one.
# "": the document itself is the one row (the summary's figures; its campaigns as JSON).
ROWS = {
    "/v1/drift": "alerts",
    "/v1/strategy": "revisions",
    "/v1/summary": "",
    "/v1/recognitions/flow": "flow",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(accept: str) -> bool:
    """True when `accept` prefers text/csv to JSON (media ranges with q values)."""
    best: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, number = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(number)
                except ValueError:
                    q = 0.0
        best[media.lower()] = max(q, best.get(media.lower(), 0.0))
    csv_q = best.get(CSV_TYPE, 0.0)
    json_q = max(best.get("application/json", 0.0), best.get("application/*", 0.0))
    return csv_q > 0 and csv_q >= json_q


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= _flat(value, f"{name}.")
        elif isinstance(value, list):
            plain = all(not isinstance(v, dict | list) for v in value)
            out[name] = "|".join(_cell(v) for v in value) if plain else orjson.dumps(value).decode()
        else:
            out[name] = value
    return out


def rows_of(path: str, doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        return [{"value": doc}]
    key = ROWS.get(path)
    if key is None:
        key = next((k for k, v in doc.items() if isinstance(v, list)), None)
    if not key:
        return [_flat(doc)]
    return [_flat(r) if isinstance(r, dict) else {key: r} for r in doc[key]]


def to_csv(path: str, doc: Any) -> bytes:
    rows = rows_of(path, doc)
    columns: dict[str, None] = {}
    for row in rows:
        columns |= dict.fromkeys(row)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(list(columns))
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue().encode()


class CsvTables:
    """ASGI middleware: `GET /v1/...` with `Accept: text/csv` answers the JSON as a table."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith("/v1/")
            or not wants_csv(_header(scope, b"accept"))
        ):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def buffered(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = list(start.get("headers", []))
            content_type = dict((bytes(k).lower(), bytes(v)) for k, v in headers).get(
                b"content-type", b""
            )
            if start.get("status") != 200 or not content_type.startswith(b"application/json"):
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            doc = orjson.loads(body)
            table = to_csv(scope["path"], doc)
            kept = [
                (k, v)
                for k, v in headers
                if bytes(k).lower() not in (b"content-type", b"content-length")
            ]
            kept += [
                (b"content-type", b"text/csv; charset=utf-8"),
                (b"content-length", str(len(table)).encode()),
                (b"vary", b"Accept"),
            ]
            if isinstance(doc, dict):
                for field, header in (
                    ("as_of_position", b"x-as-of-position"),
                    ("next_cursor", b"x-next-cursor"),
                ):
                    if doc.get(field) is not None:
                        kept.append((header, str(doc[field]).encode()))
            await send({**start, "headers": kept})
            await send({"type": "http.response.body", "body": table})

        await self.app(scope, receive, buffered)


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""
