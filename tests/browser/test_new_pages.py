"""The pages issue 21 added or changed, in a real browser on the demo: the home page's
headline figures are the API's summary, a declared campaign's board marks its winners,
and a CSV link downloads the table the API answers. Screenshots in test-artifacts/."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Demo
from tests.browser.test_dashboard import accessible, open_page, ready, shoot, sign_in

pytestmark = [pytest.mark.timeout(300), pytest.mark.calendar]


def test_the_home_page_shows_the_summarys_figures(page: Any, demo: Demo) -> None:
    sign_in(page, demo)
    ready(page)
    for period in ("week", "month"):
        open_page(page, demo, f"/home?period={period}")
        summary = demo.api("/v1/summary", period=period)
        shown = page.get_by_test_id("participation")
        share_gave = shown.get_attribute("data-share-gave")
        assert share_gave == (
            ""
            if summary["participation"]["share_gave"] is None
            else str(summary["participation"]["share_gave"])
        )
        assert shown.get_attribute("data-share-received") == str(
            summary["participation"]["share_received"]
        )
        behaviors = page.get_by_test_id("summary-behaviors")
        assert int(behaviors.get_attribute("data-behaviors")) == summary["behaviors"]
        assert int(behaviors.get_attribute("data-previous")) == summary["previous"]["behaviors"]
        assert (
            int(page.get_by_test_id("summary-points").get_attribute("data-points"))
            == summary["points"]
        )
        alerts = page.get_by_test_id("summary-alerts").get_attribute("data-open-alerts")
        assert int(alerts) == summary["open_alerts"]
        partial = page.get_by_test_id("summary-period").get_attribute("data-partial")
        assert partial == ("true" if summary["period"]["partial"] else "false")
        if period == "month":
            shoot(page, "home-month")
    accessible(page)


def test_a_declared_campaigns_board_marks_its_winners(page: Any, demo: Demo) -> None:
    board = demo.api("/v1/leaderboard", period="campaign", campaign_id="customer-month", limit=25)
    assert board["declared_at"], "the demo declares its campaign's winners"
    sign_in(page, demo)
    open_page(page, demo, "/leaderboard?period=campaign&campaign_id=customer-month")
    note = page.get_by_test_id("campaign-declaration")
    assert note.get_attribute("data-declared-at") == board["declared_at"]
    assert (
        int(note.get_attribute("data-later-behaviors")) == board["after_declaration"]["behaviors"]
    )
    marked = {
        row.get_attribute("data-member-id")
        for row in page.get_by_test_id("leaderboard-row").all()
        if row.get_attribute("data-declared-winner") == "true"
    }
    assert marked == {e["member_id"] for e in board["entries"] if e["declared_winner"]}
    assert marked <= {w["member_id"] for w in board["winners"]}
    shoot(page, "leaderboard-campaign-declared")
    accessible(page)


def test_the_csv_link_downloads_the_apis_table(page: Any, demo: Demo) -> None:
    sign_in(page, demo)
    open_page(page, demo, "/home?period=month")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()
    saved = download.value
    assert saved.suggested_filename == "summary-month.csv"
    with open(saved.path(), encoding="utf-8", newline="") as file:
        text = file.read()
    expected = httpx.get(
        f"{demo.url}/v1/summary",
        params={"period": "month"},
        headers={"Authorization": f"Bearer {demo.admin_key}", "Accept": "text/csv"},
    ).text
    assert text == expected
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert int(row["behaviors"]) == demo.api("/v1/summary", period="month")["behaviors"]


def test_the_feed_shows_messages_to_an_admin_not_to_a_manager_and_the_boards_are_the_apis(
    page: Any, demo: Demo
) -> None:
    flow = demo.api("/v1/recognitions/flow", period="month")
    sign_in(page, demo)
    open_page(page, demo, "/activity")
    assert page.get_by_test_id("recognition-message").count() > 0, "the demo's feed has messages"
    givers = [
        (r.get_attribute("data-member-id"), int(r.get_attribute("data-recognitions")))
        for r in page.get_by_test_id("giver-row").all()
    ]
    assert givers == [(e["member_id"], e["recognitions"]) for e in flow["givers"]]
    cells = {
        (c.get_attribute("data-from-team"), c.get_attribute("data-to-team")): int(
            c.get_attribute("data-recognitions")
        )
        for c in page.get_by_test_id("team-flow-cell").all()
    }
    for f in flow["flow"]:
        assert cells[(f["from_team"], f["to_team"])] == f["recognitions"]
    shoot(page, "activity-feed-admin")
    accessible(page)
    manager = httpx.post(
        f"{demo.url}/v1/api-keys",
        json={"role": "manager", "label": "browser manager"},
        headers={"Authorization": f"Bearer {demo.admin_key}"},
    ).json()["key"]
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, demo, manager)
    open_page(page, demo, "/activity")
    assert page.get_by_test_id("recognition").count() > 0
    assert page.get_by_test_id("recognition-message").count() == 0
    shoot(page, "activity-feed-manager")


def test_the_heatmap_per_person_shows_the_apis_points_per_member(page: Any, demo: Demo) -> None:
    cells = demo.api("/v1/heatmap", per_person="true")["cells"]
    sign_in(page, demo)
    open_page(page, demo, "/heatmap?per_person=true")
    shown = {
        (
            c.get_attribute("data-team"),
            c.get_attribute("data-value"),
            c.get_attribute("data-week-start"),
        ): (
            c.get_attribute("data-points-per-person"),
            c.get_attribute("data-members"),
        )
        for c in page.get_by_test_id("heatmap-cell").all()
    }
    assert shown == {
        (c["team"], c["value"], c["week_start"]): (
            "" if c["points_per_person"] is None else str(c["points_per_person"]),
            str(c["members"]),
        )
        for c in cells
    }
    shoot(page, "heatmap-per-person")
