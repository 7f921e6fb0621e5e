"""The audit at scale: per tenant, per shard, and per member, reading only what it needs.

A store of four tenants (SQLite and PostgreSQL) is tampered with behind the ledger's
back in three of them (a byte of an award flipped, an event deleted from the middle
of a member's stream, a forged award inserted in a stream of its own). Then: the
problems of `verify --shard I/N` over every shard, and of `verify --tenant T` over
every tenant, are exactly the whole run's; a tenant's verify reads that tenant's
events and no other's (the rows fetched are counted); and `ledger audit MEMBER`
explains a member exactly as the whole history does, reading only the member's
streams and what their awards name.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.audit.explain import explain_member, scratch_projection
from ledger.audit.verify import Shard, Verification, verify
from ledger.clock import FixedClock
from ledger.commands.completions import CompleteMission
from ledger.commands.members import MoveMember
from ledger.commands.recognitions import GiveRecognition
from ledger.projections import queries
from ledger.service import Ledger
from tests.conftest import open_ledger
from tests.integration.test_tamper_evidence import RawStore, Row, cli_env, ledger_cli
from tests.support import World, days

TENANTS = ("acme", "globex", "initech", "umbrella")


def busy_tenant(ledger: Ledger, clock: FixedClock, tenant_id: str, n: int) -> None:
    world = World(ledger, clock, tenant_id=tenant_id).standard()
    for day in range(n):
        for member in ("ana", "bo", "cy"):
            world.run(CompleteMission(mission_id="follow-up", member_id=member), world.service)
        giver, receiver = (("ana", "bo"), ("bo", "cy"), ("cy", "ana"))[day % 3]
        world.run(
            GiveRecognition(from_member=giver, to_member=receiver, value="ownership", points=2),
            world.service,
        )
        if day % 2 == 0:
            team = ("support", "sales")[day // 2 % 2]
            world.run(MoveMember(member_id="bo", team=team, effective_from=clock.now()))
        clock.advance(days(1))


@pytest.fixture
def tampered(store_url: str, clock: FixedClock) -> Iterator[tuple[str, RawStore]]:
    ledger = open_ledger(store_url, clock)
    try:
        for i, tenant in enumerate(TENANTS):
            busy_tenant(ledger, clock, tenant, 3 + i)
        table = ledger.store.recorder.events_table_name  # type: ignore[attr-defined]
    finally:
        ledger.close()
    raw = RawStore(store_url, str(table))
    rows = raw.rows()

    def of(tenant: str, event_type: str) -> list[Row]:
        return [
            r
            for r in rows
            if r.event_type == event_type and orjson.loads(r.state)["tenant_id"] == tenant
        ]

    # acme: one byte of an award.
    award = of("acme", "PointsAwarded")[2]
    raw.rewrite(award.position, award.topic, award.state.replace(b'"points":10,', b'"points":90,'))
    # globex: an event gone from the middle of bo's stream.
    moves = of("globex", "MemberMoved")
    raw.delete(moves[0].position)
    # initech: a forged award in a stream of its own (the catalog never heard of it).
    copied = of("initech", "PointsAwarded")[0]
    state = orjson.loads(copied.state)
    state["points"] += 50
    raw.insert(uuid.uuid4(), 1, copied.topic, orjson.dumps(state))
    yield store_url, raw


def problems(result: Verification) -> Counter[tuple[str, int, str]]:
    return Counter((p.kind, p.position, p.aggregate_id) for p in result.problems)


def test_shards_and_tenants_together_find_exactly_what_the_whole_run_finds(
    tampered: tuple[str, RawStore], clock: FixedClock
) -> None:
    url, raw = tampered
    ledger = open_ledger(url, clock)
    try:
        whole = verify(ledger.store)
        assert not whole.ok
        assert {p.tenant_id for p in whole.problems} == {"acme", "globex", "initech"}
        assert whole.events == len(raw.rows())
        for n in (1, 2, 3, 5):
            shards = [verify(ledger.store, shard=Shard(i, n)) for i in range(n)]
            assert sum((problems(s) for s in shards), Counter()) == problems(whole), n
            assert sum(s.events for s in shards) == whole.events
            assert sum(s.tenants for s in shards) == len(TENANTS)
        tenants = [verify(ledger.store, tenant=t) for t in TENANTS]
        assert sum((problems(t) for t in tenants), Counter()) == problems(whole)
        assert tenants[-1].ok  # umbrella was not touched
    finally:
        ledger.close()


def test_a_tenants_verify_reads_its_own_events_and_no_others(
    tampered: tuple[str, RawStore], clock: FixedClock
) -> None:
    url, raw = tampered
    rows = raw.rows()
    per_tenant = Counter(orjson.loads(r.state)["tenant_id"] for r in rows)
    per_stream = Counter(r.stream_id for r in rows)
    chain_kinds = {"tampered", "missing", "inserted", "reordered"}
    ledger = open_ledger(url, clock)
    try:
        for tenant in TENANTS:
            before = ledger.store.records.rows_read
            result = verify(ledger.store, tenant=tenant)
            read = ledger.store.records.rows_read - before
            assert result.events == per_tenant[tenant]
            # Its own events once, and the streams that do not add up once more (to name
            # what happened to them): no row of another tenant.
            suspicious = {
                uuid.UUID(p.aggregate_id) for p in result.problems if p.kind in chain_kinds
            }
            assert read == per_tenant[tenant] + sum(per_stream[s] for s in suspicious), tenant
    finally:
        ledger.close()


def test_the_cli_shards_merge_to_the_whole_run(
    tampered: tuple[str, RawStore], tmp_path: Path
) -> None:
    url, _ = tampered
    whole, first, second = ledger_cli(
        url,
        tmp_path,
        ["verify", "--json"],
        ["verify", "--shard", "1/2", "--json"],
        ["verify", "--shard", "2/2", "--json"],
    )
    assert whole.code == first.code | second.code == 1
    merged = sorted(first.problems + second.problems, key=lambda p: (p["position"], p["kind"]))
    assert merged == whole.problems
    assert first.document["events"] + second.document["events"] == whole.document["events"]
    assert {first.document["shard"]["index"], second.document["shard"]["index"]} == {1, 2}
    for wrong in (["--shard", "3/2"], ["--shard", "two"], ["--shard", "1/2", "--digest", "d"]):
        refused = subprocess.run(
            [sys.executable, "-m", "ledger.cli", "verify", *wrong],
            env=cli_env(url, tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert refused.returncode == 2, refused
        assert "--shard" in refused.stdout + refused.stderr


def whole_history_explanation(ledger: Ledger, tenant: str, member: str) -> dict[str, Any]:
    projection = scratch_projection(ledger)
    try:
        return dict(
            projection.run(queries.member_points, tenant, member, decrypt=ledger.personal.decrypt)
        )
    finally:
        projection.close()


def test_a_member_audit_reads_only_what_explains_the_member(
    store_url: str, clock: FixedClock
) -> None:
    ledger = open_ledger(store_url, clock)
    try:
        for i, tenant in enumerate(TENANTS[:3]):
            busy_tenant(ledger, clock, tenant, 2 + i)
        total = ledger.store.max_position()
        for tenant in TENANTS[:3]:
            for member in ("ana", "bo", "cy"):
                before = ledger.store.records.rows_read
                explained = explain_member(ledger, tenant, member, None)
                read = ledger.store.records.rows_read - before
                expected = whole_history_explanation(ledger, tenant, member)
                for document in (explained, expected):
                    document.pop("as_of_position")
                assert json.dumps(explained, sort_keys=True) == json.dumps(expected, sort_keys=True)
                assert read < total / 3, (tenant, member, read, total)
    finally:
        ledger.close()


def test_a_verification_in_little_memory_decides_exactly_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the demo company (campaign winners declared: the award history is read when
    a command asks for it) with one award tampered with, when it is verified holding a
    handful of aggregates and streams in memory instead of every one, then the verdict,
    the problems and the commands re-decided are the same; only more rows are read."""
    from datetime import UTC, datetime

    import ledger.audit.verify as verification
    from ledger.demo import build_demo

    url = f"sqlite:///{tmp_path / 'events.sqlite'}"
    end = datetime(2026, 11, 20, 12, tzinfo=UTC)
    clock = FixedClock(end)
    ledger = open_ledger(url, clock)
    try:
        build_demo(ledger, clock, end)
    finally:
        ledger.close()
    raw = RawStore(url, "stored_events")
    award = [r for r in raw.rows() if r.event_type == "PointsAwarded"][100]
    points = orjson.loads(award.state)["points"]
    old, new = f'"points":{points},'.encode(), f'"points":{points + 5},'.encode()
    raw.rewrite(award.position, award.topic, award.state.replace(old, new))
    ledger = open_ledger(url, clock)
    try:
        before = ledger.store.records.rows_read
        roomy = verify(ledger.store)
        roomy_reads = ledger.store.records.rows_read - before
        monkeypatch.setattr(verification, "IN_MEMORY", 20)
        monkeypatch.setattr(verification, "STREAMS_IN_MEMORY", 20)
        before = ledger.store.records.rows_read
        tight = verify(ledger.store)
        tight_reads = ledger.store.records.rows_read - before
    finally:
        ledger.close()
    assert not roomy.ok and {p.kind for p in roomy.problems} == {"tampered", "award_differs"}
    assert problems(tight) == problems(roomy)
    assert (tight.events, tight.commands) == (roomy.events, roomy.commands)
    assert tight_reads > roomy_reads  # what was let go was read again
