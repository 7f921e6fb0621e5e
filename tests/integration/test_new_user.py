"""What a new user trips over (issue 21), through a real server: a declared campaign's
board says who won and what came later, and a filter naming nothing is a typo."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.integration.http_server import create_tenant, running_server, store_head
from tests.integration.test_http_api import Api
from tests.support import now

# Its answers depend on the day: run again at fixed moments (.ci/run).
pytestmark = pytest.mark.calendar


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("new-user")) as url:
        yield url


def company(
    server: str,
    tenant: str,
    teams: dict[str, str],
    values: tuple[str, ...] = ("ownership",),
    mission: tuple[str, int] | None = None,
) -> Api:
    """A tenant with `values`, members (id: team) who joined 30 days ago, and optionally a
    daily mission (id, points) on the first value, open since 20 days ago."""
    admin = Api(server, create_tenant(server, tenant, timezone="Europe/Stockholm"))
    for key in values:
        admin.ok("/v1/values", {"key": key, "name": key.title()})
    for member, team in teams.items():
        admin.ok(
            "/v1/members",
            {
                "member_id": member,
                "display_name": member.title(),
                "team": team,
                "joined_at": (now() - timedelta(days=30)).isoformat(),
            },
        )
    if mission is not None:
        mission_id, points = mission
        admin.ok(
            "/v1/missions",
            {
                "mission_id": mission_id,
                "title": mission_id.replace("-", " ").capitalize(),
                "values": [values[0]],
                "points": points,
                "cadence": "daily",
                "starts_at": (now() - timedelta(days=20)).isoformat(),
            },
        )
    return admin


@pytest.fixture(scope="module")
def acme(server: str) -> Api:
    return company(
        server,
        "acme",
        {"ana": "sales", "bo": "sales", "cy": "support"},
        ("ownership", "speed"),
        ("follow-up", 10),
    )


def _complete(api: Api, member: str, days_ago: int) -> int:
    done = api.ok(
        "/v1/missions/follow-up/completions",
        {"member_id": member, "occurred_at": (now() - timedelta(days=days_ago)).isoformat()},
    )
    return int(done["position"])


def test_a_declared_campaign_board_marks_the_winners_and_what_was_recorded_after(
    acme: Api,
) -> None:
    # Given a campaign that ended yesterday, ana ahead of bo ahead of cy
    acme.ok(
        "/v1/campaigns",
        {
            "campaign_id": "own-it",
            "name": "Own it",
            "starts_at": (now() - timedelta(days=6, hours=12)).isoformat(),
            "ends_at": (now() - timedelta(days=1)).isoformat(),
            "values": ["ownership"],
            "multiplier": 1.5,
            "winners": 2,
        },
    )
    for member, days in (("ana", (6, 5, 4)), ("bo", (6, 5)), ("cy", (6,))):
        for day in days:
            _complete(acme, member, day)
    board = acme.get("/v1/leaderboard", period="campaign", campaign_id="own-it").json()
    assert "declared_at" not in board  # not declared yet: a board like any other
    # When the winners are declared, and then cy's work of three days is recorded late
    declared = acme.ok("/v1/campaigns/own-it/winners")
    assert [w["member_id"] for w in declared["winners"]] == ["ana", "bo"]
    last = max(_complete(acme, "cy", day) for day in (5, 4, 3))
    # Then the board ranks what is recorded now, and says what the winners came from
    board = acme.get(
        "/v1/leaderboard", period="campaign", campaign_id="own-it", min_position=last
    ).json()
    assert [e["member_id"] for e in board["entries"]] == ["cy", "ana", "bo"]
    assert board["winners"] == declared["winners"]
    assert board["declared_at"]
    marks = {
        e["member_id"]: (e["declared_winner"], e["rank_at_declaration"]) for e in board["entries"]
    }
    assert marks == {"ana": (True, 1), "bo": (True, 2), "cy": (False, 3)}
    assert board["after_declaration"] == {"behaviors": 3, "rank_changed": ["ana", "bo", "cy"]}
    # and time travel to before the late work gives the board the winners came from
    then = acme.get(
        "/v1/leaderboard", period="campaign", campaign_id="own-it", as_of=board["declared_at"]
    ).json()
    assert [e["member_id"] for e in then["entries"][:2]] == ["ana", "bo"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/leaderboard", {"team": "salez"}, "team"),
        ("/v1/leaderboard", {"value": "ownershp"}, "value"),
        ("/v1/leaderboard", {"period": "campaign", "campaign_id": "nope"}, "campaign_id"),
        ("/v1/heatmap", {"team": "salez"}, "team"),
        ("/v1/alignment", {"scope": "team", "team": "salez"}, "team"),
        ("/v1/members", {"team": "salez"}, "team"),
        ("/v1/missions", {"member_id": "anna"}, "member_id"),
        ("/v1/recognitions", {"member_id": "anna"}, "member_id"),
        ("/v1/drift", {"team": "salez"}, "team"),
        ("/v1/drift", {"value": "ownershp"}, "value"),
        ("/v1/recalibration", {"scope": "team", "team": "salez"}, "team"),
    ],
)
def test_a_filter_naming_nothing_known_is_a_422_naming_the_parameter(
    acme: Api, server: str, path: str, params: dict[str, str], field: str
) -> None:
    head = store_head(server)
    response = acme.get(path, **params)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in problem["errors"]] == [field]
    assert params[field] in problem["detail"]
    assert store_head(server) == head  # a read changes nothing


@pytest.mark.parametrize(
    ("page", "params", "field"),
    [
        ("/ui/leaderboard", {"member_id": "anna"}, "member_id"),
        ("/ui/leaderboard", {"team": "salez"}, "team"),
        ("/ui/activity", {"member_id": "anna"}, "member_id"),
        ("/ui/heatmap", {"team": "salez"}, "team"),
    ],
)
def test_the_pages_refuse_an_unknown_filter_naming_it(
    acme: Api, page: str, params: dict[str, str], field: str
) -> None:
    response = acme.get(page, **params)
    assert response.status_code == 422
    assert field in response.text and params[field] in response.text


def test_known_filters_still_answer(acme: Api) -> None:
    for path, params in (
        ("/v1/leaderboard", {"team": "sales", "value": "ownership", "period": "month"}),
        ("/v1/members", {"team": "support"}),
        ("/v1/missions", {"member_id": "ana"}),
    ):
        response = acme.get(path, **params)
        assert response.status_code == 200, response.text


CSV_ROUTES = [
    ("/v1/leaderboard", {"period": "month"}, "entries", ("member_id", "rank", "points")),
    (
        "/v1/leaderboard",
        {"period": "campaign", "campaign_id": "own-it"},
        "entries",
        ("member_id", "points", "declared_winner"),
    ),
    ("/v1/heatmap", {}, "cells", ("team", "value", "week_start", "behaviors", "points")),
    ("/v1/alignment", {"period": "month"}, "values", ("value", "target", "observed", "gap")),
    ("/v1/members/cy/points", {}, "awards", ("award_id", "points", "kind", "source.id")),
    ("/v1/events", {"limit": 20}, "events", ("event_id", "event_type", "position")),
    ("/v1/values", {}, "items", ("key", "name", "retired")),
    ("/v1/missions", {}, "items", ("mission_id", "points", "values")),
    ("/v1/campaigns", {}, "items", ("campaign_id", "status", "multiplier")),
    ("/v1/members", {}, "items", ("member_id", "team", "active")),
    ("/v1/recognitions", {}, "items", ("recognition_id",)),
    ("/v1/strategy", {}, "revisions", ("version",)),
    ("/v1/drift", {}, "alerts", ("alert_id",)),
]


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    return str(value)


@pytest.mark.parametrize(("path", "params", "rows", "columns"), CSV_ROUTES)
def test_every_read_route_answers_csv_with_the_jsons_rows(
    acme: Api, path: str, params: dict[str, object], rows: str, columns: tuple[str, ...]
) -> None:
    import csv
    import io

    as_json = acme.get(path, **params)
    assert as_json.status_code == 200, as_json.text
    as_csv = acme.client.get(path, params=params, headers={"Accept": "text/csv"})
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    doc = as_json.json()
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    entries = doc[rows]
    assert len(table) == len(entries)
    assert as_csv.headers["x-as-of-position"] == str(doc["as_of_position"])
    for line, entry in zip(table, entries, strict=True):
        for column in columns:
            head, _, tail = column.partition(".")
            value = entry[head][tail] if tail else entry[head]
            assert line[column] == _as_text(value), (column, line, entry)


def test_csv_refusals_stay_problems_and_json_stays_the_default(acme: Api) -> None:
    refused = acme.client.get(
        "/v1/leaderboard", params={"team": "salez"}, headers={"Accept": "text/csv"}
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    either = acme.client.get("/v1/values", headers={"Accept": "application/json, text/csv;q=0.5"})
    assert either.headers["content-type"].startswith("application/json")


def test_the_summary_counts_participation_behaviors_and_points_against_last_period(
    server: str,
) -> None:
    # Given four members, this week: ana recognizes bo (5), cy completes a mission (10);
    # last week: dee completed it, and ana recognized cy (5)
    admin = company(
        server, "globex", {m: "sales" for m in ("ana", "bo", "cy", "dee")}, mission=("call", 10)
    )
    this_week = (now() - timedelta(minutes=5)).isoformat()
    last_week = (now() - timedelta(days=7)).isoformat()

    def recognize(giver: str, receiver: str, when: str) -> int:
        body = {"from_member": giver, "to_member": receiver, "value": "ownership"}
        return int(
            admin.ok("/v1/recognitions", body | {"points": 5, "occurred_at": when})["position"]
        )

    recognize("ana", "bo", this_week)
    recognize("ana", "cy", last_week)
    admin.ok("/v1/missions/call/completions", {"member_id": "dee", "occurred_at": last_week})
    last = admin.ok("/v1/missions/call/completions", {"member_id": "cy", "occurred_at": this_week})
    # When the week is summarized
    doc = admin.get("/v1/summary", period="week", min_position=last["position"]).json()
    # Then
    assert doc["members"] == 4
    assert doc["participation"] == {
        "gave": 1,
        "received": 1,
        "share_gave": 0.25,
        "share_received": 0.25,
    }
    assert (doc["behaviors"], doc["points"]) == (2, 15)
    assert (doc["previous"]["behaviors"], doc["previous"]["points"]) == (2, 15)
    assert doc["previous"]["participation"]["received"] == 1
    assert doc["period"]["partial"] is True and doc["period"]["kind"] == "week"
    assert set(doc["alignment"]) == {"score", "previous_score"}
    assert doc["open_alerts"] == 0
    # and the roles that may read it: not a service key
    service = admin.key_for("service")
    assert service.get("/v1/summary").status_code == 403
    assert admin.key_for("manager").get("/v1/summary").status_code == 200


def test_an_unknown_key_on_an_empty_store_says_the_store_is_empty(
    tmp_path_factory: pytest.TempPathFactory, server: str, acme: Api
) -> None:
    import httpx

    wrong = {"Authorization": "Bearer lk_not-issued-here"}
    with running_server(tmp_path_factory.mktemp("empty")) as empty:
        refused = httpx.get(f"{empty}/v1/leaderboard", headers=wrong)
        assert refused.status_code == 401
        assert "holds no tenants" in refused.json()["detail"]
    # A store with tenants: just unknown (it says nothing about what the store holds)
    refused = httpx.get(f"{server}/v1/leaderboard", headers=wrong)
    assert refused.status_code == 401 and refused.json()["detail"] == "unknown API key"


def test_problems_have_one_type_per_kind_and_name_their_field(acme: Api, server: str) -> None:
    import httpx

    routed = acme.get("/v1/no-such-route")
    domain = acme.get("/v1/members/nobody/points")
    assert routed.status_code == domain.status_code == 404
    assert routed.json()["type"] == domain.json()["type"]
    assert routed.json()["type"].endswith("/not-found")
    to_self = acme.post(
        "/v1/recognitions",
        {"from_member": "ana", "to_member": "ana", "value": "ownership", "points": 5},
    )
    assert to_self.status_code == 422 and to_self.json()["field"] == "to_member"
    typo = acme.get("/v1/leaderboard", team="salez").json()
    assert typo["field"] == "team"
    unauthenticated = httpx.get(f"{server}/v1/leaderboard").json()
    assert unauthenticated["type"].endswith("/unauthenticated") and unauthenticated["field"] is None


def test_the_recognition_flow_ranks_givers_and_receivers_and_crosses_teams(
    server: str,
) -> None:
    # Given ana and bo in sales, cy in support; ana recognizes bo and cy, cy recognizes ana
    admin = company(server, "initech", {"ana": "sales", "bo": "sales", "cy": "support"})
    last = 0
    for giver, receiver, points in (("ana", "bo", 5), ("ana", "cy", 3), ("cy", "ana", 4)):
        last = int(
            admin.ok(
                "/v1/recognitions",
                {
                    "from_member": giver,
                    "to_member": receiver,
                    "value": "ownership",
                    "points": points,
                },
            )["position"]
        )
    # When the month's flow is read
    doc = admin.get("/v1/recognitions/flow", period="month", min_position=last).json()
    # Then
    assert doc["recognitions"] == 3
    assert doc["givers"] == [
        {"rank": 1, "member_id": "ana", "recognitions": 2, "points": 8},
        {"rank": 2, "member_id": "cy", "recognitions": 1, "points": 4},
    ]
    assert [(e["rank"], e["member_id"]) for e in doc["receivers"]] == [
        (1, "bo"),
        (2, "ana"),
        (3, "cy"),
    ]
    assert doc["flow"] == [
        {"from_team": "sales", "to_team": "sales", "recognitions": 1, "points": 5},
        {"from_team": "sales", "to_team": "support", "recognitions": 1, "points": 3},
        {"from_team": "support", "to_team": "sales", "recognitions": 1, "points": 4},
    ]


def test_the_heatmap_per_person_divides_by_the_teams_size_that_week(server: str) -> None:
    # Given a team of three and a team of one, each completing the same mission once
    admin = company(
        server,
        "hooli",
        {"ana": "big", "bo": "big", "cy": "big", "dee": "small"},
        mission=("call", 30),
    )
    last = 0
    for member in ("ana", "dee"):
        last = int(admin.ok("/v1/missions/call/completions", {"member_id": member})["position"])
    # When the heatmap is asked per person
    cells = admin.get("/v1/heatmap", per_person="true", min_position=last).json()["cells"]
    by_team = {c["team"]: c for c in cells}
    # Then the same 30 points are 10 a person in the team of three, 30 in the team of one
    assert by_team["big"]["points"] == by_team["small"]["points"] == 30
    assert (by_team["big"]["members"], by_team["big"]["points_per_person"]) == (3, 10.0)
    assert (by_team["small"]["members"], by_team["small"]["points_per_person"]) == (1, 30.0)
    plain = admin.get("/v1/heatmap").json()["cells"]
    assert all("members" not in c for c in plain)  # the API's cells, unchanged by default
