"""Recalibration (RULES.md "Recalibration") through real HTTP and the CLI, on a generated
company, against figures computed here from the recorded facts alone.

Team t0 lets value `a` fade; two past campaigns (on b, and on c) moved people a little.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger.clock import FixedClock
from ledger.commands.tenancy import IssueApiKey
from ledger.envelope import envelope_of
from ledger.periods import week_start
from ledger.store import EventStore
from tests.conftest import open_ledger
from tests.drift_company import TARGETS, VALUES, PastCampaign, fading_mix, generate
from tests.integration.http_server import running_server, store_head
from tests.integration.test_http_api import Api
from tests.support import ledger_cli, now

pytestmark = pytest.mark.calendar
WEEKS = 20
CAMPAIGNS = (
    PastCampaign("push-b", 3, 2, "b", 2.0, 1.6),
    PastCampaign("push-c", 7, 2, "c", 1.5, 1.3),
)


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data_dir: Path = tmp_path_factory.mktemp("recalibration")
    this_monday = week_start(now().date())
    start = datetime.combine(this_monday, datetime.min.time(), UTC) - timedelta(weeks=WEEKS)
    clock = FixedClock(start)
    ledger = open_ledger(f"sqlite:///{data_dir / 'events.sqlite'}", clock)
    world = generate(
        ledger, clock, WEEKS, fading_mix(11, 6, 0.05), 4, ("t0", "t1"), start, CAMPAIGNS
    )
    clock.set(now() - timedelta(minutes=1))
    admin_key = world.run(IssueApiKey(role="admin", label="admin"))["key"]
    ledger.close()
    with running_server(data_dir) as url:
        admin = Api(url, admin_key)
        for _ in range(300):  # the server builds its projection of the history first (503)
            answer = admin.get(
                "/v1/recalibration", scope="team", team="t0", min_position=store_head(url)
            )
            if answer.status_code != 503:
                break
            time.sleep(0.1)
        assert answer.status_code == 200, answer.text
        yield {
            "admin": admin,
            "data_dir": data_dir,
            "doc": answer.json(),
            "facts": facts(data_dir),
            "this_monday": this_monday,
        }


def facts(data_dir: Path) -> list[dict[str, Any]]:
    """Every public envelope of the store, read straight from it."""
    store = EventStore(f"sqlite:///{data_dir / 'events.sqlite'}")
    try:
        return [e for n in store.select(0, 10**7) if (e := envelope_of(n)) is not None]
    finally:
        store.close()


def awards(facts: list[dict[str, Any]], lo: datetime, hi: datetime, team: str | None) -> list[dict]:
    found = []
    for e in facts:
        if e["event_type"] != "PointsAwarded":
            continue
        p = e["payload"]
        at = datetime.fromisoformat(p["occurred_at"])
        if lo <= at < hi and (team is None or p["member_id"].startswith(team + "-")):
            found.append(p)
    return found


def jsd(t: dict[str, float], b: dict[str, float]) -> float:
    total = 0.0
    for v in set(t) | set(b):
        p, q = t.get(v, 0.0), b.get(v, 0.0)
        m = (p + q) / 2
        total += (0.5 * p * math.log2(p / m) if p else 0) + (0.5 * q * math.log2(q / m) if q else 0)
    return total


def share(awarded: list[dict], mass: Any = lambda a: 1.0) -> dict[str, float]:
    total = sum(mass(a) for a in awarded)
    out: dict[str, float] = {}
    for a in awarded:
        for v in a["values"]:
            out[v] = out.get(v, 0.0) + mass(a) / len(a["values"]) / total
    return out


TARGET = dict(zip(VALUES, TARGETS, strict=True))


def score(b: dict[str, float]) -> float:
    return 100 * (1 - jsd(TARGET, b))


def half_up(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def window_of(company: dict) -> tuple[datetime, datetime]:
    monday = company["this_monday"]
    hi = datetime.combine(monday, datetime.min.time(), UTC)
    return hi - timedelta(weeks=4), hi


def test_the_fading_value_is_under_served_with_its_window(company: dict) -> None:
    doc = company["doc"]
    lo, hi = window_of(company)
    assert doc["window"] == {"from": lo.date().isoformat(), "to": hi.date().isoformat()}
    assert [v["value"] for v in doc["values"]] == ["a"]
    a = doc["values"][0]
    window = awards(company["facts"], lo, hi, "t0")
    observed = share(window)["a"]
    assert a["observed"] == round(observed, 4) and a["target"] == 0.4
    assert a["gap"] == round(observed - 0.4, 4) <= -0.05


def elasticities(facts: list[dict]) -> list[float]:
    """RULES.md's e_c for every usable past campaign, from the facts."""
    found = []
    for c in CAMPAIGNS:
        launched = next(
            e["payload"]
            for e in facts
            if e["event_type"] == "CampaignLaunched"
            and e["payload"]["campaign_id"] == c.campaign_id
        )
        start = datetime.fromisoformat(launched["starts_at"])
        end = datetime.fromisoformat(launched["ends_at"])
        during, before = (
            awards(facts, start, end, None),
            awards(facts, start - (end - start), start, None),
        )
        s_during, s_before = share(during).get(c.value, 0), share(before).get(c.value, 0)
        if min(len(during), len(before)) >= 20 and s_during > 0 and s_before > 0:
            found.append((s_during / s_before - 1) / (c.multiplier - 1))
    return found


