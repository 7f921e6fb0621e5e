"""`ledger simulate` (API.md "Audit"): "before" is the recorded history exactly, changes
name only what exists (exit 2 otherwise), hypothetical campaigns re-price a window, and
nothing is ever written."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.clock import FixedClock
from ledger.commands.campaigns import DeclareWinners, LaunchCampaign
from ledger.commands.completions import CompleteMission
from ledger.projections import queries
from tests.conftest import open_ledger
from tests.support import NOW, Projected, World, days, ledger_cli


@pytest.fixture
def data(tmp_path: Path) -> Iterator[tuple[World, Path]]:
    clock = FixedClock(NOW - days(20))
    world = World(open_ledger(f"sqlite:///{tmp_path / 'events.sqlite'}", clock), clock)
    world.standard()  # customer-focus, ownership, innovation; ana, bo (sales), cy (support)
    world.mission("retro", ["ownership"], points=20, cadence="weekly")
    yield world, tmp_path
    world.ledger.close()


def complete(world: World, member: str, mission: str = "follow-up", **kw: object) -> None:
    world.run(CompleteMission(mission_id=mission, member_id=member, **kw), world.service)


def simulate(path: Path, *args: str) -> tuple[int, dict, str]:
    run = ledger_cli("simulate", "--tenant", "acme", *args, "--json", "--data-dir", str(path))
    return run.returncode, (json.loads(run.stdout) if run.returncode == 0 else {}), run.stdout


def change_file(path: Path, change: dict) -> str:
    written = path / "change.json"
    written.write_text(json.dumps(change))
    return str(written)


def test_before_winners_are_the_winners_declared_not_the_board_today(
    data: tuple[World, Path],
) -> None:
    world, path = data
    clock = world.clock
    world.run(
        LaunchCampaign(
            campaign_id="push",
            name="Push",
            starts_at=clock.now(),
            ends_at=clock.now() + days(5),
            values=["customer-focus"],
            multiplier=2,
            winners=1,
        )
    )
    complete(world, "ana")  # 20 in the campaign
    clock.advance(days(6))
    declared = world.run(DeclareWinners(campaign_id="push"))["winners"]
    assert [w["member_id"] for w in declared] == ["ana"]
    # Recorded after the declaration, occurred inside the campaign: bo now leads its board.
    complete(world, "bo", occurred_at=clock.now() - days(5))
    complete(world, "bo", occurred_at=clock.now() - days(4))
    projected = Projected(world, str(path / "p.duckdb"))
    board = queries.leaderboard(
        projected.con(), "acme", period="campaign", campaign_id="push", at=None, now=clock.now()
    )
    assert board["entries"][0]["member_id"] == "bo"
    projected.projection.close()
    world.ledger.close()
    status, result, _ = simulate(path, "--change", change_file(path, {}))
    assert status == 0
    assert result["winners"]["push"]["before"] == declared  # the recorded history exactly
    assert result["winners"]["push"]["after"] == declared  # no change: the same declaration
    doubled = change_file(path, {"campaigns": {"push": {"multiplier": 4}}})
    status, result, _ = simulate(path, "--change", doubled)
    assert result["winners"]["push"]["before"] == declared
    assert result["winners"]["push"]["after"] == [{"member_id": "ana", "rank": 1, "points": 40}]


def test_a_hypothetical_campaign_reprices_the_window_it_covers(data: tuple[World, Path]) -> None:
    world, path = data
    clock = world.clock
    start = clock.now()
    for day in range(4):
        complete(world, "ana")  # customer-focus, 10 each
        complete(world, "cy")
        if day == 0:
            complete(world, "bo", "retro")  # ownership: no customer-focus campaign moves it
        clock.advance(days(1))
    world.ledger.close()
    planned = {
        "new_campaigns": [
            {
                "values": ["customer-focus"],
                "starts_at": (start + days(2)).isoformat(),
                "ends_at": (start + days(10)).isoformat(),
                "multiplier": 1.5,
            }
        ]
    }
    window = ["--from", str((start - days(1)).date()), "--to", str((start + days(5)).date())]
    status, result, out = simulate(path, "--change", change_file(path, planned), *window)
    assert status == 0, out
    # Days 2 and 3 are in the campaign: 2 members x 2 days x (15 - 10).
    assert result["awards_changed"] == 4
    assert result["points"]["extra"] == 20
    status, sales, _ = simulate(
        path, "--change", change_file(path, planned), *window, "--team", "sales"
    )
    assert sales["points"]["extra"] == 10  # ana only; cy is in support
    assert sales["points"]["before"] == 4 * 10 + 20
    # The window and team can travel in the change file itself (a lever's `change`).
    planned |= {"window": {"from": window[1], "to": window[3]}, "team": "sales"}
    status, same, _ = simulate(path, "--change", change_file(path, planned))
    assert same["points"] == sales["points"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"missions": {"nope": {"points": 5}}}, "nope"),
        ({"campaigns": {"ghost": {"multiplier": 2}}}, "ghost"),
        (
            {
                "new_campaigns": [
                    {
                        "values": ["kindness"],
                        "starts_at": "2026-01-01T00:00:00Z",
                        "ends_at": "2026-02-01T00:00:00Z",
                        "multiplier": 2,
                    }
                ]
            },
            "kindness",
        ),
        ({"whatever": 1}, "whatever"),
    ],
)
def test_a_change_naming_what_does_not_exist_is_refused_with_exit_2(
    data: tuple[World, Path], change: dict, named: str
) -> None:
    world, path = data
    world.ledger.close()
    status, _, out = simulate(path, "--change", change_file(path, change))
    assert status == 2 and named in out, out
    assert len(out.strip().splitlines()) == 1, out


def test_an_unknown_tenant_or_team_is_refused_with_exit_2(data: tuple[World, Path]) -> None:
    world, path = data
    world.ledger.close()
    none = change_file(path, {})
    unknown = ledger_cli(
        "simulate", "--tenant", "nobody", "--change", none, "--data-dir", str(path)
    )
    assert unknown.returncode == 2 and "nobody" in unknown.stdout
    status, _, out = simulate(path, "--change", none, "--team", "nowhere")
    assert status == 2 and "nowhere" in out


def test_simulating_and_recalibrating_never_write(data: tuple[World, Path]) -> None:
    world, path = data
    complete(world, "ana")
    head = world.position()
    world.ledger.close()

    def fingerprint() -> dict[str, str]:
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.iterdir())
            if p.is_file() and not p.name.startswith("change")
        }

    before = fingerprint()
    status, _, _ = simulate(
        path, "--change", change_file(path, {"missions": {"follow-up": {"points": 99}}})
    )
    assert status == 0 and fingerprint() == before
    recalibrated = ledger_cli("recalibrate", "--tenant", "acme", "--data-dir", str(path))
    assert recalibrated.returncode == 0, recalibrated.stdout + recalibrated.stderr
    assert fingerprint() == before
    reopened = open_ledger(f"sqlite:///{path / 'events.sqlite'}", FixedClock(NOW))
    assert reopened.store.max_position() == head
    reopened.close()
