"""The HTTP API through a real uvicorn server: every endpoint, refusal, role and tenant."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.http_server import (
    OPERATOR_TOKEN,
    create_tenant,
    fresh_snapshot,
    running_server,
    store_head,
)
from tests.support import now, process_env

# Its answers depend on the day: run again at fixed moments (.ci/run).
pytestmark = pytest.mark.calendar


class Api:
    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.client = httpx.Client(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}
        )

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.client.post(path, json=body if body is not None else {}, **kw)

    def ok(self, path: str, body: Any = None, status: int = 201, **kw: Any) -> dict[str, Any]:
        response = self.post(path, body, **kw)
        assert response.status_code == status, response.text
        data: dict[str, Any] = response.json()
        return data

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params)

    def key_for(self, role: str) -> Api:
        return Api(self.url, self.ok("/v1/api-keys", {"role": role, "label": f"{role} key"})["key"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("http")) as url:
        yield url


@pytest.fixture(scope="module")
def acme(server: str) -> Api:
    admin = Api(server, create_tenant(server, "acme", timezone="Europe/Stockholm"))
    for key in ("customer-focus", "ownership", "innovation"):
        admin.ok("/v1/values", {"key": key, "name": key.title()})
    for member, team in (("ana", "sales"), ("bo", "sales"), ("cy", "support")):
        admin.ok(
            "/v1/members",
            {
                "member_id": member,
                "display_name": member.title(),
                "team": team,
                "email": f"{member}@acme.test",
                "joined_at": (now() - timedelta(days=60)).isoformat(),
            },
        )
    admin.ok(
        "/v1/strategy/revisions",
        {
            "effective_from": (now() - timedelta(days=30)).isoformat(),
            "goals": [
                {"key": "cx", "title": "Customers", "weight": 2, "values": {"customer-focus": 1}},
                {"key": "own", "title": "Ownership", "weight": 1, "values": {"ownership": 1}},
            ],
        },
    )
    admin.ok(
        "/v1/missions",
        {
            "mission_id": "follow-up",
            "title": "Follow up",
            "points": 10,
            "values": ["customer-focus"],
            "cadence": "daily",
        },
    )
    admin.ok(
        "/v1/missions",
        {
            "mission_id": "demo",
            "title": "Demo",
            "points": 40,
            "values": ["customer-focus", "innovation"],
            "cadence": "weekly",
            "requires_verification": True,
        },
    )
    return admin


def test_create_tenant_requires_the_operator_token(server: str) -> None:
    body = {"tenant_id": "nobody", "name": "Nobody"}
    assert httpx.post(f"{server}/v1/tenants", json=body).status_code == 401
    assert (
        httpx.post(
            f"{server}/v1/tenants", json=body, headers={"Authorization": "Bearer wrong"}
        ).status_code
        == 401
    )
    response = httpx.post(
        f"{server}/v1/tenants",
        json={**body, "timezone": "Mars/Base"},
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    )
    assert response.status_code == 422


def test_a_retried_tenant_creation_answers_the_first_response_without_the_key(
    server: str,
) -> None:
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}", "Idempotency-Key": "create-retry"}
    body = {"tenant_id": "retried", "name": "Retried"}
    first = httpx.post(f"{server}/v1/tenants", json=body, headers=operator)
    assert first.status_code == 201 and first.json()["admin_key"].startswith("lk_")
    again = httpx.post(f"{server}/v1/tenants", json=body, headers=operator)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == {**first.json(), "admin_key": None}  # shown once, never stored
    other = httpx.post(f"{server}/v1/tenants", json={**body, "name": "X"}, headers=operator)
    assert other.status_code == 422
    # Without the key the same body is a conflict, as before.
    plain = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    assert httpx.post(f"{server}/v1/tenants", json=body, headers=plain).status_code == 409


def test_the_operator_issues_a_tenant_another_admin_key_and_the_tenant_sees_it(
    server: str,
) -> None:
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    create_tenant(server, "lostkey")
    issued = httpx.post(
        f"{server}/v1/tenants/lostkey/admin-keys",
        json={"label": "after the lost one"},
        headers=operator,
    )
    assert issued.status_code == 201, issued.text
    fresh = Api(server, issued.json()["key"])
    assert issued.json()["role"] == "admin"
    feed = fresh.get("/v1/events", min_position=issued.json()["position"]).json()["events"]
    recorded = [e for e in feed if e["event_type"] == "AdminKeyIssuedByOperator"]
    assert [e["payload"]["label"] for e in recorded] == ["after the lost one"]
    assert issued.json()["key"] not in str(feed)
    assert (
        httpx.post(f"{server}/v1/tenants/nobody/admin-keys", json={}, headers=operator).status_code
        == 404
    )
    assert fresh.post("/v1/tenants/lostkey/admin-keys", {}).status_code == 401


def test_full_flow_command_then_read_your_write(acme: Api) -> None:
    service = acme.key_for("service")
    done = service.ok("/v1/missions/follow-up/completions", {"member_id": "ana"})
    assert done["status"] == "counted" and done["points"] == 10 and done["position"] > 0
    board = acme.get("/v1/leaderboard", period="week", min_position=done["position"]).json()
    assert board["as_of_position"] >= done["position"]
    assert {
        "member_id": "ana",
        "points": 10,
        "rank": 1,
        "display_name": "Ana",
        "team": "sales",
    } in board["entries"]
    points = acme.get("/v1/members/ana/points", min_position=done["position"]).json()
    assert points["balance"] >= 10 and points["awards"][0]["command"]["key_label"] == "service key"


def test_verification_recognition_campaign_adjustment_and_queries(acme: Api) -> None:
    service, manager = acme.key_for("service"), acme.key_for("manager")
    pending = service.ok("/v1/missions/demo/completions", {"member_id": "bo"})
    assert pending["status"] == "pending"
    approved = manager.ok(
        f"/v1/completions/{pending['completion_id']}/verification",
        {"decision": "approve", "reason": "seen it"},
        status=200,
    )
    assert approved["status"] == "counted"
    given = service.ok(
        "/v1/recognitions",
        {
            "from_member": "ana",
            "to_member": "cy",
            "value": "ownership",
            "points": 15,
            "message": "thanks!",
        },
    )
    assert given["points"] == 15
    adjusted = manager.ok(
        "/v1/points/adjustments", {"member_id": "cy", "points": -5, "reason": "typo"}
    )
    past = now() - timedelta(days=3)
    acme.ok(
        "/v1/campaigns",
        {
            "campaign_id": "spring",
            "name": "Spring",
            "starts_at": (past - timedelta(days=5)).isoformat(),
            "ends_at": past.isoformat(),
            "values": ["ownership"],
            "multiplier": 2,
            "winners": 3,
        },
    )
    winners = acme.ok("/v1/campaigns/spring/winners")
    assert winners["winners"] == []  # nothing happened in that past window
    heat = acme.get("/v1/heatmap", min_position=adjusted["position"]).json()
    assert {c["value"] for c in heat["cells"]} >= {"customer-focus", "innovation", "ownership"}
    alignment = acme.get("/v1/alignment", scope="tenant", period="week").json()
    assert alignment["strategy_version"] == 1 and alignment["behaviors"] >= 3
    assert 0 <= alignment["score"] <= 100
    team = acme.get("/v1/alignment", scope="team", team="support", period="month").json()
    assert team["behaviors"] == 1
    events = acme.get("/v1/events", after=0, limit=5).json()["events"]
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)
    assert set(events[0]) >= {
        "event_id",
        "event_type",
        "schema_version",
        "tenant_id",
        "aggregate_id",
        "aggregate_version",
        "position",
        "occurred_at",
        "recorded_at",
        "causation_id",
        "correlation_id",
        "payload",
    }


def test_member_lifecycle_endpoints(acme: Api) -> None:
    acme.ok("/v1/members", {"member_id": "dee", "display_name": "Dee", "team": "sales"})
    acme.ok("/v1/members/dee/moves", {"team": "support", "effective_from": now().isoformat()})
    acme.ok("/v1/members/dee/departure", {"effective_from": now().isoformat()})
    forgotten = acme.ok("/v1/members/dee/forget", status=200)
    feed = acme.get("/v1/events", after=0, limit=1000, min_position=forgotten["position"])
    joined = [
        e
        for e in feed.json()["events"]
        if e["event_type"] == "MemberJoined" and e["payload"]["member_id"] == "dee"
    ]
    assert joined and "Dee" not in str(joined[0]["payload"])  # encrypted in the feed
    acme.ok("/v1/values", {"key": "retire-me", "name": "Old"})
    acme.ok("/v1/values/retire-me/retire", status=200)
    acme.ok(
        "/v1/missions",
        {
            "mission_id": "old",
            "title": "Old",
            "points": 1,
            "values": ["ownership"],
            "cadence": "once",
        },
    )
    acme.ok("/v1/missions/old/archive", status=200)
    settings = acme.client.put(
        "/v1/settings",
        json={
            "settings": {"timezone": "Europe/Stockholm", "max_recognitions_per_pair_per_week": 3}
        },
    )
    assert settings.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/v1/missions/nope/completions", {"member_id": "ana"}, 404),
        ("post", "/v1/missions/nope/completions", {"member_id": "ghost", "x": 1}, 404),
        (
            "post",
            "/v1/members/ghost/moves",
            {"team": "x", "effective_from": "2026-01-01T00:00Z"},
            404,
        ),
        ("post", "/v1/completions/not-a-uuid/verification", {"decision": "approve"}, 404),
        ("post", "/v1/campaigns/none/winners", {}, 404),
        ("post", "/v1/values/none/retire", {}, 404),
        ("get", "/v1/members/ghost/points", None, 404),
        ("post", "/v1/missions/follow-up/completions", {"member_id": "ghost"}, 422),
        ("post", "/v1/missions/follow-up/completions", {"member_id": "ana", "points": 999}, 422),
        ("post", "/v1/missions/follow-up/completions", {"member_id": "ana", "tenant_id": "x"}, 422),
        (
            "post",
            "/v1/missions/follow-up/completions",
            {"member_id": "ana", "mission_id": "follow-up"},
            422,
        ),
        (
            "post",
            "/v1/recognitions",
            {"from_member": "ana", "to_member": "ana", "value": "ownership", "points": 1},
            422,
        ),
        ("post", "/v1/recognitions", [], 422),
        ("post", "/v1/values", {"key": "Not A Key", "name": "x"}, 422),
        ("post", "/v1/values", {"key": "ownership", "name": "again"}, 409),
        ("get", "/v1/leaderboard?period=year", None, 422),
        ("get", "/v1/leaderboard?limit=0", None, 422),
        ("get", "/v1/alignment?scope=team", None, 422),
        ("get", "/v1/leaderboard?as_of=yesterday", None, 422),
    ],
)
def test_refusals_are_problem_documents(
    acme: Api, method: str, path: str, body: Any, status: int
) -> None:
    before = store_head(acme.url)
    response = getattr(acme.client, method)(path, **({"json": body} if method == "post" else {}))
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert store_head(acme.url) == before


def test_request_form_refusals(acme: Api) -> None:
    headers = {"Authorization": f"Bearer {acme.key}"}
    assert (
        httpx.post(
            f"{acme.url}/v1/values",
            content=b"{not json",
            headers={**headers, "content-type": "application/json"},
        ).status_code
        == 400
    )
    assert (
        httpx.post(
            f"{acme.url}/v1/values",
            content=b"key=x",
            headers={**headers, "content-type": "text/plain"},
        ).status_code
        == 415
    )
    huge = b'{"key": "' + b"x" * 70_000 + b'"}'
    assert (
        httpx.post(
            f"{acme.url}/v1/values",
            content=huge,
            headers={**headers, "content-type": "application/json"},
        ).status_code
        == 413
    )
    deep = b"[" * 5000 + b"]" * 5000
    assert (
        httpx.post(
            f"{acme.url}/v1/values",
            content=deep,
            headers={**headers, "content-type": "application/json"},
        ).status_code
        == 400
    )
    assert httpx.get(f"{acme.url}/v1/leaderboard").status_code == 401
    assert (
        httpx.get(
            f"{acme.url}/v1/leaderboard", headers={"Authorization": "Bearer lk_unknown"}
        ).status_code
        == 401
    )


COMMANDS = [
    ("/v1/values", {"key": "k-{n}", "name": "x"}, {"admin"}),
    ("/v1/missions/follow-up/completions", {"member_id": "ghost"}, {"admin", "service"}),
    (
        "/v1/recognitions",
        {"from_member": "ghost", "to_member": "bo", "value": "ownership", "points": 1},
        {"admin", "service"},
    ),
    (
        "/v1/points/adjustments",
        {"member_id": "ghost", "points": 1, "reason": "x"},
        {"admin", "manager"},
    ),
    (
        "/v1/completions/00000000-0000-0000-0000-000000000000/verification",
        {"decision": "approve"},
        {"admin", "manager"},
    ),
    ("/v1/api-keys", {"role": "analyst", "label": "x"}, {"admin"}),
    ("/v1/members", {"member_id": "m-{n}", "display_name": "x", "team": "t"}, {"admin"}),
]


@pytest.mark.parametrize("role", ["admin", "manager", "service", "analyst"])
def test_role_matrix(acme: Api, role: str) -> None:
    api = acme if role == "admin" else acme.key_for(role)
    for n, (path, template, allowed) in enumerate(COMMANDS):
        body = {
            k: v.format(n=f"{role}{n}") if isinstance(v, str) else v for k, v in template.items()
        }
        status = api.post(path, body).status_code
        assert (status != 403) == (role in allowed), (role, path, status)
    assert api.get("/v1/leaderboard").status_code == 200
    assert (api.get("/v1/events").status_code == 200) == (role in {"admin", "analyst"})


def test_tenants_are_isolated(server: str, acme: Api) -> None:
    other = Api(server, create_tenant(server, "globex"))
    other.ok("/v1/values", {"key": "ownership", "name": "Ownership"})
    assert other.post("/v1/missions/follow-up/completions", {"member_id": "ana"}).status_code == 404
    assert (
        other.post(
            "/v1/members/ana/moves", {"team": "x", "effective_from": now().isoformat()}
        ).status_code
        == 404
    )
    assert other.get("/v1/members/ana/points").status_code == 404
    assert other.get("/v1/leaderboard", period="all").json()["entries"] == []
    assert all(
        e["tenant_id"] == "globex" for e in other.get("/v1/events", limit=1000).json()["events"]
    )
    pending = acme.key_for("service").ok("/v1/missions/demo/completions", {"member_id": "cy"})
    assert (
        other.post(
            f"/v1/completions/{pending['completion_id']}/verification", {"decision": "approve"}
        ).status_code
        == 404
    )
    assert other.post("/v1/campaigns/spring/winners").status_code == 404


def test_idempotency_over_http(acme: Api) -> None:
    service = acme.key_for("service")
    body = {"from_member": "bo", "to_member": "ana", "value": "ownership", "points": 3}
    first = service.post("/v1/recognitions", body, headers={"Idempotency-Key": "same-1"})
    again = service.post("/v1/recognitions", body, headers={"Idempotency-Key": "same-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    # A refusal is remembered and replayed too, and says so.
    ghost = {"from_member": "ghost", "to_member": "ana", "value": "ownership", "points": 1}
    refused = service.post("/v1/recognitions", ghost, headers={"Idempotency-Key": "no-1"})
    again_refused = service.post("/v1/recognitions", ghost, headers={"Idempotency-Key": "no-1"})
    assert refused.status_code == again_refused.status_code == 422
    assert again_refused.headers["idempotent-replayed"] == "true"
    changed = service.post(
        "/v1/recognitions", {**body, "points": 4}, headers={"Idempotency-Key": "same-1"}
    )
    assert changed.status_code == 422
    other_path = service.post(
        "/v1/missions/follow-up/completions",
        {"member_id": "bo"},
        headers={"Idempotency-Key": "same-1"},
    )
    assert other_path.status_code == 422


def test_ten_concurrent_requests_with_one_key_record_one_set_of_events(acme: Api) -> None:
    service = acme.key_for("service")
    body = {"from_member": "cy", "to_member": "bo", "value": "ownership", "points": 2}

    def send(_: int) -> httpx.Response:
        return httpx.post(
            f"{acme.url}/v1/recognitions",
            json=body,
            timeout=30,
            headers={"Authorization": f"Bearer {service.key}", "Idempotency-Key": "burst-1"},
        )

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(send, range(10)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["recognition_id"] for r in responses}) == 1
    position = responses[0].json()["position"]
    feed = acme.get("/v1/events", after=0, limit=1000, min_position=position).json()
    recognitions = [
        e
        for e in feed["events"]
        if e["event_type"] == "RecognitionGiven"
        and e["payload"]["from_member"] == "cy"
        and e["payload"]["points"] == 2
    ]
    assert len(recognitions) == 1


def test_min_position_beyond_the_store_head_is_invalid(acme: Api) -> None:
    response = acme.get("/v1/leaderboard", min_position=10**12)
    assert response.status_code == 422


def test_min_position_not_projected_within_ten_seconds_answers_503(tmp_path: Path) -> None:
    with running_server(tmp_path) as url:
        api = Api(url, create_tenant(url, "stalled"))
        import tests.integration.http_server as hs

        assert hs.LAST_RUNTIME is not None
        hs.LAST_RUNTIME.projector.stop()  # the projector stalls; commands still succeed
        written = api.ok("/v1/values", {"key": "speed", "name": "Speed"})
        response = api.get("/v1/leaderboard", min_position=written["position"])
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"


def test_health_metrics_and_docs(acme: Api) -> None:
    assert httpx.get(f"{acme.url}/healthz").json()["status"] == "ok"
    metrics = httpx.get(f"{acme.url}/metrics").text
    assert "ledger_projection_lag_events" in metrics and "ledger_commands_total" in metrics
    assert httpx.get(f"{acme.url}/docs").status_code == 200
    schema = httpx.get(f"{acme.url}/openapi.json").json()
    body = schema["paths"]["/v1/recognitions"]["post"]["requestBody"]
    assert "from_member" in body["content"]["application/json"]["schema"]["properties"]


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    with running_server(tmp_path, rate_limit=5) as url:
        key = create_tenant(url, "limited")
        statuses = [
            httpx.get(f"{url}/v1/leaderboard", headers={"Authorization": f"Bearer {key}"})
            for _ in range(12)
        ]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited and limited[0].headers["retry-after"]


def test_analysts_query_a_snapshot_while_the_server_writes(tmp_path: Path) -> None:
    import subprocess
    import sys

    with running_server(tmp_path) as url:
        api = Api(url, create_tenant(url, "snap"))
        api.ok("/v1/values", {"key": "speed", "name": "Speed"})
        written = api.ok("/v1/values", {"key": "focus", "name": "Focus"})
        api.get("/v1/leaderboard", min_position=written["position"])
        published = fresh_snapshot(api, written["position"])
        assert published["snapshot"].endswith("projections.snapshot.duckdb")
        # A separate process opens the snapshot while the server keeps its file open.
        query = subprocess.run(
            [
                sys.executable,
                "-m",
                "ledger.cli",
                "sql",
                "SELECT value FROM value_catalog ORDER BY value",
                "--data-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=process_env(COLUMNS="200"),
        )
        assert query.returncode == 0, query.stderr
        assert "focus" in query.stdout and "speed" in query.stdout
        assert api.key_for("service").post("/v1/projections/snapshot").status_code == 403
