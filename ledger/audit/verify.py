"""`ledger verify`: tamper evidence checked, then every recorded command re-decided.

Tenant by tenant: each tenant's events are read once, in position order, from the
streams the catalog files under it (ledger.persistence), and each event is checked
against its stream's chain and, command by command, re-decided: the handler runs
against the state just before it (ledger.replay) and its decision is compared with
what was recorded. Tenants never share an aggregate, so a tenant's history is all a
re-decision needs, and memory holds one tenant's state at a time, never the history.

A stream the catalog does not know (only an edit behind the ledger's back makes one)
is verified with the tenant its first event names. `--shard I/N` verifies the tenants
whose hash falls in shard I: N processes (or machines) split the work, and the union
of their problems is the whole run's.
"""

from __future__ import annotations

import hashlib
import heapq
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.aggregates.award import Award, AwardReversed, PointsAwarded
from ledger.aggregates.base import AGGREGATE_OF, LedgerAggregate
from ledger.audit.integrity import Chains, Record, check, classify, read
from ledger.audit.problems import Problem
from ledger.audit.redecide import (
    RecordedCommand,
    compare,
    invocation_of,
    reconstruct,
    redecide,
)
from ledger.events import LedgerEvent
from ledger.mapper import event_from_state
from ledger.persistence import Row
from ledger.replay import ReplayContext, ReplayedState, award_facts_of
from ledger.seal import digest_of
from ledger.store import EventStore

# Aggregates a verification keeps in memory per tenant; the rest are read again when a
# command needs them. Bounds memory whatever the history's length (~2 KB an aggregate).
IN_MEMORY = 50_000
STREAMS_IN_MEMORY = 200_000  # streams whose chain position is held (~250 bytes each)


@dataclass
class Digest:
    """What an auditor keeps outside the system (`ledger digest`)."""

    position: int
    digest: str
    recorded_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "digest": self.digest, "recorded_at": self.recorded_at}


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `of` (0-based): the tenants whose hash falls in it."""

    index: int
    of: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`I/N`, 1 <= I <= N (as people count shards); ValueError otherwise."""
        index, _, of = text.partition("/")
        shard = cls(int(index) - 1, int(of))
        if not (shard.of >= 1 and 0 <= shard.index < shard.of):
            raise ValueError(f"a shard is I/N with 1 <= I <= N, not {text!r}")
        return shard

    def holds(self, tenant_id: str) -> bool:
        digest = hashlib.sha256(tenant_id.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.of == self.index

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.of}"


@dataclass
class Verification:
    events: int = 0
    commands: int = 0
    tenants: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    shard: Shard | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """API.md's document; a sharded run also names its shard (results merge by summing
        `events` and concatenating `problems`)."""
        document: dict[str, Any] = {
            "ok": self.ok,
            "events": self.events,
            "problems": [p.to_dict() for p in self.problems],
        }
        if self.shard is not None:
            document["shard"] = {
                "index": self.shard.index + 1,
                "of": self.shard.of,
                "tenants": self.tenants,
            }
        return document


def current_digest(store: EventStore, now: datetime) -> Digest:
    report = check(store)
    heads = report.heads_at[report.position]
    return Digest(report.position, digest_of(heads), now.isoformat())


