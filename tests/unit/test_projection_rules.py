"""Read-side rules with hand-computed expectations (RULES.md Leaderboards, Heatmap, Alignment)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ledger.clock import FixedClock
from ledger.commands.adjustments import AdjustPoints
from ledger.commands.campaigns import LaunchCampaign
from ledger.commands.completions import CompleteMission
from ledger.commands.members import ForgetMember, MoveMember
from ledger.commands.recognitions import GiveRecognition
from ledger.commands.strategy import ReviseStrategy
from ledger.projections import queries
from tests.support import Projected, World, days

pytestmark = pytest.mark.usefixtures("sqlite_url")


@pytest.fixture
def p(sqlite_url: str, clock: FixedClock, tmp_path: Path) -> Projected:
    from tests.conftest import open_ledger

    ledger = open_ledger(sqlite_url, clock)
    return Projected(World(ledger, clock).standard(), str(tmp_path / "p.duckdb"))


def complete(w: World, member: str = "ana", mission: str = "follow-up", **kw: object) -> None:
    w.run(CompleteMission(mission_id=mission, member_id=member, **kw), w.service)


def give(w: World, frm: str, to: str, points: int, value: str = "ownership", **kw: object) -> None:
    w.run(
        GiveRecognition(from_member=frm, to_member=to, value=value, points=points, **kw), w.service
    )


def revise(w: World, effective_from: datetime, goals: list[dict]) -> None:
    w.run(ReviseStrategy(effective_from=effective_from, goals=goals))


HALF_CF = [
    {"key": "cx", "title": "CX", "weight": 1, "values": {"customer-focus": 1}},
    {"key": "own", "title": "Own", "weight": 1, "values": {"ownership": 1, "innovation": 1}},
]


def align(p: Projected, **kw: object) -> dict:
    w = p.world
    return queries.alignment(p.con(), "acme", now=w.clock.now(), **kw)  # type: ignore[arg-type]


def test_alignment_with_one_revision_is_hand_computed(p: Projected) -> None:
    w = p.world
    revise(w, w.clock.now() - days(30), HALF_CF)
    complete(w)  # customer-focus, 10 points
    give(w, "cy", "bo", 20)  # ownership, 20 points
    result = align(p, scope="tenant", period="week")
    # t = {cf .5, own .25, inn .25}, b = {cf .5, own .5}: JSD = 0.15564
    assert result["score"] == 84.4
    # points as mass: b = {cf 1/3, own 2/3}
    assert result["incentive_score"] == 79.2
    assert result["coverage"] == 0.75 and result["off_strategy_share"] == 0.0
    assert result["behaviors"] == 2 and result["strategy_version"] == 1
    assert result["values"] == [
        {"value": "customer-focus", "target": 0.5, "observed": 0.5, "gap": 0.0},
        {"value": "innovation", "target": 0.25, "observed": 0.0, "gap": -0.25},
        {"value": "ownership", "target": 0.25, "observed": 0.5, "gap": 0.25},
    ]


def test_a_week_spanning_a_revision_change_uses_the_mixture_target(p: Projected) -> None:
    w = p.world
    now = w.clock.now()  # Wednesday
    revise(w, now - days(30), HALF_CF)
    revise(
        w,
        now - timedelta(hours=12),
        [{"key": "own", "title": "Own", "weight": 1, "values": {"ownership": 1}}],
    )
    complete(w, occurred_at=now - days(1))  # rev 1, customer-focus
    give(w, "cy", "bo", 5)  # rev 2, ownership
    result = align(p, scope="tenant", period="week")
    # t = mean of rev1 {cf .5, own .25, inn .25} and rev2 {own 1}: {cf .25, own .625, inn .125}
    assert result["score"] == 90.2
    assert result["strategy_version"] == 2
    assert {v["value"]: v["target"] for v in result["values"]} == {
        "customer-focus": 0.25,
        "ownership": 0.625,
        "innovation": 0.125,
    }


def test_behaviors_on_values_without_target_are_off_strategy(p: Projected) -> None:
    w = p.world
    revise(
        w,
        w.clock.now() - days(30),
        [{"key": "cx", "title": "CX", "weight": 2, "values": {"customer-focus": 1}}],
    )
    w.mission("cf-and-inno", ["customer-focus", "innovation"])
    complete(w, mission="cf-and-inno")  # one behavior, two values: 1/2 each
    result = align(p, scope="tenant", period="month")
    assert result["off_strategy_share"] == 0.5
    assert result["coverage"] == 1.0
    assert result["score"] == 68.9


def test_empty_period_gives_nulls_but_reports_the_strategy_version(p: Projected) -> None:
    w = p.world
    revise(w, w.clock.now() - days(30), HALF_CF)
    result = align(p, scope="team", team="sales", period="week")
    assert result["score"] is None and result["incentive_score"] is None
    assert result["coverage"] is None and result["off_strategy_share"] is None
    assert result["behaviors"] == 0 and result["strategy_version"] == 1


def test_behaviors_before_the_first_revision_are_left_out_of_alignment(p: Projected) -> None:
    w = p.world
    complete(w, occurred_at=w.clock.now() - days(2))
    revise(w, w.clock.now() - days(1), HALF_CF)
    result = align(p, scope="tenant", period="week")
    assert result["behaviors"] == 0 and result["score"] is None
    board = queries.leaderboard(p.con(), "acme", period="week", at=None, now=w.clock.now())
    assert board["entries"][0]["points"] == 10  # it still counts on the leaderboard


def test_competition_ranking_zero_left_out_negative_listed_ties_by_member_id(p: Projected) -> None:
    w = p.world
    w.member("dee")
    w.member("eve")
    for member in ("cy", "bo"):
        complete(w, member=member)
    complete(w, member="dee")
    give(w, "ana", "dee", 5)
    w.run(AdjustPoints(member_id="eve", points=-3, reason="x"), w.manager)
    w.run(AdjustPoints(member_id="ana", points=5, reason="x"), w.manager)
    w.run(AdjustPoints(member_id="ana", points=-5, reason="x"), w.manager)  # ana nets 0
    board = queries.leaderboard(p.con(), "acme", period="week", at=None, now=w.clock.now())
    assert [(e["rank"], e["member_id"], e["points"]) for e in board["entries"]] == [
        (1, "dee", 15),
        (2, "bo", 10),
        (2, "cy", 10),
        (4, "eve", -3),
    ]


def test_team_and_value_scopes(p: Projected) -> None:
    w = p.world
    complete(w, member="ana")  # sales, customer-focus
    give(w, "ana", "cy", 7, value="innovation")  # support
    w.run(AdjustPoints(member_id="cy", points=100, reason="x"), w.manager)
    con = p.con()
    now = w.clock.now()
    team = queries.leaderboard(con, "acme", period="month", at=None, now=now, team="support")
    assert [(e["member_id"], e["points"]) for e in team["entries"]] == [("cy", 107)]
    value = queries.leaderboard(con, "acme", period="all", at=None, now=now, value="innovation")
    assert [(e["member_id"], e["points"]) for e in value["entries"]] == [("cy", 7)]


def test_backdated_team_move_reattributes_projected_behaviors(p: Projected) -> None:
    w = p.world
    complete(w, member="ana", occurred_at=w.clock.now() - days(9))
    complete(w, member="ana")
    p.catch_up()
    w.run(MoveMember(member_id="ana", team="support", effective_from=w.clock.now() - days(10)))
    con = p.con()
    cells = con.execute(
        "SELECT team, week_start, behaviors FROM value_heatmap ORDER BY week_start"
    ).fetchall()
    assert [c[0] for c in cells] == ["support", "support"]
    board = queries.leaderboard(con, "acme", period="all", at=None, now=w.clock.now(), team="sales")
    assert board["entries"] == []
    heat = queries.heatmap(con, "acme", now=w.clock.now(), team="support")
    assert sum(c["behaviors"] for c in heat["cells"]) == 2


def test_behavior_exactly_at_a_move_belongs_to_the_new_team(p: Projected) -> None:
    w = p.world
    moment = w.clock.now() - days(1)
    w.run(MoveMember(member_id="ana", team="support", effective_from=moment))
    complete(w, member="ana", occurred_at=moment)
    assert p.con().execute("SELECT team FROM value_heatmap").fetchall() == [("support",)]


def test_late_backdated_behavior_lands_in_its_own_week_after_that_week_was_projected(
    p: Projected,
) -> None:
    w = p.world
    complete(w, member="bo", occurred_at=w.clock.now() - days(8))
    p.catch_up()
    complete(w, member="ana", occurred_at=w.clock.now() - days(8))
    rows = (
        p.con()
        .execute(
            "SELECT week_start, member_id, points, rank FROM leaderboard_weekly ORDER BY member_id"
        )
        .fetchall()
    )
    last_week = date(2026, 6, 1)
    assert rows == [(last_week, "ana", 10, 1), (last_week, "bo", 10, 1)]


def test_weeks_follow_the_tenant_timezone_across_dst(sqlite_url: str, tmp_path: Path) -> None:
    from tests.conftest import open_ledger

    clock = FixedClock(datetime(2026, 10, 27, 10, tzinfo=UTC))
    ledger = open_ledger(sqlite_url, clock)
    w = World(ledger, clock, timezone="Europe/Stockholm").standard()
    p = Projected(w, str(tmp_path / "p.duckdb"))
    complete(w, member="ana", occurred_at=datetime(2026, 10, 25, 22, 30, tzinfo=UTC))  # Sun 23:30
    complete(w, member="bo", occurred_at=datetime(2026, 10, 25, 23, 0, tzinfo=UTC))  # Mon 00:00
    rows = (
        p.con()
        .execute("SELECT member_id, week_start FROM leaderboard_weekly ORDER BY member_id")
        .fetchall()
    )
    assert rows == [("ana", date(2026, 10, 19)), ("bo", date(2026, 10, 26))]
    this_week = queries.leaderboard(
        p.con(), "acme", period="week", at=date(2026, 10, 26), now=clock.now()
    )
    assert [e["member_id"] for e in this_week["entries"]] == ["bo"]


def test_campaign_leaderboard_counts_campaign_values_in_its_window(p: Projected) -> None:
    w = p.world
    now = w.clock.now()
    w.run(
        LaunchCampaign(
            campaign_id="push",
            name="Push",
            starts_at=now - days(3),
            ends_at=now + days(3),
            values=["ownership"],
            multiplier=2,
            winners=3,
        )
    )
    give(w, "ana", "bo", 10)
    give(w, "ana", "cy", 10, value="innovation")
    complete(w, member="cy")
    w.run(AdjustPoints(member_id="bo", points=50, reason="x"), w.manager)
    board = queries.leaderboard(
        p.con(), "acme", period="campaign", at=None, now=now, campaign_id="push"
    )
    assert [(e["member_id"], e["points"]) for e in board["entries"]] == [("bo", 10)]


def test_heatmap_counts_a_two_value_behavior_in_both_cells_with_full_points(p: Projected) -> None:
    w = p.world
    w.mission("two", ["customer-focus", "ownership"], points=30)
    complete(w, mission="two")
    cells = queries.heatmap(p.con(), "acme", now=w.clock.now())["cells"]
    assert [(c["value"], c["behaviors"], c["points"]) for c in cells] == [
        ("customer-focus", 1, 30),
        ("ownership", 1, 30),
    ]


def test_forgotten_member_shows_without_a_name(p: Projected) -> None:
    w = p.world
    complete(w, member="ana")
    assert p.con().execute(
        "SELECT display_name FROM members WHERE member_id = 'ana'"
    ).fetchone() == ("Ana",)
    w.run(ForgetMember(member_id="ana"))
    con = p.con()
    assert con.execute("SELECT display_name FROM members WHERE member_id = 'ana'").fetchone() == (
        None,
    )
    board = queries.leaderboard(con, "acme", period="week", at=None, now=w.clock.now())
    assert board["entries"][0]["member_id"] == "ana"
    assert board["entries"][0]["display_name"] is None
    assert board["entries"][0]["points"] == 10


def test_time_travel_sees_only_events_recorded_up_to_the_moment(p: Projected) -> None:
    w = p.world
    complete(w, member="ana")
    before_second = w.clock.now()
    w.clock.advance(timedelta(minutes=5))
    # Recorded later, but occurred earlier in the same week.
    complete(w, member="bo", occurred_at=w.clock.now() - days(1))
    con = p.con()
    now = w.clock.now()
    current = queries.leaderboard(con, "acme", period="week", at=None, now=now)
    past = queries.leaderboard(con, "acme", period="week", at=None, now=now, as_of=before_second)
    assert [e["member_id"] for e in current["entries"]] == ["ana", "bo"]
    assert [e["member_id"] for e in past["entries"]] == ["ana"]
    assert past["as_of_position"] < current["as_of_position"]
    points = queries.member_points(con, "acme", "bo", as_of=before_second)
    assert points["balance"] == 0 and points["awards"] == []


def test_member_points_explain_every_award(p: Projected) -> None:
    w = p.world
    complete(w, member="ana")
    w.run(AdjustPoints(member_id="ana", points=-4, reason="dup"), w.manager)
    result = queries.member_points(p.con(), "acme", "ana")
    assert result["balance"] == 6
    first = result["awards"][0]
    assert first["kind"] == "completion" and first["rule"]["name"] == "mission-completion"
    assert first["command"]["key_label"] == "chatbot"
    assert first["source"]["type"] == "completion"


def test_timezone_change_recomputes_periods_and_later_batches_still_apply(p: Projected) -> None:
    from ledger.aggregates.tenant import TenantSettings
    from ledger.commands.tenancy import ChangeSettings

    w = p.world
    # Sunday 23:30 UTC: the week of 1 June in UTC, already Monday 8 June in Tokyo.
    complete(w, member="ana", occurred_at=datetime(2026, 6, 7, 23, 30, tzinfo=UTC))
    assert p.con().execute("SELECT week_start FROM leaderboard_weekly").fetchall() == [
        (date(2026, 6, 1),)
    ]
    w.run(ChangeSettings(settings=TenantSettings(timezone="Asia/Tokyo")))
    complete(w, member="bo")
    rows = (
        p.con()
        .execute("SELECT member_id, week_start FROM leaderboard_weekly ORDER BY member_id")
        .fetchall()
    )
    assert rows == [("ana", date(2026, 6, 8)), ("bo", date(2026, 6, 8))]


def test_rebuild_with_deferred_derivation_equals_following(p: Projected, tmp_path: Path) -> None:
    from consumers.projector import catch_up
    from consumers.sources import StoreSource
    from ledger.projections.projection import Projection
    from tests.property.test_projection_properties import tables

    w = p.world
    complete(w, member="ana", occurred_at=w.clock.now() - days(9))
    give(w, "bo", "cy", 12)
    w.run(MoveMember(member_id="ana", team="support", effective_from=w.clock.now() - days(10)))
    p.catch_up()
    rebuilt = Projection(tmp_path / "rebuilt.duckdb", decrypt=w.ledger.personal.decrypt)
    catch_up(rebuilt, StoreSource(w.ledger.store, page=3), rebuild=True)
    assert tables(rebuilt) == tables(p.projection)
    assert rebuilt.reader().execute("SELECT count(*) FROM value_heatmap").fetchall()[0][0] > 0


def test_a_file_of_the_older_layout_derives_its_rollups_again_before_answering(
    p: Projected, tmp_path: Path
) -> None:
    """Given a file written before the daily rollups existed (schema 1: facts and period
    tables, no rollups), when its owner opens it, then it catches up first (queries wait)
    and ends with the same tables as a file that always had them."""
    from consumers.projector import Follower
    from consumers.sources import StoreSource
    from ledger.projections.projection import Projection
    from tests.property.test_projection_properties import tables

    w = p.world
    complete(w, member="ana", occurred_at=w.clock.now() - days(9))
    give(w, "bo", "cy", 12)
    p.catch_up()
    expected = tables(p.projection)
    path = tmp_path / "old.duckdb"
    old = Projection(path, decrypt=w.ledger.personal.decrypt, owner="project")
    Follower(old, StoreSource(w.ledger.store)).step()
    con = old.con
    for table in ("daily_points", "daily_values", "member_totals"):
        con.execute(f"DELETE FROM {table}")
    con.execute("UPDATE projection_meta SET value = 1 WHERE key = 'schema_version'")
    old.close()

    upgraded = Projection(path, decrypt=w.ledger.personal.decrypt, owner="project")
    assert upgraded.catching_up
    Follower(upgraded, StoreSource(w.ledger.store)).step()
    assert not upgraded.catching_up
    assert tables(upgraded) == expected
    board = upgraded.run(queries.leaderboard, "acme", period="all", at=None, now=w.clock.now())
    assert {e["member_id"]: e["points"] for e in board["entries"]} == {"ana": 10, "cy": 12}
    upgraded.close()


def test_a_new_file_waits_until_it_has_caught_up(p: Projected, tmp_path: Path) -> None:
    """Given a store with history, when its owner opens a new projection file, then the
    file is catching up (queries answer 503) until the follower has applied everything."""
    from consumers.projector import Follower
    from consumers.sources import StoreSource
    from ledger.projections.projection import Projection

    w = p.world
    complete(w)
    fresh = Projection(tmp_path / "new.duckdb", decrypt=w.ledger.personal.decrypt, owner="serve")
    assert fresh.catching_up
    Follower(fresh, StoreSource(w.ledger.store)).step()
    assert not fresh.catching_up
    assert fresh.tenant_position("acme") > 0
    fresh.close()


def test_the_projector_waits_in_proportion_to_its_last_live_pass(
    p: Projected, tmp_path: Path
) -> None:
    """A live pass costs about the same whatever it holds, so the follower lets the next
    batch grow for `pace` times as long as the last pass took (at least its interval, at
    most MAX_PAUSE): on a trickle it spends at most 1 / (1 + pace) of a core, and the lag
    stays within the pause plus a pass. Given a start afresh (a long catch-up) and then a
    live pass, then only the live pass sets the pause."""
    from consumers.projector import Follower
    from consumers.sources import StoreSource
    from ledger.projections.projection import Projection

    w = p.world
    complete(w)
    fresh = Projection(tmp_path / "new.duckdb", decrypt=w.ledger.personal.decrypt, owner="serve")
    follower = Follower(fresh, StoreSource(w.ledger.store), interval=0.1, pace=2.0)
    assert fresh.catching_up
    follower.step()
    assert follower.last_pass == 0.0 and follower.pause() == 0.1  # the catch-up: not a pace
    give(w, "bo", "cy", 5)
    assert follower.step() > 0
    assert follower.last_pass > 0
    assert follower.pause() == max(0.1, min(Follower.MAX_PAUSE, 2.0 * follower.last_pass))
    for took, wait in ((0.01, 0.1), (0.08, 0.16), (5.0, Follower.MAX_PAUSE)):
        follower.last_pass = took
        assert follower.pause() == pytest.approx(wait)
    fresh.close()
