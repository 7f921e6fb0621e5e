"""A cursor is input: forged ones are a clear 422 on every list, never a 500 (issue 17).

Hypothesis forges cursors of every shape (any text; base64 of any JSON: lists of the
right and wrong arity, with negative, huge and boolean numbers, floats, nulls, nested
lists, instants and non-instants) and sends them through real HTTP.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.http_server import create_tenant, running_server
from tests.integration.test_http_api import Api
from tests.support import now

LISTS = ("/v1/values", "/v1/members", "/v1/missions", "/v1/recognitions", "/v1/campaigns")
# The forged cursors the issue named, each a 500 before.
NAMED = ("WzFd", "WyJ4Il0", "WzEsMl0", "Wy0xXQ", "WzE4NDQ2NzQ0MDczNzA5NTUxNjE2XQ", "W3RydWVd")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_server(tmp_path_factory.mktemp("cursors")) as url:
        admin = Api(url, create_tenant(url, "acme"))
        for key in ("care", "speed"):
            admin.ok("/v1/values", {"key": key, "name": key.title()})
        for member in ("ana", "bo"):
            admin.ok(
                "/v1/members",
                {
                    "member_id": member,
                    "display_name": member.title(),
                    "team": "t",
                    "joined_at": (now() - timedelta(days=9)).isoformat(),
                },
            )
        for mission in ("m1", "m2"):
            admin.ok(
                "/v1/missions",
                {
                    "mission_id": mission,
                    "title": mission,
                    "values": ["care"],
                    "points": 5,
                    "cadence": "daily",
                },
            )
        for campaign in ("c1", "c2"):
            admin.ok(
                "/v1/campaigns",
                {
                    "campaign_id": campaign,
                    "name": campaign,
                    "starts_at": now().isoformat(),
                    "ends_at": (now() + timedelta(days=3)).isoformat(),
                    "values": ["care"],
                    "multiplier": 1.5,
                    "winners": 1,
                },
            )
        for giver, receiver in (("ana", "bo"), ("bo", "ana")):
            admin.ok(
                "/v1/recognitions",
                {"from_member": giver, "to_member": receiver, "value": "care", "points": 1},
            )
        yield admin


def encoded(key: Any) -> str:
    # The standard library's JSON: it writes integers beyond 64 bits too.
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.datetimes(timezones=st.just(None)).map(lambda d: d.isoformat()),
    st.sampled_from(["2026-01-01T00:00:00+00:00", "9999-12-31T23:59:59+14:00", "care", "m1"]),
)
keys = st.lists(st.one_of(scalars, st.lists(scalars, max_size=2)), max_size=3)
forged = st.one_of(keys.map(encoded), st.text(max_size=60), st.sampled_from(NAMED))


def answer(api: Api, path: str, cursor: str) -> tuple[int, dict[str, Any]]:
    response = api.get(path, cursor=cursor, limit=1)
    return response.status_code, response.json()


@pytest.mark.parametrize("path", LISTS)
def test_the_named_forged_cursors_are_a_422_naming_the_cursor(api: Api, path: str) -> None:
    # ["x"] is a well-formed key of the lists by id, [1] of the feed (a position).
    well_formed = {"/v1/recognitions": {"WzFd"}, "/v1/campaigns": set()}.get(path, {"WyJ4Il0"})
    for cursor in set(NAMED) - well_formed:
        status, body = answer(api, path, cursor)
        assert status == 422, (cursor, body)
        assert body["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("path", LISTS)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cursor=forged)
def test_any_forged_cursor_is_a_page_or_a_422_never_a_500(api: Api, path: str, cursor: str) -> None:
    status, body = answer(api, path, cursor)
    assert status in (200, 422), (cursor, status, body)
    if status == 422:
        assert body["type"].endswith("/invalid") or body["errors"][0]["field"] in (
            "cursor",
            None,
        ), body


@pytest.mark.parametrize("path", LISTS)
def test_the_cursors_the_lists_give_still_walk_every_page(api: Api, path: str) -> None:
    seen, cursor = [], None
    for _ in range(10):
        page = api.get(path, limit=1, **({"cursor": cursor} if cursor else {})).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 2, seen