def test_every_lever_is_priced_exactly_and_its_range_states_its_assumption(company: dict) -> None:
    (a,) = company["doc"]["values"]
    lo, hi = window_of(company)
    window = awards(company["facts"], lo, hi, "t0")
    carrying = [w for w in window if "a" in w["values"]]
    learned = elasticities(company["facts"])
    assert len(learned) == 2
    low, central, high = min(learned), statistics.median(learned), max(learned)
    kinds = {
        (lever["kind"], lever["change"].get("new_campaigns", [{}])[0].get("multiplier"))
        for lever in a["levers"]
    }
    assert kinds == {("campaign", 1.5), ("campaign", 2.0), ("mission_points", None)}
    before = score(share(window))
    for lever in a["levers"]:
        factor = (
            Decimal(str(lever["change"]["new_campaigns"][0]["multiplier"]))
            if lever["kind"] == "campaign"
            else Decimal("1.5")
        )
        new = {
            id(w): half_up(Decimal(10) * factor) if "a" in w["values"] else w["points"]
            for w in window
        }
        extra = sum(new[id(w)] - w["points"] for w in window)
        assert lever["extra_points"] == extra
        incentive_before = score(share(window, lambda w: float(w["points"])))
        incentive_after = score(share(window, lambda w, new=new: float(new[id(w)])))
        assert lever["incentive_score"] == {
            "before": round(incentive_before, 1),
            "after": round(incentive_after, 1),
        }
        e = lever["elasticity"]
        assert e["source"] == "past_campaigns" and sorted(e["campaigns"]) == ["push-b", "push-c"]
        assert (e["low"], e["central"], e["high"]) == (
            round(low, 4),
            round(central, 4),
            round(high, 4),
        )
        points_v = sum(w["points"] for w in carrying)
        responded = {}
        for name, elasticity in (("low", low), ("central", central), ("high", high)):
            rho = elasticity * extra / points_v
            b = share(window)
            b["a"] *= 1 + rho
            total = sum(b.values())
            responded[name] = score({v: m / total for v, m in b.items()})
        assert lever["score"] == {
            "before": round(before, 1),
            **{k: round(v, 1) for k, v in responded.items()},
        }
        assert lever["score"]["low"] <= lever["score"]["central"] <= lever["score"]["high"]
        assert lever["recommended"] == (responded["low"] - before > 1e-9)
    gains = [
        (lever["score"]["central"] - lever["score"]["before"]) / lever["extra_points"]
        for lever in a["levers"]
    ]
    assert gains == sorted(gains, reverse=True)  # best central gain per point first


