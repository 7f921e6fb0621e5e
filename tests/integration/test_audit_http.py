"""Reversals and explanations through real HTTP, and the audit CLI over the same store."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http_server import create_tenant, running_server
from tests.integration.test_http_api import Api
from tests.support import now, process_env

# Its answers depend on the day: run again at fixed moments (.ci/run).
pytestmark = pytest.mark.calendar


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Path]]:
    data_dir = tmp_path_factory.mktemp("audit")
    with running_server(data_dir) as url:
        admin = Api(url, create_tenant(url, "acme", timezone="Europe/Stockholm"))
        admin.ok("/v1/values", {"key": "customer-focus", "name": "Customer focus"})
        admin.ok("/v1/values", {"key": "ownership", "name": "Ownership"})
        for member, team in (("ana", "sales"), ("bo", "sales"), ("cy", "support")):
            admin.ok(
                "/v1/members",
                {
                    "member_id": member,
                    "display_name": member.title(),
                    "team": team,
                    "joined_at": (now() - timedelta(days=60)).isoformat(),
                },
            )
        admin.ok(
            "/v1/strategy/revisions",
            {
                "effective_from": (now() - timedelta(days=30)).isoformat(),
                "goals": [
                    {
                        "key": "cx",
                        "title": "Customers",
                        "weight": 1,
                        "values": {"customer-focus": 1},
                    }
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
        yield admin, data_dir


def points(api: Api, member: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/v1/members/{member}/points", **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ledger_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args, "--data-dir", str(data_dir)],
        env=process_env(COLUMNS="300"),
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_reversed_award_counts_nowhere_and_the_audit_keeps_both(
    company: tuple[Api, Path],
) -> None:
    admin, data_dir = company
    service = admin.key_for("service")
    done = service.ok("/v1/missions/follow-up/completions", {"member_id": "bo"})
    given = service.ok(
        "/v1/recognitions",
        {"from_member": "ana", "to_member": "bo", "value": "ownership", "points": 7},
    )
    before = points(admin, "bo", min_position=given["position"])
    award = next(a for a in before["awards"] if a["source"]["id"] == done["completion_id"])
    board = admin.get("/v1/leaderboard", period="all").json()["entries"]
    assert next(e["points"] for e in board if e["member_id"] == "bo") == 17
    heat = admin.get("/v1/heatmap").json()["cells"]
    assert sum(c["behaviors"] for c in heat if c["value"] == "customer-focus") == 1
    moment_before = now()

    # Given one award, when an admin reverses it,
    manager = admin.key_for("manager")
    refused = manager.post(f"/v1/awards/{award['award_id']}/reversal", {"reason": "gaming"})
    assert refused.status_code == 403
    unreasoned = admin.post(f"/v1/awards/{award['award_id']}/reversal", {})
    assert unreasoned.status_code == 422
    reversed_ = admin.ok(f"/v1/awards/{award['award_id']}/reversal", {"reason": "gaming"})
    again = admin.post(f"/v1/awards/{award['award_id']}/reversal", {"reason": "twice"})
    assert again.status_code == 409, again.text
    unknown = admin.post(
        "/v1/awards/00000000-0000-0000-0000-000000000001/reversal", {"reason": "x"}
    )
    assert unknown.status_code == 404

    # then every projection drops it,
    after = points(admin, "bo", min_position=reversed_["position"])
    assert after["balance"] == before["balance"] - 10
    assert sum(a["points"] for a in after["awards"]) == after["balance"]
    board = admin.get("/v1/leaderboard", period="all").json()["entries"]
    assert next(e["points"] for e in board if e["member_id"] == "bo") == 7
    heat = admin.get("/v1/heatmap").json()["cells"]
    assert sum(c["behaviors"] for c in heat if c["value"] == "customer-focus") == 0
    alignment = admin.get("/v1/alignment", scope="tenant", period="month").json()
    assert alignment["behaviors"] == 1  # the recognition only
    # the audit keeps both, and time travel shows the award as it stood.
    kinds = [a["kind"] for a in after["awards"] if a["award_id"] == award["award_id"]]
    assert kinds == ["completion", "reversal"]
    explained = admin.get(f"/v1/awards/{award['award_id']}").json()
    assert explained["reversal"]["reason"] == "gaming"
    assert explained["behavior"]["event_type"] == "CompletionRecorded"
    assert explained["rule"]["name"] == "mission-completion"
    past = points(admin, "bo", as_of=moment_before.isoformat())
    assert past["balance"] == before["balance"]

    # The CLI explains the same, from the event store itself, and history verifies.
    audited = ledger_cli(data_dir, "audit", "bo", "--tenant", "acme", "--json")
    assert audited.returncode == 0, audited.stderr
    document = json.loads(audited.stdout)
    assert document["balance"] == after["balance"]
    assert [a["award_id"] for a in document["awards"]] == [a["award_id"] for a in after["awards"]]
    verified = ledger_cli(data_dir, "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True


def test_award_explanations_are_tenant_scoped_and_refuse_bad_ids(
    company: tuple[Api, Path],
) -> None:
    admin, _ = company
    other = Api(admin.url, create_tenant(admin.url, "globex"))
    award_id = points(admin, "ana")["awards"]
    assert admin.get("/v1/awards/not-a-uuid").status_code == 422
    assert other.get("/v1/awards/00000000-0000-0000-0000-000000000002").status_code == 404
    for award in award_id:
        assert other.get(f"/v1/awards/{award['award_id']}").status_code == 404
        assert (
            other.post(f"/v1/awards/{award['award_id']}/reversal", {"reason": "x"}).status_code
            == 404
        )


def test_detect_finds_a_planted_ring_and_not_ordinary_peers(company: tuple[Api, Path]) -> None:
    admin, data_dir = company
    service = admin.key_for("service")
    for member in ("dan", "eve", "fay"):
        admin.ok(
            "/v1/members",
            {
                "member_id": member,
                "display_name": member.title(),
                "team": "ring",
                "joined_at": (now() - timedelta(days=60)).isoformat(),
            },
        )
    # A ring dan -> eve -> fay -> dan, three recognitions on each edge over eight days,
    # never three in one ISO week (the pair limit is 2 a week, whatever day this runs);
    ring = [("dan", "eve"), ("eve", "fay"), ("fay", "dan")]
    ids = []
    for back in (timedelta(hours=1), timedelta(days=7, hours=1), timedelta(days=8, hours=1)):
        for giver, receiver in ring:
            given = service.ok(
                "/v1/recognitions",
                {
                    "from_member": giver,
                    "to_member": receiver,
                    "value": "ownership",
                    "points": 5,
                    "occurred_at": (now() - back).isoformat(),
                },
            )
            ids.append(given["recognition_id"])
    # and ordinary peers who spread their thanks.
    for giver, receiver in (("ana", "cy"), ("cy", "ana"), ("ana", "bo"), ("bo", "cy")):
        service.ok(
            "/v1/recognitions",
            {"from_member": giver, "to_member": receiver, "value": "ownership", "points": 3},
        )
    found = ledger_cli(data_dir, "detect", "--tenant", "acme", "--json")
    assert found.returncode == 0, found.stderr
    findings = json.loads(found.stdout)["findings"]
    assert findings == [
        {
            "kind": "ring",
            "members": ["dan", "eve", "fay"],
            "recognitions": 9,
            "points": 45,
            "evidence": sorted(ids),
        }
    ]
    unknown = ledger_cli(data_dir, "detect", "--tenant", "nobody", "--json")
    assert unknown.returncode == 2 and "no tenant" in unknown.stdout
