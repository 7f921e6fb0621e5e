"""Races: exactly the allowed number of concurrent commands succeed (SQLite file, PostgreSQL).

Each thread has its own Ledger (own connections and aggregate cache), as two
API processes would, so the event store's optimistic concurrency is what
decides, not a shared in-memory object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ledger.clock import FixedClock
from ledger.commands.completions import CompleteMission
from ledger.commands.recognitions import GiveRecognition
from ledger.errors import LedgerError, SlotTaken
from ledger.history import award_facts
from ledger.service import Ledger, Outcome
from tests.conftest import open_ledger
from tests.support import World

THREADS = 8


def race(url: str, clock: FixedClock, send: Callable[[Ledger, int], Any]) -> list[Any]:
    """Run `send` in THREADS threads released together; results or refusals, by thread."""
    barrier = threading.Barrier(THREADS, timeout=60)
    results: list[Any] = [None] * THREADS
    ledgers = [open_ledger(url, clock) for _ in range(THREADS)]

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = send(ledgers[i], i)
        except LedgerError as error:
            results[i] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for ledger in ledgers:
        ledger.close()
    return results


def test_concurrent_completions_of_one_slot_exactly_one_wins(
    store_url: str, clock: FixedClock, world: World
) -> None:
    results = race(
        store_url,
        clock,
        lambda ledger, i: ledger.execute(
            CompleteMission(mission_id="follow-up", member_id="ana"), world.service
        ),
    )
    wins = [r for r in results if isinstance(r, Outcome)]
    assert len(wins) == 1
    assert all(isinstance(r, SlotTaken) for r in results if r not in wins)
    awards = list(award_facts(world.ledger.store, "acme", world.position()))
    assert len(awards) == 1


def test_concurrent_recognitions_never_pass_the_allowance(
    store_url: str, clock: FixedClock, world: World
) -> None:
    world.member("dee")
    # 8 gifts of 30 from one giver to 3 recipients: only 3 fit in 100 (pair limit 2 each).
    recipients = ["bo", "cy", "dee"]
    results = race(
        store_url,
        clock,
        lambda ledger, i: ledger.execute(
            GiveRecognition(
                from_member="ana", to_member=recipients[i % 3], value="ownership", points=30
            ),
            world.service,
        ),
    )
    wins = [r for r in results if isinstance(r, Outcome)]
    assert len(wins) == 3
    given = sum(a["points"] for a in award_facts(world.ledger.store, "acme", world.position()))
    assert given == 90


def test_concurrent_requests_with_one_idempotency_key_record_one_set_of_events(
    store_url: str, clock: FixedClock, world: World
) -> None:
    before = world.position()
    results = race(
        store_url,
        clock,
        lambda ledger, i: ledger.execute(
            GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=5),
            world.service,
            idempotency_key="one-key",
        ),
    )
    assert all(isinstance(r, Outcome) for r in results), results
    assert len({r.body["recognition_id"] for r in results}) == 1
    assert len({r.position for r in results}) == 1
    # Idempotency record + allowance + pair + recognition + award: one set.
    assert world.position() - before == 5