def test_ledger_recalibrate_answers_what_the_api_answers(company: dict) -> None:
    data = ("--data-dir", str(company["data_dir"]))
    cli = ledger_cli("recalibrate", "--tenant", "acme", "--team", "t0", "--json", *data)
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    api = company["doc"]
    assert {k: printed[k] for k in ("window", "values", "score", "behaviors")} == {
        k: api[k] for k in ("window", "values", "score", "behaviors")
    }
    shown = ledger_cli("recalibrate", "--tenant", "acme", "--team", "t0", *data)
    assert shown.returncode == 0 and "campaign x1.5" in shown.stdout
    assert ledger_cli("recalibrate", "--tenant", "nobody", *data).returncode == 2


def test_each_levers_change_reproduces_its_extra_points_with_simulate(
    company: dict, tmp_path: Path
) -> None:
    data = ("--data-dir", str(company["data_dir"]))
    for lever in company["doc"]["values"][0]["levers"]:
        change = tmp_path / f"{lever['kind']}.json"
        change.write_text(json.dumps(lever["change"]))
        run = ledger_cli("simulate", "--tenant", "acme", "--change", str(change), "--json", *data)
        assert run.returncode == 0, run.stdout + run.stderr
        simulated = json.loads(run.stdout)
        assert simulated["points"]["extra"] == lever["extra_points"], lever["kind"]
        assert simulated["incentive_score"] == lever["incentive_score"], lever["kind"]


def test_recalibration_never_writes(company: dict) -> None:
    """The store's head does not move (the bytes of every file: tests/integration/
    test_simulate.py, without a server that checkpoints its own writes meanwhile)."""
    admin: Api = company["admin"]
    head = store_head(admin.url)
    for _ in range(2):
        assert admin.get("/v1/recalibration", scope="team", team="t0").status_code == 200
        assert admin.get("/v1/recalibration").status_code == 200
    assert store_head(admin.url) == head


def test_recalibration_is_for_admin_manager_and_analyst(company: dict) -> None:
    admin: Api = company["admin"]
    assert admin.key_for("service").get("/v1/recalibration").status_code == 403
    assert admin.key_for("manager").get("/v1/recalibration").status_code == 200
    assert admin.get("/v1/recalibration", scope="team").status_code == 422


def test_with_too_few_past_campaigns_the_elasticity_is_the_stated_assumption() -> None:
    from consumers.projector import catch_up
    from consumers.sources import StoreSource
    from ledger.projections.projection import Projection
    from ledger.recalibration.levers import recalibrate

    start = datetime(2026, 1, 5, tzinfo=UTC)
    clock = FixedClock(start)
    ledger = open_ledger("sqlite:///:memory:", clock)
    one = (PastCampaign("only-one", 2, 2, "b", 2.0, 1.5),)
    generate(ledger, clock, 16, fading_mix(8, 6, 0.05), 9, ("t0", "t1"), start, one)
    projection = Projection(":memory:", decrypt=ledger.personal.decrypt)
    catch_up(projection, StoreSource(ledger.store))
    doc = projection.run(
        recalibrate, "acme", store=ledger.store, now=clock.now(), scope="team", team="t0"
    )
    (a,) = doc["values"]
    for lever in a["levers"]:
        e = lever["elasticity"]
        assert (e["source"], e["low"], e["central"], e["high"]) == ("assumed", 0.0, 0.2, 0.5)
        assert e["campaigns"] == ["only-one"]  # usable, but one is not enough to learn from
        # No response assumed at the low end: the behavior score does not move at all.
        assert lever["score"]["low"] == lever["score"]["before"]
        assert not lever["recommended"]
        assert lever["score"]["low"] <= lever["score"]["central"] <= lever["score"]["high"]
    projection.close()
    ledger.close()
