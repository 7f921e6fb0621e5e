"""The catalog's read routes through a real server: pages, filters, tenants and roles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.integration.http_server import create_tenant, running_server, store_head
from tests.integration.test_http_api import Api
from tests.support import now

# Its answers depend on the day: run again at fixed moments (.ci/run).
pytestmark = pytest.mark.calendar

ROUTES = ("/v1/values", "/v1/missions", "/v1/campaigns", "/v1/members", "/v1/recognitions")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("catalog")) as url:
        yield url


def _everything(api: Api, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, page by page."""
    items, cursor, pages = [], None, 0
    while True:
        response = api.get(path, limit=limit, **({"cursor": cursor} if cursor else {}), **params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert pages < 100, "the cursor never ends"


@pytest.fixture(scope="module")
def acme(server: str) -> Api:
    admin = Api(server, create_tenant(server, "acme", timezone="Europe/Stockholm"))
    for key in ("customer-focus", "ownership", "innovation", "speed", "teamwork"):
        admin.ok("/v1/values", {"key": key, "name": key.title()})
    admin.ok("/v1/values/speed/retire", {}, status=200)
    joined = (now() - timedelta(days=60)).isoformat()
    for i in range(7):
        admin.ok(
            "/v1/members",
            {
                "member_id": f"m{i}",
                "display_name": f"Member {i}",
                "team": "sales" if i % 2 else "support",
                "email": f"m{i}@acme.test",
                "joined_at": joined,
            },
        )
    admin.ok("/v1/members/m6/departure", {"effective_from": now().isoformat()})
    for version, weight in ((1, 1), (2, 3)):
        admin.ok(
            "/v1/strategy/revisions",
            {
                "effective_from": (now() - timedelta(days=40 - 20 * version)).isoformat(),
                "goals": [
                    {
                        "key": "cx",
                        "title": "Customers",
                        "weight": weight,
                        "values": {"customer-focus": 1},
                    },
                    {"key": "own", "title": "Ownership", "weight": 1, "values": {"ownership": 1}},
                ],
            },
        )
    missions = [
        ("daily-call", "daily", [], None),
        ("weekly-review", "weekly", ["sales"], None),
        ("support-only", "daily", ["support"], None),
        ("later", "daily", [], (now() + timedelta(days=5)).isoformat()),
        ("old", "once", [], None),
    ]
    for mission_id, cadence, teams, starts_at in missions:
        admin.ok(
            "/v1/missions",
            {
                "mission_id": mission_id,
                "title": mission_id.title(),
                "points": 10,
                "values": ["customer-focus"],
                "cadence": cadence,
                "teams": teams,
                **({"starts_at": starts_at} if starts_at else {}),
            },
        )
    admin.ok("/v1/missions/old/archive", {}, status=200)
    admin.ok("/v1/missions/daily-call/completions", {"member_id": "m1"})
    for i, (start, end) in enumerate(((-10, -1), (-5, 5), (10, 20))):
        admin.ok(
            "/v1/campaigns",
            {
                "campaign_id": f"c{i}",
                "name": f"Campaign {i}",
                "starts_at": (now() + timedelta(days=start)).isoformat(),
                "ends_at": (now() + timedelta(days=end)).isoformat(),
                "values": ["customer-focus"],
                "multiplier": 2,
                "winners": 2,
            },
        )
    # Inside c0 (ended yesterday): m3 earns twice m5's points there, so m3 wins it.
    for member, days in (("m3", 3), ("m3", 4), ("m5", 3)):
        admin.ok(
            "/v1/missions/daily-call/completions",
            {"member_id": member, "occurred_at": (now() - timedelta(days=days)).isoformat()},
        )
    for i in range(5):
        admin.ok(
            "/v1/recognitions",
            {
                "from_member": f"m{i}",
                "to_member": f"m{i + 1}",
                "value": "teamwork",
                "points": 2,
                "message": f"thanks {i}",
            },
        )
    return _settled(admin)


@pytest.fixture(scope="module")
def globex(server: str) -> Api:
    admin = Api(server, create_tenant(server, "globex"))
    admin.ok("/v1/values", {"key": "secret-value", "name": "Globex only"})
    return _settled(admin)


def _settled(api: Api) -> Api:
    """Read-your-writes: the lists below answer once the projections hold every write."""
    response = api.get("/v1/values", min_position=store_head(api.url))
    assert response.status_code == 200, response.text
    return api


def test_values_come_in_pages_by_key_with_the_retired_marked(acme: Api) -> None:
    items = _everything(acme, "/v1/values", limit=2)
    assert [v["key"] for v in items] == sorted(
        ["customer-focus", "ownership", "innovation", "speed", "teamwork"]
    )
    assert {v["key"]: v["retired"] for v in items}["speed"] is True
    assert sum(v["retired"] for v in items) == 1


def test_members_have_team_and_activity_and_no_email(acme: Api) -> None:
    items = _everything(acme, "/v1/members", limit=3)
    assert [m["member_id"] for m in items] == [f"m{i}" for i in range(7)]
    assert all("email" not in m for m in items)
    assert {m["member_id"]: m["active"] for m in items} == {f"m{i}": i != 6 for i in range(7)}
    sales = _everything(acme, "/v1/members", limit=50, team="sales")
    assert [m["member_id"] for m in sales] == ["m1", "m3", "m5"]


def test_a_members_team_is_the_one_in_force_now_on_the_ledgers_clock(acme: Api) -> None:
    # A move effective tomorrow (by the ledger's clock, not the database's) is not yet.
    movers = Api(acme.url, create_tenant(acme.url, "movers"))
    joined = (now() - timedelta(days=3)).isoformat()
    movers.ok(
        "/v1/members",
        {"member_id": "mover", "display_name": "Mover", "team": "sales", "joined_at": joined},
    )
    tomorrow = (now() + timedelta(days=1)).isoformat()
    moved = movers.ok("/v1/members/mover/moves", {"team": "support", "effective_from": tomorrow})
    items = movers.get("/v1/members", team="sales", min_position=moved["position"]).json()
    assert [(m["member_id"], m["team"]) for m in items["items"]] == [("mover", "sales")]


def test_missions_active_now_and_open_to_a_member_today(acme: Api) -> None:
    every = _everything(acme, "/v1/missions", limit=2)
    assert [m["mission_id"] for m in every] == sorted(
        ["daily-call", "weekly-review", "support-only", "later", "old"]
    )
    active = _everything(acme, "/v1/missions", limit=2, active="true")
    assert sorted(m["mission_id"] for m in active) == [
        "daily-call",
        "support-only",
        "weekly-review",
    ]
    # m1 is in sales and completed daily-call today; support-only is not its team's.
    assert [m["mission_id"] for m in _everything(acme, "/v1/missions", 50, member_id="m1")] == [
        "weekly-review"
    ]
    # m2 is in support: the daily call and its own team's mission.
    assert [m["mission_id"] for m in _everything(acme, "/v1/missions", 50, member_id="m2")] == [
        "daily-call",
        "support-only",
    ]
    # A member id naming nobody is a typo, not "nothing to do" (API.md)
    unknown = acme.get("/v1/missions", member_id="nobody")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "member_id"


def test_campaigns_newest_first_with_their_status(acme: Api) -> None:
    items = _everything(acme, "/v1/campaigns", limit=1)
    assert [(c["campaign_id"], c["status"]) for c in items] == [
        ("c2", "upcoming"),
        ("c1", "running"),
        ("c0", "ended"),
    ]
    assert all(c["declared_winners"] is None for c in items)


def test_declared_winners_show_on_the_campaign(acme: Api) -> None:
    declared = acme.ok("/v1/campaigns/c0/winners", {})
    _settled(acme)
    campaign = next(c for c in _everything(acme, "/v1/campaigns", 50) if c["campaign_id"] == "c0")
    assert campaign["status"] == "declared"
    assert [w["member_id"] for w in declared["winners"]] == ["m3", "m5"]
    assert campaign["declared_winners"] == declared["winners"]


def test_the_strategy_lists_every_revision_with_targets_and_the_one_in_force(acme: Api) -> None:
    strategy = acme.get("/v1/strategy").json()
    assert [r["version"] for r in strategy["revisions"]] == [1, 2]
    assert strategy["in_force"] == 2
    targets = {t["value"]: t["target"] for t in strategy["revisions"][1]["targets"]}
    assert targets == pytest.approx({"customer-focus": 0.75, "ownership": 0.25})


def test_the_feed_is_newest_first_and_only_admin_and_service_see_messages(acme: Api) -> None:
    feed = _everything(acme, "/v1/recognitions", limit=2)
    assert [(r["from_member"], r["to_member"]) for r in feed] == [
        (f"m{i}", f"m{i + 1}") for i in reversed(range(5))
    ]
    assert [r["message"] for r in feed] == [f"thanks {i}" for i in reversed(range(5))]
    assert [(r["from_name"], r["to_name"]) for r in feed] == [
        (f"Member {i}", f"Member {i + 1}") for i in reversed(range(5))
    ]
    service = _everything(acme.key_for("service"), "/v1/recognitions", limit=50)
    assert [r["message"] for r in service] == [r["message"] for r in feed]
    for role in ("manager", "analyst"):
        seen = _everything(acme.key_for(role), "/v1/recognitions", limit=50)
        assert [r["recognition_id"] for r in seen] == [r["recognition_id"] for r in feed]
        assert all(r["message"] is None for r in seen), role
    mine = _everything(acme, "/v1/recognitions", limit=50, member_id="m2")
    assert {(r["from_member"], r["to_member"]) for r in mine} == {("m1", "m2"), ("m2", "m3")}


def test_every_list_is_the_keys_tenant_only(acme: Api, globex: Api) -> None:
    assert [v["key"] for v in _everything(globex, "/v1/values", 50)] == ["secret-value"]
    for path in ROUTES[1:]:
        assert _everything(globex, path, 50) == [], path
    assert "secret-value" not in {v["key"] for v in _everything(acme, "/v1/values", 50)}
    strategy = globex.get("/v1/strategy").json()
    assert (strategy["revisions"], strategy["in_force"]) == ([], None)


def test_a_cursor_from_elsewhere_or_a_bad_limit_is_a_clear_422(acme: Api) -> None:
    for params in ({"cursor": "not-a-cursor"}, {"cursor": "W10"}, {"limit": 0}, {"limit": 201}):
        for path in ROUTES:
            response = acme.get(path, **params)
            assert response.status_code == 422, (path, params, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
    campaign_cursor = acme.get("/v1/campaigns", limit=1).json()["next_cursor"]
    assert acme.get("/v1/values", cursor=campaign_cursor).status_code == 422


def test_every_role_reads_the_catalog_and_no_key_reads_nothing(acme: Api, server: str) -> None:
    for role in ("manager", "service", "analyst"):
        api = acme.key_for(role)
        for path in (*ROUTES, "/v1/strategy"):
            assert api.get(path).status_code == 200, (role, path)
    for path in (*ROUTES, "/v1/strategy"):
        assert httpx.get(f"{server}{path}").status_code == 401


def test_the_openapi_document_describes_answers_auth_and_headers(server: str) -> None:
    doc = httpx.get(f"{server}/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    for path in (*ROUTES, "/v1/strategy"):
        answer = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert answer["schema"]["$ref"].startswith("#/components/schemas/"), path
    recognition = doc["components"]["schemas"]["Recognition"]["properties"]
    assert {"from_member", "to_member", "value", "points", "message"} <= recognition.keys()
    give = doc["paths"]["/v1/recognitions"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in give["parameters"] if p["in"] == "header"}
    for status in ("429", "503"):
        assert "Retry-After" in give["responses"][status]["headers"]


def test_the_activity_page_counts_down_to_campaigns_and_lists_a_members_missions(
    acme: Api,
) -> None:
    page = acme.get("/ui/activity", member_id="m2")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Campaign 2</strong>" in html and "starts in 9 days" in html
    assert "Campaign 1</strong>" in html and "ends in 4 days" in html
    assert 'data-mission-id="daily-call"' in html and 'data-mission-id="support-only"' in html
    assert 'data-mission-id="weekly-review"' not in html  # a sales mission; m2 is in support
    assert acme.get("/ui/activity", member_id="").status_code == 200  # an empty field


def test_a_forgotten_members_name_and_messages_are_gone_from_the_lists(acme: Api) -> None:
    # Last in this module: it changes the shared tenant.
    acme.ok("/v1/members/m1/forget", status=200)
    _settled(acme)
    feed = _everything(acme, "/v1/recognitions", limit=50)
    to_m1 = next(r for r in feed if r["to_member"] == "m1")
    assert to_m1["to_name"] is None and to_m1["message"] is None  # its key is destroyed
    from_m1 = next(r for r in feed if r["from_member"] == "m1")
    assert from_m1["from_name"] is None and from_m1["message"] == "thanks 1"
    member = next(m for m in _everything(acme, "/v1/members", 50) if m["member_id"] == "m1")
    assert member["display_name"] is None and member["forgotten"] is True


def test_a_page_with_a_bad_date_is_a_clear_422_never_a_500(acme: Api) -> None:
    for path, params in (
        ("/ui/leaderboard", {"at": "0001-01-01"}),
        ("/ui/leaderboard", {"at": "yesterday"}),
        ("/ui/heatmap", {"from": "9999-12-31"}),
        ("/ui/alignment", {"at": "2026-02-30"}),
        ("/ui/alignment", {"scope": "team"}),
        ("/ui/members/nobody", {}),
    ):
        response = acme.get(path, **params)
        assert response.status_code in (404, 422), (path, params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_every_catalog_list_answers_as_it_stood_at_as_of(acme: Api) -> None:
    """`as_of` on the catalog: only what was recorded by then, and the state it was in."""
    history = Api(acme.url, create_tenant(acme.url, "history"))
    joined = (now() - timedelta(days=30)).isoformat()
    history.ok("/v1/values", {"key": "care", "name": "Care"})
    for member in ("ana", "bo"):
        history.ok(
            "/v1/members",
            {"member_id": member, "display_name": member.title(), "team": "t", "joined_at": joined},
        )
    history.ok(
        "/v1/missions",
        {"mission_id": "m", "title": "M", "points": 5, "values": ["care"], "cadence": "daily"},
    )
    history.ok(
        "/v1/campaigns",
        {
            "campaign_id": "c",
            "name": "C",
            "starts_at": (now() - timedelta(days=5)).isoformat(),
            "ends_at": (now() - timedelta(minutes=1)).isoformat(),
            "values": ["care"],
            "multiplier": 2,
            "winners": 1,
        },
    )
    history.ok(
        "/v1/missions/m/completions",
        {"member_id": "ana", "occurred_at": (now() - timedelta(days=1)).isoformat()},
    )
    first = history.ok(
        "/v1/recognitions", {"from_member": "ana", "to_member": "bo", "value": "care", "points": 1}
    )
    then = now()
    # Later: a value retired, a mission archived, a departure, winners, a revision, more.
    history.ok("/v1/values", {"key": "speed", "name": "Speed"})
    history.ok("/v1/values/care/retire", {}, status=200)
    history.ok("/v1/missions/m/archive", {}, status=200)
    history.ok("/v1/members/bo/departure", {"effective_from": now().isoformat()})
    history.ok("/v1/members", {"member_id": "cy", "display_name": "Cy", "team": "t"})
    history.ok("/v1/campaigns/c/winners", {})
    history.ok(
        "/v1/strategy/revisions",
        {
            "effective_from": now().isoformat(),
            "goals": [{"key": "g", "title": "G", "weight": 1, "values": {"speed": 1}}],
        },
    )
    last = history.ok(
        "/v1/recognitions", {"from_member": "ana", "to_member": "cy", "value": "speed", "points": 1}
    )

    def at(path: str, **params: object) -> dict:
        answer = history.get(path, as_of=then.isoformat(), min_position=last["position"], **params)
        assert answer.status_code == 200, answer.text
        body: dict = answer.json()
        assert body["as_of_position"] == first["position"]
        return body

    assert at("/v1/values")["items"] == [{"key": "care", "name": "Care", "retired": False}]
    members = {m["member_id"]: m for m in at("/v1/members")["items"]}
    assert set(members) == {"ana", "bo"} and members["bo"]["departed_at"] is None
    assert members["bo"]["active"] is True
    missions = at("/v1/missions")["items"]
    assert [(m["mission_id"], m["archived"], m["active"]) for m in missions] == [("m", False, True)]
    (campaign,) = at("/v1/campaigns")["items"]
    assert campaign["status"] == "ended" and campaign["declared_winners"] is None
    assert at("/v1/strategy") | {"as_of_position": 0} == {
        "revisions": [],
        "in_force": None,
        "as_of_position": 0,
    }
    feed = at("/v1/recognitions")["items"]
    assert [r["recognition_id"] for r in feed] == [first["recognition_id"]]
    open_to_ana = at("/v1/missions", member_id="ana")["items"]
    assert [m["mission_id"] for m in open_to_ana] == ["m"]  # yesterday's slot, not today's

    # Without as_of: today's catalog, at the newest position.
    now_values = history.get("/v1/values").json()
    assert {v["key"]: v["retired"] for v in now_values["items"]} == {"care": True, "speed": False}
    assert now_values["as_of_position"] == last["position"]
    declared = history.get("/v1/campaigns").json()["items"][0]
    assert (
        declared["status"] == "declared" and declared["declared_winners"][0]["member_id"] == "ana"
    )
