"""Tamper evidence checked: every stream's hash chain, and digests over stream heads.

One pass over the store in position order keeps, per stream, only its last version,
its last stored hash and the chain recomputed from the events' contents. A stream
that does not add up is examined again, whole, to name what happened to it:
`tampered` (an event's content no longer matches its seal), `missing` (an event the
chain links to is gone), `inserted` (an event the chain does not account for) or
`reordered` (events stored in another order than they were sealed in).
"""

from __future__ import annotations

import itertools
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ledger.audit.problems import Problem
from ledger.seal import digest_of, genesis, seal_hash
from ledger.store import EventStore

PAGE = 5_000


@dataclass(slots=True)
class _Stream:
    version: int = 0
    stored_head: str = ""  # the stored hash of the last event
    head: str = ""  # the chain recomputed from contents (what a digest pins)
    position: int = 0
    tenant_id: str = ""


@dataclass
class Record:
    """One stored event, read for the integrity check."""

    position: int
    stream_id: uuid.UUID
    version: int
    event_type: str
    state: dict[str, Any] | None  # None: not readable JSON
    topic: str = ""
    tenant_id: str = ""
    prev: str | None = None
    hash: str | None = None
    self_ok: bool = False


def read(position: int, stream_id: uuid.UUID, version: int, topic: str, raw: bytes) -> Record:
    event_type = topic.rsplit(":", 1)[-1]
    try:
        state = orjson.loads(raw)
        if not isinstance(state, dict):
            raise ValueError("not an object")
    except (orjson.JSONDecodeError, ValueError):
        return Record(position, stream_id, version, event_type, None, topic)
    record = Record(position, stream_id, version, event_type, state, topic)
    record.tenant_id = str(state.get("tenant_id", ""))
    seal = state.get("seal")
    if isinstance(seal, dict) and isinstance(seal.get("prev"), str):
        record.prev, record.hash = seal["prev"], seal.get("hash")
        content = {k: v for k, v in state.items() if k != "seal"}
        record.self_ok = seal_hash(record.prev, stream_id, version, event_type, content) == (
            record.hash
        )
    return record


def content_hash(record: Record, prev: str) -> str:
    assert record.state is not None
    content = {k: v for k, v in record.state.items() if k != "seal"}
    return seal_hash(prev, record.stream_id, record.version, record.event_type, content)


@dataclass
class IntegrityReport:
    events: int = 0
    position: int = 0
    problems: list[Problem] = field(default_factory=list)
    heads_at: dict[int, dict[uuid.UUID, tuple[int, str]]] = field(default_factory=dict)

    def digest_at(self, position: int) -> str:
        return digest_of(self.heads_at[position])


def scan(store: EventStore) -> Iterator[Record]:
    after = 0
    while True:
        page = store.select(after, PAGE)
        for n in page:
            yield read(
                n.id, uuid.UUID(str(n.originator_id)), n.originator_version, n.topic, n.state
            )
        if len(page) < PAGE:
            return
        after = page[-1].id


class Chains:
    """The chain check, fed one record at a time in position order: per stream only its
    last version, stored hash and recomputed head, so memory grows with the number of
    streams, never with their events. Streams that do not add up are `suspicious`.

    With a `capacity`, at most that many streams are held (least recently seen first
    out); a stream met again after it was let go is `reload`ed: its records before the
    position are read again and followed as they were the first time.
    """

    def __init__(
        self,
        digest_positions: tuple[int, ...] = (),
        capacity: int | None = None,
        reload: Callable[[uuid.UUID, int], list[Record]] | None = None,
    ) -> None:
        self.events = 0
        self.position = 0
        self.streams: OrderedDict[uuid.UUID, _Stream] = OrderedDict()
        self.suspicious: set[uuid.UUID] = set()
        self.heads_at: dict[int, dict[uuid.UUID, tuple[int, str]]] = {}
        self._pending = sorted(set(digest_positions))
        self.capacity = capacity if reload is not None else None
        self.reload = reload
        self.let_go: set[uuid.UUID] = set()

    def add(self, record: Record) -> None:
        pending = self._pending
        while pending and record.position > pending[0]:
            self.heads_at[pending.pop(0)] = _heads(self.streams)
        self.events += 1
        self.position = record.position
        if not self._follow(self._stream(record.stream_id, record.position), record):
            self.suspicious.add(record.stream_id)

    def _stream(self, stream_id: uuid.UUID, position: int) -> _Stream:
        stream = self.streams.get(stream_id)
        if stream is not None:
            if self.capacity is not None:
                self.streams.move_to_end(stream_id)
            return stream
        stream = _Stream(stored_head=genesis(stream_id))
        stream.head = stream.stored_head
        if stream_id in self.let_go and self.reload is not None:
            self.let_go.discard(stream_id)
            for earlier in self.reload(stream_id, position):
                self._follow(stream, earlier)
        self.streams[stream_id] = stream
        if self.capacity is not None:
            while len(self.streams) > self.capacity:
                gone, _ = self.streams.popitem(last=False)
                self.let_go.add(gone)
        return stream

    @staticmethod
    def _follow(stream: _Stream, record: Record) -> bool:
        """Move the stream on by one record; whether the record links up."""
        ok = (
            record.state is not None
            and record.self_ok
            and record.version == stream.version + 1
            and record.prev == stream.stored_head
            and record.position > stream.position
        )
        if ok and stream.head == stream.stored_head:
            stream.head = record.hash or ""  # the same hash again: no need to compute it
        else:
            stream.head = content_hash(record, stream.head) if record.state else "unreadable"
        stream.version = record.version
        stream.stored_head = record.hash or ""
        stream.position = record.position
        stream.tenant_id = stream.tenant_id or record.tenant_id
        return ok

    def finish(self) -> None:
        for position in self._pending:
            self.heads_at[position] = _heads(self.streams)
        self._pending = []
        self.heads_at[self.position] = _heads(self.streams)