def verify(
    store: EventStore,
    *,
    tenant: str | None = None,
    shard: Shard | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    kept: Digest | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Verify one tenant, one shard of the tenants, or all of them. `progress(n)` counts
    the events checked so far."""
    started = time.perf_counter()
    result = Verification(shard=shard)
    orphans = _uncatalogued(store)
    tenants = sorted(set(store.records.tenants()) | orphans.keys())
    if tenant is not None:
        tenants = [t for t in tenants if t == tenant]
    if shard is not None:
        tenants = [t for t in tenants if shard.holds(t)]
    result.tenants = len(tenants)
    for tenant_id in tenants:
        rows: Iterable[Row] = store.records.tenant_rows(tenant_id)
        if tenant_id in orphans:
            rows = heapq.merge(rows, store.records.streams_rows(orphans[tenant_id]))
        _verify_tenant(store, tenant_id, rows, result, (start, end), progress)
    if kept is not None:
        # A kept digest pins every stream of the store at its position: read them all.
        report = check(store, (kept.position,))
        result.problems.extend(_digest_problems(report.heads_at.get(kept.position), kept))
    result.problems.sort(key=lambda p: (p.position, p.kind))
    result.seconds = time.perf_counter() - started
    return result


def _uncatalogued(store: EventStore) -> dict[str, list[uuid.UUID]]:
    """Streams the catalog does not know, by the tenant their first event names."""
    found: dict[str, list[uuid.UUID]] = {}
    for stream, tenant in store.records.uncatalogued().items():
        found.setdefault(tenant, []).append(stream)
    return found


def _verify_tenant(
    store: EventStore,
    tenant: str,
    rows: Iterable[Row],
    result: Verification,
    scope: tuple[datetime | None, datetime | None],
    progress: Callable[[int], None] | None,
) -> None:
    """One pass over one tenant's events: chains and re-decisions, together."""
    chains = Chains(
        capacity=STREAMS_IN_MEMORY,
        reload=lambda stream, position: [
            read(*row) for row in sorted(store.records.stream_rows(stream)) if row[0] < position
        ],
    )
    state = ReplayedState(
        capacity=IN_MEMORY,
        reload=lambda stream, position: _reloaded(store, stream, position),
        awards_at=lambda tenant_id, position: _awards_at(store, tenant_id, position),
    )
    for recorded in _commands(chains, tenant, rows, result, progress):
        command = reconstruct(recorded)
        in_scope = _in_scope(recorded.first, scope)
        if command is None and in_scope and recorded.of(PointsAwarded):
            # Points no recorded command gives (a copied or forged award).
            result.problems.extend(
                Problem(
                    "award_differs",
                    position,
                    str(award.originator_id),
                    "an award without the behavior or adjustment that gives it",
                    award.tenant_id,
                )
                for award, position in zip(recorded.events, recorded.positions, strict=True)
                if isinstance(award, PointsAwarded)
            )
        if command is not None and in_scope:
            state.position = recorded.position - 1
            context = ReplayContext(state, invocation_of(recorded, command))
            outcome = redecide(command, context)
            result.commands += 1
            result.problems.extend(compare(recorded, outcome))
        for event, position in zip(recorded.events, recorded.positions, strict=True):
            state.apply(event, position)
    result.events += chains.events
    if chains.suspicious:
        result.problems.extend(classify(store, chains.suspicious))


def _decoded(rows: Iterable[Row]) -> Iterator[tuple[int, LedgerEvent]]:
    for row in rows:
        event = _event(read(*row))
        if event is not None:
            yield row[0], event


def _reloaded(store: EventStore, stream: uuid.UUID, position: int) -> LedgerAggregate | None:
    """An aggregate let go from memory, as it stood at `position` (its events read again,
    in the order the verification met them)."""
    events = [e for p, e in sorted(_decoded(store.records.stream_rows(stream))) if p <= position]
    if not events:
        return None
    aggregate = AGGREGATE_OF[type(events[0])](stream, events[0].tenant_id)
    for event in events:
        aggregate.apply(event)
    return aggregate


def _awards_at(store: EventStore, tenant_id: str, position: int) -> list[dict[str, Any]]:
    """The tenant's awards not reversed at `position` (a campaign's winners need them all:
    read when asked, rarely, rather than kept for the whole history)."""
    awards: dict[str, dict[str, Any]] = {}
    for at, event in _decoded(store.records.tenant_rows(tenant_id, [Award.__name__])):
        if at > position:
            break
        if isinstance(event, PointsAwarded):
            awards[str(event.originator_id)] = award_facts_of(event, at)
        elif isinstance(event, AwardReversed):
            awards.pop(str(event.originator_id), None)
    return list(awards.values())


def _commands(
    chains: Chains,
    tenant: str,
    rows: Iterable[Row],
    result: Verification,
    progress: Callable[[int], None] | None,
) -> Iterator[RecordedCommand]:
    """The tenant's recorded commands in position order, each event checked against its
    stream's chain on the way (unreadable events are left to the chain check to name)."""
    current = RecordedCommand()
    for row in rows:
        record = read(*row)
        chains.add(record)
        if progress is not None:
            progress(1)
        if record.state is not None and record.tenant_id not in (tenant, ""):
            result.problems.append(_misfiled(record, tenant))
        event = _event(record)
        if event is None:
            continue
        if current.events and event.causation_id != current.first.causation_id:
            yield current
            current = RecordedCommand()
        current.events.append(event)
        current.positions.append(record.position)
    if current.events:
        yield current


def _event(record: Record) -> LedgerEvent | None:
    if record.state is None:
        return None
    try:
        return event_from_state(record.topic, record.stream_id, record.version, record.state)
    except Exception:  # tampered content: the chain check names it
        return None


def _misfiled(record: Record, tenant: str) -> Problem:
    return Problem(
        "tampered",
        record.position,
        str(record.stream_id),
        f"the stream catalog files this stream under tenant {tenant!r}, "
        f"its event under {record.tenant_id!r}",
        tenant,
    )


def _in_scope(event: Any, scope: tuple[datetime | None, datetime | None]) -> bool:
    start, end = scope
    moment = event.timestamp
    return (start is None or moment >= start) and (end is None or moment < end)


def _digest_problems(heads: dict[Any, tuple[int, str]] | None, kept: Digest) -> list[Problem]:
    if heads is None:
        return [
            Problem(
                "digest_mismatch",
                kept.position,
                "",
                f"the history no longer reaches position {kept.position}",
            )
        ]
    if digest_of(heads) == kept.digest:
        return []
    return [
        Problem(
            "digest_mismatch",
            kept.position,
            "",
            f"the history up to position {kept.position} is not the one the kept digest "
            f"({kept.digest[:16]}…, {kept.recorded_at}) pinned",
        )
    ]
