"""Incremental projection == rebuild == naive reference, for generated histories.

Incremental: random batch sizes, random interleaving of the tenants' streams
(each tenant's own order kept, as Kafka partitions keep it), restarts at
random batch boundaries, and already-applied records delivered again.
"""

from __future__ import annotations

import random
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.projections import drift
from ledger.projections.projection import Projection
from tests.property.histories import TENANTS, histories, run_history
from tests.reference import Reference

TABLES = {
    "daily_points": "tenant_id, day, member_id, team, version",
    "daily_values": "tenant_id, day, member_id, team, version, value",
    "team_days": "tenant_id, day, team, version",
    "team_day_values": "tenant_id, day, team, version, value",
    # Running totals move by deltas: equal to a rebuild's sums (zero rows aside).
    "member_totals WHERE points <> 0": "tenant_id, member_id, team, value",
    "leaderboard_weekly": "tenant_id, week_start, member_id",
    "value_heatmap": "tenant_id, team, value, week_start",
    "alignment": "tenant_id, scope, team, period, period_start",
    "awards": "position",
    "team_history": "position",
    "member_profiles": "tenant_id, member_id",
    "strategy_targets": "tenant_id, version, value",
    "events": "position",
    "tenant_positions": "tenant_id",
}


def tables(projection: Projection) -> dict[str, list[tuple[Any, ...]]]:
    con = projection.reader()
    return {
        t: con.execute(f"SELECT * FROM {t} ORDER BY {order}").fetchall()
        for t, order in TABLES.items()
    }


def rebuild(envelopes: list[dict[str, Any]], decrypt: Any) -> Projection:
    """A rebuild as `ledger rebuild` does it: facts in batches, derived tables at the end."""
    projection = Projection(":memory:", decrypt=decrypt)
    for start in range(0, len(envelopes), 64):
        projection.apply(envelopes[start : start + 64], defer=True)
    projection.finish()
    return projection


def interleave(envelopes: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    streams: dict[str, list[dict[str, Any]]] = {}
    for envelope in envelopes:
        streams.setdefault(envelope["tenant_id"], []).append(envelope)
    merged = []
    while streams:
        tenant = rng.choice(sorted(streams))
        merged.append(streams[tenant].pop(0))
        if not streams[tenant]:
            del streams[tenant]
    return merged


def incremental(envelopes: list[dict[str, Any]], decrypt: Any, seed: int) -> Projection:
    """Apply in random batches; at random checkpoints the tables equal a rebuild of the prefix."""
    rng = random.Random(seed)
    ordered = interleave(envelopes, rng)
    path = Path(tempfile.mkdtemp()) / "p.duckdb"
    projection = Projection(path, decrypt=decrypt)
    i = 0
    while i < len(ordered):
        size = rng.choice([1, 1, 2, 3, 5, 8, 30])
        # Redeliver some already-applied records with the new batch (relay duplicates).
        replay = ordered[max(0, i - rng.randint(0, 5)) : i]
        projection.apply([*replay, *ordered[i : i + size]])
        i += size
        if rng.random() < 0.2:  # restart: a new process opens the same file
            projection.close()
            projection = Projection(path, decrypt=decrypt)
        if rng.random() < 0.5:
            assert tables(projection) == tables(rebuild(ordered[:i], decrypt)), f"after {i}"
    return projection


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=histories, seed=st.integers(0, 2**32))
def test_incremental_projection_equals_rebuild_and_reference(steps: list[Any], seed: int) -> None:
    ledger, envelopes = run_history(steps)
    full = rebuild(envelopes, ledger.personal.decrypt)
    step_by_step = incremental(envelopes, ledger.personal.decrypt, seed)
    assert tables(step_by_step) == tables(full)
    check_against_reference(full, Reference(envelopes))
    check_drift(step_by_step, full, ledger.clock.now())
    ledger.close()


def check_drift(incremental: Projection, full: Projection, now: datetime) -> None:
    """The drift watch does not depend on the order events arrived in, nor on a rebuild,
    and time travel to after the last event equals the present (two computations)."""
    later = now + timedelta(weeks=20)  # the history's weeks are complete by then
    for tenant in TENANTS:
        present = full.run(drift.drift, tenant, now=later)
        assert incremental.run(drift.drift, tenant, now=later) == present
        travelled = full.run(drift.drift, tenant, now=later, as_of=later)
        assert {k: travelled[k] for k in ("series", "alerts")} == {
            k: present[k] for k in ("series", "alerts")
        }


def check_against_reference(projection: Projection, ref: Reference) -> None:
    con = projection.reader()
    board = set(con.execute("SELECT * FROM leaderboard_weekly").fetchall())
    assert board == ref.leaderboard_weekly()
    assert set(con.execute("SELECT * FROM value_heatmap").fetchall()) == ref.heatmap()
    rows = con.execute(
        "SELECT tenant_id, scope, team, period, period_start, behaviors, score, "
        'incentive_score, coverage, off_strategy_share, "values" '
        "FROM alignment"
    ).fetchall()
    seen = set()
    for tenant, scope, team, period, start, n, score, incentive, coverage, off, values in rows:
        expected = ref.alignment(tenant, scope, team, period, start)
        assert expected is not None, (tenant, scope, team, period, start)
        assert n == expected["behaviors"]
        assert score == pytest.approx(expected["score"], abs=0.051)
        assert incentive == pytest.approx(expected["incentive_score"], abs=0.051)
        assert coverage == pytest.approx(expected["coverage"], abs=5.1e-5)
        assert off == pytest.approx(expected["off_strategy_share"], abs=5.1e-5)
        assert {v["value"] for v in values} == set(expected["values"])
        for v in values:
            target, observed = expected["values"][v["value"]]
            assert v["target"] == pytest.approx(target, abs=5.1e-5)
            assert v["observed"] == pytest.approx(observed, abs=5.1e-5)
        seen.add((tenant, scope, team, period, start))
    # Every group with a behavior under a revision has a row.
    for award in ref.awards:
        if award["kind"] == "adjustment" or ref.revision_at(award["tenant"], award["at"]) is None:
            continue
        week: date = ref.week(award["tenant"], award["at"])
        assert (award["tenant"], "tenant", None, "week", week) in seen