def check(
    store: EventStore,
    digest_positions: tuple[int, ...] = (),
    progress: Callable[[int], None] | None = None,
) -> IntegrityReport:
    """Check every chain of the whole store; also pin the heads at `digest_positions`
    (and at the end): what `ledger digest` and a kept digest compare."""
    chains = Chains(digest_positions)
    for record in scan(store):
        chains.add(record)
        if progress is not None:
            progress(record.position)
    chains.finish()
    report = IntegrityReport(chains.events, chains.position, heads_at=chains.heads_at)
    if chains.suspicious:
        report.problems = classify(store, chains.suspicious)
    return report


def _heads(streams: dict[uuid.UUID, _Stream]) -> dict[uuid.UUID, tuple[int, str]]:
    return {sid: (s.version, s.head) for sid, s in streams.items()}


def classify(store: EventStore, suspicious: set[uuid.UUID]) -> list[Problem]:
    """Name what happened to each stream that does not add up (a second, rare read: of
    those streams only)."""
    by_stream: dict[uuid.UUID, list[Record]] = {}
    for row in store.records.streams_rows(sorted(suspicious)):
        record = read(*row)
        by_stream.setdefault(record.stream_id, []).append(record)
    problems: list[Problem] = []
    for stream_id, records in by_stream.items():
        problems.extend(_classify_stream(stream_id, sorted(records, key=lambda r: r.version)))
    return sorted(problems, key=lambda p: p.position)


def _classify_stream(stream_id: uuid.UUID, records: list[Record]) -> list[Problem]:
    problems: list[Problem] = []
    tenant = next((r.tenant_id for r in records if r.tenant_id), "")

    def report(kind: str, record: Record, detail: str) -> None:
        problems.append(
            Problem(kind, record.position, str(stream_id), detail, record.tenant_id or tenant)
        )

    # Stored order: versions must be written in position order.
    for before, after in itertools.pairwise(records):
        if after.position < before.position:
            report(
                "reordered",
                after,
                f"version {after.version} is stored before version {before.version}",
            )
    # The sealed order: follow the links from the stream's genesis.
    following = {r.prev: r for r in records if r.prev is not None}
    by_version = {r.version: r for r in records}
    reached: set[int] = set()
    cursor, index, last_tampered = genesis(stream_id), 0, False
    while True:
        record = following.get(cursor)
        if record is None:
            gap = by_version.get(index + 1)
            if gap is not None and gap.state is None:
                # An unreadable event breaks the links: bridge it and carry on behind it.
                report("tampered", gap, "the stored event is not readable")
                reached.add(id(gap))
                index += 1
                behind = by_version.get(index + 1)
                if behind is None or behind.prev is None:
                    break
                cursor, last_tampered = behind.prev, True
                continue
            # A link leads nowhere: resume at the next genuine event (an event is gone).
            resumable = [
                r for r in records if id(r) not in reached and r.self_ok and r.version > index
            ]
            if not resumable:
                break
            record = min(resumable, key=lambda r: r.version)
            if not (last_tampered and record.version == index + 1):
                report(
                    "missing",
                    record,
                    f"the event sealed before version {record.version} of this stream is gone",
                )
            index = record.version - 1
            assert record.prev is not None
            following[record.prev] = record
            cursor = record.prev
            continue
        index += 1
        reached.add(id(record))
        if record.version != index:
            report(
                "reordered",
                record,
                f"sealed as event {index} of its stream, stored as version {record.version}",
            )
            last_tampered = False
        elif not record.self_ok:
            report("tampered", record, "the event's content does not match its seal")
            last_tampered = True
        else:
            last_tampered = False
        cursor = record.hash or ""
    for record in records:
        if id(record) in reached:
            continue
        if record.state is None:
            report("tampered", record, "the stored event is not readable")
        elif record.prev is None:
            report("inserted", record, "the event carries no seal: the ledger did not write it")
        else:
            report("inserted", record, "the event does not belong to its stream's chain")
    return problems
