"""The drift watch page (/drift) in a real browser on the demo company: its alerts and
series are the API's, the demo's product team is alerted, and a manager's
acknowledgement from the page is recorded."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import Demo
from tests.browser.test_dashboard import accessible, open_page, shoot, sign_in

pytestmark = [pytest.mark.timeout(300), pytest.mark.calendar]


def raised_drift(demo: Demo) -> dict[str, Any]:
    """The watch once `ledger serve` raised what it found at start."""
    deadline = time.monotonic() + 60
    while True:
        doc = demo.api("/v1/drift")
        if any(a["raised"] for a in doc["alerts"]) or time.monotonic() > deadline:
            return doc
        time.sleep(0.5)


def test_the_drift_page_shows_the_apis_alerts_and_series(page: Any, demo: Demo) -> None:
    api = raised_drift(demo)
    product = [a for a in api["alerts"] if (a["team"], a["value"]) == ("product", "customer-focus")]
    assert product and product[0]["current"], api["alerts"]  # the demo's slow leak
    sign_in(page, demo)
    open_page(page, demo, "/drift")
    shown = [
        (
            a.get_attribute("data-alert-id"),
            a.get_attribute("data-team"),
            a.get_attribute("data-value"),
            a.get_attribute("data-onset"),
            a.get_attribute("data-week"),
        )
        for a in page.get_by_test_id("drift-alert").all()
    ]
    assert sorted(shown) == sorted(
        (a["alert_id"], a["team"] or "", a["value"], a["onset"], a["week"]) for a in api["alerts"]
    )
    rows = [
        (
            r.get_attribute("data-team"),
            r.get_attribute("data-value"),
            r.get_attribute("data-state"),
            r.get_attribute("data-cusum"),
        )
        for r in page.get_by_test_id("drift-series").all()
    ]
    assert rows == [
        (s["team"] or "", s["value"], s["state"], "" if s["cusum"] is None else str(s["cusum"]))
        for s in api["series"]
    ]
    first = page.get_by_test_id("drift-alert").first
    assert first.get_attribute("data-current") == "true"  # open alerts first
    assert first.locator("svg").count() == 1  # its CUSUM chart with the alarm line
    shoot(page, "drift")
    accessible(page)


def test_an_alert_is_acknowledged_from_the_page(page: Any, demo: Demo) -> None:
    api = raised_drift(demo)
    alert = next(a for a in api["alerts"] if a["raised"] and a["acknowledged"] is None)
    sign_in(page, demo)
    open_page(page, demo, "/drift")
    card = page.locator(f"[data-testid=drift-alert][data-alert-id='{alert['alert_id']}']")
    card.locator("textarea[name=note]").fill("Product pairs with sales on customer calls")
    card.locator("input[name='lever.text']").fill("customer calls rota")
    card.get_by_test_id("acknowledge").click()
    card = page.locator(f"[data-testid=drift-alert][data-alert-id='{alert['alert_id']}']")
    card.get_by_test_id("drift-acknowledged").wait_for()
    assert "Product pairs with sales" in card.get_by_test_id("drift-acknowledged").inner_text()
    after = demo.api(f"/v1/drift/alerts/{alert['alert_id']}")
    assert after["acknowledged"]["note"] == "Product pairs with sales on customer calls"
    assert after["acknowledged"]["lever"] == {"kind": "other", "text": "customer calls rota"}
    shoot(page, "drift-acknowledged")


def test_the_levers_of_the_drifting_team_are_the_apis_and_a_campaign_is_drafted_from_one(
    page: Any, demo: Demo
) -> None:
    raised_drift(demo)
    api = demo.api("/v1/recalibration", scope="team", team="product")
    (value,) = [v for v in api["values"] if v["value"] == "customer-focus"]
    sign_in(page, demo)
    open_page(page, demo, "/drift?team=product")
    section = page.locator(
        "[data-testid=recalibration-value][data-team=product][data-value=customer-focus]"
    )
    rows = section.get_by_test_id("recalibration-lever").all()
    assert [
        (r.get_attribute("data-kind"), r.get_attribute("data-recommended") == "true") for r in rows
    ] == [(lever["kind"], lever["recommended"]) for lever in value["levers"]]
    first = value["levers"][0]
    text = rows[0].inner_text()
    assert f"+{first['extra_points']}" in text
    assert f"{first['score']['low']} to {first['score']['high']}" in text  # a range
    source = first["elasticity"]["source"]
    assert ("learned from" if source == "past_campaigns" else "assumed") in text
    shoot(page, "drift-levers")
    accessible(page)
    # One step to a campaign draft: the admin confirms it, and it is a real campaign.
    draft = section.locator("[data-testid=recalibration-lever][data-kind=campaign]").first
    campaign_id = draft.locator("input[name=campaign_id]").input_value()
    draft.get_by_test_id("launch-draft").click()
    page.locator("body[data-state=ready]").wait_for()
    deadline = time.monotonic() + 30
    while True:
        ids = [c["campaign_id"] for c in demo.api("/v1/campaigns", limit=50)["items"]]
        if campaign_id in ids or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert campaign_id in ids
    launched = next(
        c for c in demo.api("/v1/campaigns", limit=50)["items"] if c["campaign_id"] == campaign_id
    )
    assert launched["values"] == ["customer-focus"] and launched["status"] == "upcoming"
