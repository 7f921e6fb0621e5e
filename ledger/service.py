"""The ledger application service: authenticate, run commands, load shared state.

`execute` is the one path every command takes: role check, idempotency,
decide, one atomic save, retry on an optimistic-concurrency conflict.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from eventsourcing.persistence import RecordConflictError

from ledger import ids
from ledger.aggregates.api_key import ApiKey, hash_key
from ledger.aggregates.idempotency import IdempotencyRecord
from ledger.aggregates.member import Member
from ledger.aggregates.strategy import Strategy
from ledger.aggregates.tenant import Tenant
from ledger.clock import Clock
from ledger.commands.base import Caller, Command, Decision, Invocation
from ledger.commands.handlers import HANDLERS, decide
from ledger.errors import (
    ConcurrencyConflict,
    Forbidden,
    IdempotencyKeyReused,
    LedgerError,
    NotFound,
    Unauthenticated,
)
from ledger.events import EventMetadata, event_metadata
from ledger.live_context import LiveContext
from ledger.personal_data import PersonalData
from ledger.store import EventStore, WriteBatch

MAX_ATTEMPTS = 20


class Ledger:
    """Write side of the ledger over one event store."""

    def __init__(
        self, store: EventStore, personal: PersonalData, clock: Clock | None = None
    ) -> None:
        self.store = store
        self.personal = personal
        self.clock = clock or Clock()
        self._callers: dict[str, Caller] = {}

    def close(self) -> None:
        self.store.close()
        close = getattr(self.personal.keys, "close", None)
        if close:
            close()

    # -- authentication -------------------------------------------------------------

    def new_api_key(self, tenant_id: str, role: str, label: str) -> tuple[str, ApiKey]:
        """A fresh key and its ApiKey aggregate (only the key's hash is recorded)."""
        key = f"lk_{secrets.token_urlsafe(32)}"
        digest = hash_key(key)
        api_key = ApiKey(ids.aggregate_id("", "api-key", digest), tenant_id)
        api_key.issue(role, label, digest)
        return key, api_key

    def authenticate(self, key: str | None) -> Caller:
        if not key:
            raise Unauthenticated("missing bearer API key")
        digest = hash_key(key)
        cached = self._callers.get(digest)
        if cached:
            return cached
        api_key = self.store.load(ApiKey, ids.aggregate_id("", "api-key", digest))
        if api_key is None:
            if self.store.max_position() == 0:
                # The usual cause: a server started on another (new, empty) data directory.
                raise Unauthenticated(
                    "unknown API key: this ledger's store holds no tenants at all; is the "
                    "server running on the data directory the key was issued from (--data-dir)?"
                )
            raise Unauthenticated("unknown API key")
        caller = Caller(api_key.tenant_id, api_key.role, api_key.label)
        self._callers[digest] = caller
        return caller

    # -- state the API's path checks and tools read -------------------------------------

    def tenant(self, tenant_id: str) -> Tenant:
        self.store.sync()
        tenant = self.store.load(Tenant, ids.tenant_aggregate_id(tenant_id))
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        return tenant

    def strategy(self, tenant_id: str) -> Strategy:
        self.store.sync()
        return self.store.load_or_blank(Strategy, Strategy.id_for(tenant_id), tenant_id)

    def member(self, tenant_id: str, member_id: str) -> Member | None:
        self.store.sync()
        return self.store.load(Member, Member.id_for(tenant_id, member_id))

    def context(self, caller: Caller) -> LiveContext:
        """The handlers' context for `caller`, to read what a command would (path checks)."""
        self.store.sync()
        invocation = Invocation(caller, uuid.uuid4(), self.clock.now())
        return LiveContext(self.store, self.personal, invocation, self.new_api_key)

    # -- commands ---------------------------------------------------------------------------

    def execute(
        self,
        command: Command,
        caller: Caller,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        correlation_id: str | None = None,
        batch: WriteBatch | None = None,
    ) -> Outcome:
        """Run a command: its Outcome, or a named refusal (LedgerError) raised.

        Its events are staged into `batch` (the writer's open group) when given, else
        committed at once. The one retry loop: when another writer changed an aggregate
        this command read, nothing of it was kept, and it decides again on fresh state.
        """
        registration = HANDLERS[type(command)]
        if caller.role not in registration.roles:
            raise Forbidden(f"role {caller.role!r} may not {type(command).__name__}")
        invocation = Invocation(
            caller, uuid.uuid4(), self.clock.now(), idempotency_key, correlation_id
        )
        fingerprint = fingerprint or fingerprint_of(command)
        for _ in range(MAX_ATTEMPTS):
            try:
                return self._attempt(command, invocation, fingerprint, batch)
            except RecordConflictError:
                continue  # someone changed an aggregate we read: decide again on fresh state
        raise ConcurrencyConflict("too much concurrent change, try again")

    def _attempt(
        self,
        command: Command,
        invocation: Invocation,
        fingerprint: str,
        batch: WriteBatch | None,
    ) -> Outcome:
        if batch is None or not batch.holds_write_lock:
            self.store.sync()  # decide on everything committed before this attempt began
        record = self._idempotency_record(invocation)
        if record is not None:
            live = record.live_outcome(invocation.received_at)
            if live is not None:
                if live.fingerprint != fingerprint:
                    raise IdempotencyKeyReused(
                        "this Idempotency-Key was used with a different request"
                    )
                return self._replay(live.outcome, batch)
        meta = EventMetadata(
            invocation.received_at,
            str(invocation.command_id),
            invocation.correlation_id or str(invocation.command_id),
        )
        context = LiveContext(self.store, self.personal, invocation, self.new_api_key)
        try:
            recordings, events, decision = self._decide_and_record(
                command, invocation, fingerprint, record, context, meta, batch
            )
        except BaseException:
            # Loaded aggregates are the cache's own objects: whatever the command changed
            # in them before failing (events it triggered, not staged) must not be what the
            # next command decides on. What it only read stays cached.
            loaded = [*context.loaded, *([record] if record else [])]
            self.store.evict(a.id for a in loaded if a.pending)
            raise
        position = recordings[-1].notification.id if events and recordings else None
        return Outcome(decision.result, position, type(command).accepted_status == 201)

    def _decide_and_record(
        self,
        command: Command,
        invocation: Invocation,
        fingerprint: str,
        record: IdempotencyRecord | None,
        context: LiveContext,
        meta: EventMetadata,
        batch: WriteBatch | None,
    ) -> tuple[list[Any], list[Any], Decision]:
        try:
            decision = decide(command, context, meta)
        except LedgerError as refusal:
            if record is not None:
                with event_metadata(meta):
                    self._remember(record, invocation, fingerprint, {"refused": refusal.to_dict()})
                self.store.append(record, batch=batch)
            raise
        with event_metadata(meta):
            events = [e for a in decision.aggregates for e in a.pending]
            if record is not None:
                last = events[-1] if events else None
                self._remember(
                    record,
                    invocation,
                    fingerprint,
                    {
                        "ok": {
                            # A key is shown once: the stored outcome never holds it.
                            "result": {
                                k: None if k in type(command).secret_fields else v
                                for k, v in decision.result.items()
                            },
                            "status": type(command).accepted_status,
                            "last_event": [str(last.originator_id), last.originator_version]
                            if last
                            else None,
                        }
                    },
                )
            # The idempotency record goes first, so the last recording is the command's.
            recordings = self.store.append(
                *([record] if record else []), *decision.aggregates, batch=batch
            )
        return recordings, events, decision

    def _idempotency_record(self, invocation: Invocation) -> IdempotencyRecord | None:
        if not invocation.idempotency_key:
            return None
        tenant_id = invocation.tenant_id
        return self.store.load_or_blank(
            IdempotencyRecord,
            ids.aggregate_id(tenant_id, "idempotency", invocation.idempotency_key),
            tenant_id,
        )

    @staticmethod
    def _remember(
        record: IdempotencyRecord, invocation: Invocation, fingerprint: str, outcome: dict[str, Any]
    ) -> None:
        assert invocation.idempotency_key is not None
        record.record(invocation.idempotency_key, fingerprint, invocation.received_at, outcome)

    def _replay(self, outcome: dict[str, Any], batch: WriteBatch | None) -> Outcome:
        if "refused" in outcome:
            refusal = LedgerError.from_dict(outcome["refused"])
            refusal.replayed = True
            raise refusal
        ok = outcome["ok"]
        position = None
        if ok["last_event"]:
            originator_id, version = ok["last_event"]
            position = self.store.position_of(uuid.UUID(originator_id), version, batch)
        return Outcome(ok["result"], position, ok["status"] == 201, replayed=True)


def fingerprint_of(command: Command) -> str:
    body = orjson.dumps(command.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(type(command).__name__.encode() + b"\0" + body).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """What `execute` returns: the answer, where its last event landed, and how."""

    body: dict[str, Any]
    position: int | None
    created: bool  # the command creates something (the API answers 201, else 200)
    replayed: bool = False  # the first outcome of this Idempotency-Key, answered again

    @property
    def response(self) -> dict[str, Any]:
        return {**self.body, "position": self.position}
