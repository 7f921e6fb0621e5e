"""The write-through aggregate cache: hits cost no query, and another writer's changes
are never decided on stale (two Ledgers over one store stand for two processes)."""

from __future__ import annotations

import pytest

from ledger.aggregates.allowance import Allowance
from ledger.clock import FixedClock
from ledger.commands.members import RecordDeparture
from ledger.commands.recognitions import GiveRecognition
from ledger.commands.strategy import RetireValue
from ledger.periods import month_key
from ledger.service import Ledger
from tests.support import World, days, refused


@pytest.fixture
def two(store_url: str, clock: FixedClock) -> tuple[World, World]:
    from tests.conftest import open_ledger

    here = World(open_ledger(store_url, clock), clock).standard()
    other = open_ledger(store_url, clock)
    there = World.__new__(World)  # the same tenant, through a second ledger
    there.__dict__ |= here.__dict__ | {"ledger": other}
    return here, there


def give(w: World, frm: str = "ana", to: str = "bo", value: str = "ownership") -> None:
    w.run(GiveRecognition(from_member=frm, to_member=to, value=value, points=5), w.service)


def test_a_value_retired_by_another_writer_is_refused_here(two: tuple[World, World]) -> None:
    """Given this process has the strategy cached (a recognition used it), when another
    process retires the value, then a recognition for it here is refused (409)."""
    here, there = two
    give(here)
    there.run(RetireValue(key="ownership"))
    refused(
        here,
        GiveRecognition(from_member="bo", to_member="cy", value="ownership", points=5),
        409,
        here.service,
    )


def test_a_departure_recorded_by_another_writer_is_seen_here(two: tuple[World, World]) -> None:
    """Given bo is cached here, when another process records bo's departure, then bo can
    no longer be recognized here."""
    here, there = two
    give(here)
    there.run(RecordDeparture(member_id="bo", effective_from=there.clock.now() - days(1)))
    error = refused(
        here,
        GiveRecognition(from_member="cy", to_member="bo", value="ownership", points=5),
        409,
        here.service,
    )
    assert "not active" in str(error)


def test_a_cache_hit_reads_nothing_from_the_store(two: tuple[World, World]) -> None:
    """Given the aggregates of a recognition are cached, when another recognition by the
    same giver runs, then the only store reads are the head position (once per attempt)
    and the loads of aggregates that do not exist yet (no fast-forward query per hit)."""
    here, _ = two
    give(here, "ana", "bo")
    ledger: Ledger = here.ledger
    recorder = ledger.store.recorder
    calls: list[str] = []
    select_events, max_id = recorder.select_events, recorder.max_notification_id

    def counted_select(*args: object, **kw: object) -> object:
        calls.append("select_events")
        return select_events(*args, **kw)  # type: ignore[arg-type]

    def counted_max() -> object:
        calls.append("max")
        return max_id()

    recorder.select_events = counted_select  # type: ignore[method-assign]
    recorder.max_notification_id = counted_max  # type: ignore[method-assign]
    give(here, "ana", "bo")
    assert calls.count("max") == 1
    # The new recognition and award (fresh ids) are looked up; members, the giver's
    # allowance, the pair counter, the tenant and the strategy come from the cache.
    assert calls.count("select_events") <= 2, calls


def test_a_conflict_evicts_the_stale_aggregate_and_the_retry_succeeds(
    two: tuple[World, World],
) -> None:
    """Given both processes have ana's allowance cached, when each gives a recognition,
    then both are accepted (the second process retries on fresh state) and the allowance
    counts both."""
    here, there = two
    give(here, "ana", "bo")
    give(there, "ana", "cy")  # there's cache was empty: loads fresh, appends
    give(here, "ana", "cy")  # here's cached allowance is stale: conflict, evict, retry
    month = month_key(here.clock.now(), "UTC")
    allowance_id = Allowance.id_for(here.tenant_id, "ana", month)
    for ledger in (here.ledger, there.ledger):
        ledger.store.sync()
        allowance = ledger.store.load(Allowance, allowance_id)
        assert allowance is not None and allowance.spent == 15
