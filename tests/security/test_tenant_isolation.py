"""Every endpoint, with every role of another tenant: API.md's role matrix holds, and
nothing of the first tenant appears in any answer, error or metric."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.routing import APIRoute

import tests.integration.http_server as http_server
from tests.integration.http_server import create_tenant, running_server
from tests.integration.test_http_api import Api
from tests.support import now

# Its answers depend on the day: run again at fixed moments (.ci/run).
pytestmark = pytest.mark.calendar

SECRET = "Alphasecretname"  # a word only tenant alpha's data contains
ROLES = ("admin", "manager", "service", "analyst")
# API.md "Who may send what" (POST /v1/tenants is the operator's, tested elsewhere).
COMMAND_ROLES = {
    "/v1/missions/{mission_id}/completions": {"admin", "service"},
    "/v1/recognitions": {"admin", "service"},
    "/v1/completions/{completion_id}/verification": {"admin", "manager"},
    "/v1/points/adjustments": {"admin", "manager"},
    "/v1/drift/alerts/{alert_id}/acknowledgement": {"admin", "manager"},
}
FEED_ROLES = {"admin", "analyst"}
DRIFT_ROLES = {"admin", "manager", "analyst"}
READ_ROLES = {  # reads not open to every role (API.md)
    "/v1/events": FEED_ROLES,
    "/v1/drift": DRIFT_ROLES,
    "/v1/drift/alerts/{alert_id}": DRIFT_ROLES,
    "/v1/recalibration": DRIFT_ROLES,
    "/v1/summary": DRIFT_ROLES,  # the home page's figures (API.md)
    "/v1/webhooks": {"admin"},
    "/v1/webhooks/{webhook_id}/deliveries": {"admin"},
}
LATER = (now() + timedelta(days=30)).isoformat()
BODIES: dict[str, dict[str, object]] = {
    "/v1/api-keys": {"role": "analyst", "label": "x"},
    "/v1/awards/{award_id}/reversal": {"reason": "not yours"},
    "/v1/settings": {"settings": {"timezone": "UTC"}},
    "/v1/values": {"key": "beta-value", "name": "Beta"},
    "/v1/strategy/revisions": {
        "effective_from": LATER,
        "goals": [{"key": "g", "title": "G", "weight": 1, "values": {"care": 1}}],
    },
    "/v1/members": {"member_id": "beta-m", "display_name": "B", "team": "t"},
    "/v1/members/{member_id}/moves": {"team": "x", "effective_from": LATER},
    "/v1/members/{member_id}/departure": {"effective_from": LATER},
    "/v1/missions": {
        "mission_id": "beta-mission",
        "title": "M",
        "values": ["care"],
        "points": 1,
        "cadence": "daily",
    },
    "/v1/missions/{mission_id}/completions": {"member_id": "ana"},
    "/v1/completions/{completion_id}/verification": {"decision": "approve"},
    "/v1/recognitions": {"from_member": "ana", "to_member": "bo", "value": "care", "points": 1},
    "/v1/campaigns": {
        "campaign_id": "beta-c",
        "name": "C",
        "starts_at": LATER,
        "ends_at": LATER,
        "values": ["care"],
        "multiplier": 2,
        "winners": 1,
    },
    "/v1/points/adjustments": {"member_id": "ana", "points": 1, "reason": "x"},
    "/v1/drift/alerts/{alert_id}/acknowledgement": {"note": "not yours"},
    "/v1/webhooks": {"url": "http://127.0.0.1:9/beta", "events": ["drift.alert.raised"]},
}


@pytest.fixture(scope="module")
def two_tenants(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Api, dict[str, Api], dict[str, str]]]:
    with running_server(tmp_path_factory.mktemp("isolation"), webhook_allow_private=True) as url:
        alpha = Api(url, create_tenant(url, "alpha"))
        alpha.ok("/v1/values", {"key": "care", "name": "Care"})
        alpha.ok("/v1/values", {"key": "kindness", "name": "Kindness"})  # alpha's only
        for member in ("ana", "bo"):
            alpha.ok(
                "/v1/members",
                {
                    "member_id": member,
                    "display_name": f"{SECRET} {member}",
                    "team": "alpha-team",
                    "joined_at": "2020-01-01T00:00:00Z",
                },
            )
        alpha.ok(
            "/v1/missions",
            {
                "mission_id": "checked",
                "title": "Checked",
                "values": ["care"],
                "points": 5,
                "cadence": "daily",
                "requires_verification": True,
            },
        )
        pending = alpha.ok("/v1/missions/checked/completions", {"member_id": "ana"})
        alpha.ok(
            "/v1/recognitions",
            {
                "from_member": "bo",
                "to_member": "ana",
                "value": "care",
                "points": 2,
                "message": SECRET,
            },
        )
        alpha.ok(
            "/v1/campaigns",
            {
                "campaign_id": "spring",
                "name": "Spring",
                "starts_at": "2020-01-01T00:00:00Z",
                "ends_at": "2020-02-01T00:00:00Z",
                "values": ["care"],
                "multiplier": 2,
                "winners": 1,
            },
        )
        done = alpha.ok(
            "/v1/points/adjustments", {"member_id": "ana", "points": 4, "reason": SECRET}
        )
        alpha.get("/v1/leaderboard", min_position=done["position"])
        beta_admin = Api(url, create_tenant(url, "beta"))
        beta_admin.ok("/v1/values", {"key": "care", "name": "Care"})
        beta = {role: beta_admin if role == "admin" else beta_admin.key_for(role) for role in ROLES}
        ids = {
            "member_id": "ana",
            "mission_id": "checked",
            "key": "kindness",
            "campaign_id": "spring",
            "completion_id": pending["completion_id"],
            "award_id": alpha.get("/v1/members/ana/points").json()["awards"][0]["award_id"],
            "webhook_id": alpha.ok(
                "/v1/webhooks",
                {"url": "http://127.0.0.1:9/alpha", "events": ["drift.alert.raised"]},
            )["webhook_id"],
            "alert_id": str(uuid.uuid4()),  # alpha has none raised: beta still learns nothing
        }
        yield alpha, beta, ids


def api_routes() -> list[APIRoute]:
    runtime = http_server.LAST_RUNTIME
    assert runtime is not None
    app = runtime.app()
    return [
        r
        for r in app.routes
        if isinstance(r, APIRoute)
        and r.path.startswith("/v1/")
        and not r.path.startswith("/v1/tenants")  # the operator's, tested apart
    ]


def test_every_endpoint_with_every_role_of_another_tenant(
    two_tenants: tuple[Api, dict[str, Api], dict[str, str]],
) -> None:
    alpha, beta, ids = two_tenants
    checked = 0
    for route in api_routes():
        method = next(iter(route.methods))
        path = route.path.format(**{k: v for k, v in ids.items() if f"{{{k}}}" in route.path})
        for role, api in beta.items():
            if method == "GET":
                answer = api.client.get(path)
                allowed = role in READ_ROLES.get(route.path, set(ROLES))
            else:
                answer = api.client.request(method, path, json=BODIES.get(route.path, {}))
                if route.path == "/v1/projections/snapshot":
                    allowed = role in FEED_ROLES
                else:
                    allowed = role in COMMAND_ROLES.get(route.path, {"admin"})
            status = answer.status_code
            assert status < 500, (method, path, role, answer.text)
            assert (status == 403) == (not allowed), (method, path, role, status, answer.text)
            if "{" in route.path and allowed:
                # Alpha's ids do not exist for beta: never acted on, never revealed.
                assert status in (404, 422), (method, path, role, status, answer.text)
            assert SECRET.lower() not in answer.text.lower(), (method, path, role)
            assert "alpha" not in answer.text, (method, path, role, answer.text)
            checked += 1
    assert checked >= 4 * 20
    metrics = httpx.get(f"{alpha.url}/metrics").text
    assert "alpha" not in metrics and SECRET not in metrics
    # And alpha's own data is intact: beta's attempts changed nothing.
    points = alpha.get("/v1/members/ana/points").json()
    assert points["balance"] == 6 and SECRET in str(points)
