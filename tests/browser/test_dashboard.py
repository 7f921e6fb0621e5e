"""The dashboard in a real browser (headless Chromium) against a real `ledger serve` with
the demo company: what the pages show equals what the API answers, the filters work,
refusals are clear, every page is screenshot (test-artifacts/screenshots/) and axe-core
finds no serious accessibility violation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS, Demo

# Its pages and answers depend on the day: run again at fixed moments (.ci/run).
pytestmark = [pytest.mark.timeout(300), pytest.mark.calendar]

SERIOUS = ("serious", "critical")


def sign_in(page: Any, demo: Demo, key: str | None = None) -> None:
    page.goto(demo.url + "/")
    page.get_by_test_id("api-key").fill(key or demo.admin_key)
    page.get_by_test_id("sign-in").click()


def open_page(page: Any, demo: Demo, path: str) -> None:
    """Navigate in the signed-in tab and wait until the page's HTML arrived."""
    page.goto(demo.url + path)
    ready(page)


def ready(page: Any) -> None:
    """The page's HTML arrived (a selector: the pages' CSP forbids the eval a JS wait uses)."""
    page.locator("body[data-state=ready]").wait_for()


def rows(page: Any) -> list[tuple[str, int, int]]:
    return [
        (
            row.get_attribute("data-member-id"),
            int(row.get_attribute("data-rank")),
            int(row.get_attribute("data-points")),
        )
        for row in page.get_by_test_id("leaderboard-row").all()
    ]


def api_rows(demo: Demo, **params: Any) -> list[tuple[str, int, int]]:
    doc = demo.api("/v1/leaderboard", limit=25, **params)
    return [(e["member_id"], e["rank"], e["points"]) for e in doc["entries"]]


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def accessible(page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    serious = [(v["id"], v["impact"], len(v["nodes"])) for v in found if v["impact"] in SERIOUS]
    assert not serious, serious


def test_a_wrong_key_is_refused_with_a_clear_message(page: Any, demo: Demo) -> None:
    sign_in(page, demo, key="lk_" + "x" * 43)
    error = page.get_by_test_id("sign-in-error")
    error.wait_for(state="visible")
    assert "not accepted" in error.inner_text()
    assert page.get_by_test_id("leaderboard-row").count() == 0
    shoot(page, "sign-in-refused")
    accessible(page)


def test_signed_in_the_leaderboard_rows_are_the_apis(page: Any, demo: Demo) -> None:
    sign_in(page, demo)
    ready(page)
    assert rows(page) == api_rows(demo, period="week")
    assert rows(page), "the demo's week has points"
    shoot(page, "leaderboard-week")
    accessible(page)


def test_switching_period_team_and_value_updates_the_leaderboard(page: Any, demo: Demo) -> None:
    sign_in(page, demo)
    ready(page)
    page.locator("select[name=period]").select_option("month")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/leaderboard?**period=month**")
    ready(page)
    assert rows(page) == api_rows(demo, period="month")
    page.locator("select[name=team]").select_option("support")
    page.locator("select[name=value]").select_option("customer-focus")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**team=support**")
    ready(page)
    filtered = rows(page)
    assert filtered == api_rows(demo, period="month", team="support", value="customer-focus")
    assert filtered and filtered != api_rows(demo, period="month")
    shoot(page, "leaderboard-month-support-customer-focus")


def test_a_members_own_position_shows_below_the_top(page: Any, demo: Demo) -> None:
    everyone = demo.api("/v1/leaderboard", period="all", limit=1000)["entries"]
    last = everyone[-1]
    sign_in(page, demo)
    open_page(page, demo, f"/leaderboard?period=all&member_id={last['member_id']}")
    mine = page.get_by_test_id("my-position").inner_text()
    assert f"number {last['rank']} with {last['points']} points" in mine


def test_the_heatmap_has_one_cell_per_api_cell_with_the_same_numbers(page: Any, demo: Demo) -> None:
    sign_in(page, demo)
    open_page(page, demo, "/heatmap")
    cells = {
        (
            c.get_attribute("data-team"),
            c.get_attribute("data-value"),
            c.get_attribute("data-week-start"),
            int(c.get_attribute("data-behaviors")),
            int(c.get_attribute("data-points")),
        )
        for c in page.get_by_test_id("heatmap-cell").all()
    }
    api = demo.api("/v1/heatmap")["cells"]
    assert cells == {
        (c["team"], c["value"], c["week_start"], c["behaviors"], c["points"]) for c in api
    }
    assert page.get_by_test_id("heatmap-cell").count() == len(api) > 0
    shoot(page, "heatmap")
    accessible(page)
    open_page(page, demo, "/heatmap?team=sales")
    teams = {c.get_attribute("data-team") for c in page.get_by_test_id("heatmap-cell").all()}
    assert teams == {"sales"}


def test_alignment_shows_the_apis_score_and_marks_the_revision_change(
    page: Any, demo: Demo
) -> None:
    sign_in(page, demo)
    open_page(page, demo, "/alignment")
    api = demo.api("/v1/alignment", scope="tenant", period="week")
    figure = page.get_by_test_id("alignment-score")
    assert figure.get_attribute("data-score") == ("" if api["score"] is None else str(api["score"]))
    assert figure.get_attribute("data-strategy-version") == str(api["strategy_version"])
    shoot(page, "alignment-company-week")
    # The demo revises its strategy four months before today: the monthly trend marks where.
    open_page(page, demo, "/alignment?scope=tenant&period=month")
    marker = page.locator("[data-testid=revision-marker]")
    assert marker.count() == 1
    changed = page.locator("[data-testid=alignment-period][data-revision-changed=true]")
    version = changed.get_attribute("data-strategy-version")
    assert marker.get_attribute("data-strategy-version") == version
    start = changed.get_attribute("data-period-start")
    before = demo.api("/v1/alignment", scope="tenant", period="month", at=start)
    assert str(before["strategy_version"]) == version
    shoot(page, "alignment-company-month")
    accessible(page)
    open_page(page, demo, "/alignment?scope=team&team=product&period=month")
    api = demo.api("/v1/alignment", scope="team", team="product", period="month")
    score = page.get_by_test_id("alignment-score").get_attribute("data-score")
    assert score == ("" if api["score"] is None else str(api["score"]))
    shoot(page, "alignment-product-month")


def test_the_member_audit_view_lists_every_award_of_the_api(page: Any, demo: Demo) -> None:
    leader = demo.api("/v1/leaderboard", period="all", limit=1)["entries"][0]
    sign_in(page, demo)
    open_page(page, demo, f"/members/{leader['member_id']}")
    shown = [
        (r.get_attribute("data-award-id"), int(r.get_attribute("data-points")))
        for r in page.get_by_test_id("award-row").all()
    ]
    api = demo.api(f"/v1/members/{leader['member_id']}/points")
    in_occurred_order = sorted(api["awards"], key=lambda a: (a["occurred_at"], a["position"]))
    assert shown == [(a["award_id"], a["points"]) for a in in_occurred_order]
    assert int(page.get_by_test_id("balance").inner_text()) == api["balance"] == leader["points"]
    # The member's page (issue 21): name and team, then points by month adding up to the
    # balance, and by value
    heading = page.get_by_role("heading", level=1).inner_text()
    assert (leader["display_name"] or leader["member_id"]) in heading and leader["team"] in heading
    months = page.get_by_test_id("member-by-month").locator("tbody tr").all()
    assert sum(int(m.get_attribute("data-points")) for m in months) == api["balance"]
    assert page.get_by_test_id("member-by-value").locator("tbody tr").count() > 0
    shoot(page, "member-audit")
    accessible(page)


def test_activity_shows_the_feed_missions_and_campaigns(page: Any, demo: Demo) -> None:
    sign_in(page, demo)
    open_page(page, demo, "/activity")
    feed = demo.api("/v1/recognitions", limit=20)["items"]
    assert page.get_by_test_id("recognition").count() == len(feed) > 0
    campaigns = demo.api("/v1/campaigns")["items"]
    shown = {
        c.get_attribute("data-campaign-id"): c.get_attribute("data-status")
        for c in page.get_by_test_id("campaign").all()
    }
    assert shown == {c["campaign_id"]: c["status"] for c in campaigns}
    missions = demo.api("/v1/missions", active="true")["items"]
    assert page.get_by_test_id("mission").count() == len(missions) > 0
    shoot(page, "activity")
    accessible(page)


def test_a_page_needing_a_choice_says_so_and_signing_out_forgets_the_key(
    page: Any, demo: Demo
) -> None:
    sign_in(page, demo)
    ready(page)
    page.goto(demo.url + "/leaderboard?period=campaign")
    page.locator("body[data-state=error]").wait_for()
    assert "choose a campaign" in page.get_by_test_id("page-error").inner_text()
    page.get_by_test_id("sign-out").click()
    assert page.evaluate("sessionStorage.length") == 0
    page.goto(demo.url + "/heatmap")
    page.get_by_test_id("api-key").wait_for(state="visible")
    assert page.get_by_test_id("heatmap-cell").count() == 0
