"""Given/when/then for one slice of the write side, in memory.

In the style of the eventsourcing library's `examples/shopvertical` slice tests:
`given` says which commands (or events) happened before, `when` decides one command,
`then` names the events it decides, `then_refused` the refusal it gives.

Everything runs on `ledger.replay.ReplayedState` through the very function the audit
uses to re-decide recorded commands (`ledger.audit.redecide.redecide`): the live
handlers, no event store, no SQLite, no keys.

    Slice().given(
        CreateTenant(tenant_id="acme", name="Acme"),
        DefineValue(key="ownership", name="Ownership"),
    ).when(DefineValue(key="ownership", name="Again")).then_refused(AlreadyExists)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from ledger.aggregates.api_key import ApiKey, hash_key
from ledger.audit.redecide import redecide
from ledger.commands.base import Caller, Command, Decision, Invocation
from ledger.commands.handlers import HANDLERS
from ledger.commands.tenancy import CreateTenant
from ledger.errors import Forbidden, LedgerError
from ledger.events import EventMetadata, LedgerEvent, event_metadata
from ledger.ids import aggregate_id
from ledger.replay import ReplayContext, ReplayedState

E = TypeVar("E", bound=LedgerEvent)

# A Wednesday, mid-month (as tests/support.py): room for "this week" and "this month".
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)

# Key labels per role, as tests/support.py names its callers.
LABELS = {
    "operator": "operator",
    "admin": "admin-key",
    "manager": "manager-key",
    "service": "chatbot",
    "analyst": "analyst-key",
}
# The least privileged role a command allows is who sends it unless a test says otherwise.
PREFERRED_ROLES = ("operator", "service", "manager", "admin")


@dataclass(frozen=True)
class Expected:
    """An event type with some of its fields (dicts match as subsets, recursively)."""

    kind: type[LedgerEvent]
    fields: dict[str, Any] = field(default_factory=dict)

    def mismatches(self, event: LedgerEvent) -> list[str]:
        if type(event) is not self.kind:
            return [f"{type(event).__name__} instead of {self.kind.__name__}"]
        return [
            f"{self.kind.__name__}.{name}: {getattr(event, name, '<missing>')!r}, expected {want!r}"
            for name, want in self.fields.items()
            if not _matches(getattr(event, name, _MISSING), want)
        ]


_MISSING = object()


def _matches(got: Any, want: Any) -> bool:
    if isinstance(want, dict) and isinstance(got, dict):
        return all(k in got and _matches(got[k], v) for k, v in want.items())
    return bool(got == want)


def event(event_type: type[LedgerEvent], /, **fields: Any) -> Expected:
    """An expected event: `event(PointsAwarded, member_id="ana", points=10)`."""
    return Expected(event_type, fields)


class _TenantContext(ReplayContext):
    """A replay context that can make the tenant's first key (CreateTenant needs one).
    The key is a fixed placeholder: only its hash would ever be recorded."""

    def new_api_key(self, tenant_id: str, role: str, label: str) -> tuple[str, ApiKey]:
        key = f"slice-key-{tenant_id}-{role}"
        api_key = ApiKey(aggregate_id(tenant_id, "api-key", label), tenant_id)
        api_key.issue(role, label, hash_key(key))
        return key, api_key


def _create_tenant(
    state: ReplayedState, command: CreateTenant, invocation: Invocation
) -> Decision | LedgerError:
    """`redecide` for CreateTenant: the same handler, with a context that can make a key."""
    handler = HANDLERS[CreateTenant].handler
    meta = EventMetadata(invocation.received_at, str(invocation.command_id))
    context = _TenantContext(state, invocation)
    with event_metadata(meta):
        try:
            decision: Decision = handler(command, context)
        except LedgerError as refusal:
            return refusal
        finally:
            context.settle()
    return decision


class Slice:
    """One tenant's history in memory; `given`, then one `when`, then `then`."""

    def __init__(self, tenant_id: str = "acme", now: datetime = NOW) -> None:
        self.tenant_id = tenant_id
        self.now = now
        self.state = ReplayedState()
        self.history: list[LedgerEvent] = []
        self.results: list[dict[str, Any]] = []  # every accepted command's response body
        self.decided: list[LedgerEvent] | None = None
        self.refusal: LedgerError | None = None
        self.result: dict[str, Any] = {}
        self._history_before_when = 0

    # -- given -------------------------------------------------------------------------

    def given(
        self, *facts: Command | LedgerEvent, at: datetime | None = None, role: str | None = None
    ) -> Slice:
        """Commands that happened (decided here, received `at`) or events, in order."""
        for fact in facts:
            if isinstance(fact, LedgerEvent):
                self._record([fact])
                continue
            outcome = self._decide(fact, at, role)
            if isinstance(outcome, LedgerError):
                raise AssertionError(
                    f"given {type(fact).__name__} was refused: "
                    f"{type(outcome).__name__}: {outcome.detail}"
                )
            self.results.append(outcome.result)
            self._record(_events_of(outcome))
        return self

    # -- when --------------------------------------------------------------------------

    def when(self, command: Command, at: datetime | None = None, role: str | None = None) -> Slice:
        """Decide `command` on the history so far; an accepted one joins the history."""
        self._history_before_when = len(self.history)
        self.decided, self.refusal, self.result = None, None, {}
        outcome = self._decide(command, at, role)
        if isinstance(outcome, LedgerError):
            self.refusal = outcome
            return self
        self.result = outcome.result
        self.results.append(outcome.result)
        self.decided = _events_of(outcome)
        self._record(self.decided)
        return self

    # -- then --------------------------------------------------------------------------

    def then(self, *expected: type[LedgerEvent] | Expected) -> list[LedgerEvent]:
        """The decided events are exactly these, in order (with the fields given)."""
        if self.refusal is not None:
            raise AssertionError(
                f"refused with {type(self.refusal).__name__}: {self.refusal.detail}"
            )
        assert self.decided is not None, "then() without when()"
        wanted = [e if isinstance(e, Expected) else Expected(e) for e in expected]
        got_names = [type(e).__name__ for e in self.decided]
        want_names = [w.kind.__name__ for w in wanted]
        assert got_names == want_names, f"decided {got_names}, expected {want_names}"
        problems = [p for w, e in zip(wanted, self.decided, strict=True) for p in w.mismatches(e)]
        assert not problems, "; ".join(problems)
        return list(self.decided)

    def then_refused(self, kind: type[LedgerError], field: str | None = None) -> LedgerError:
        """Refused with exactly this named refusal, and nothing was decided."""
        if self.refusal is None:
            names = [type(e).__name__ for e in self.decided or []]
            raise AssertionError(f"accepted ({names}), expected {kind.__name__}")
        assert type(self.refusal) is kind, (
            f"refused with {type(self.refusal).__name__} ({self.refusal.detail}), "
            f"expected {kind.__name__}"
        )
        if field is not None:
            assert self.refusal.field == field, f"field {self.refusal.field!r}, not {field!r}"
        assert self.decided is None
        assert len(self.history) == self._history_before_when, "a refused command recorded"
        return self.refusal

    # -- reading the history -----------------------------------------------------------

    def last(self, kind: type[E]) -> E:
        """The latest event of `kind` in the history (given and when)."""
        for recorded in reversed(self.history):
            if isinstance(recorded, kind):
                return recorded
        raise AssertionError(f"no {kind.__name__} in the history")

    def all(self, kind: type[E]) -> list[E]:
        return [e for e in self.history if isinstance(e, kind)]

    # -- internals ---------------------------------------------------------------------

    def _decide(
        self, command: Command, at: datetime | None, role: str | None
    ) -> Decision | LedgerError:
        registration = HANDLERS[type(command)]
        role = role or next(r for r in PREFERRED_ROLES if r in registration.roles)
        if role not in registration.roles:  # as the service checks before any handler
            return Forbidden(f"role {role!r} may not {type(command).__name__}")
        invocation = Invocation(
            Caller(self.tenant_id, role, LABELS.get(role, role)),
            uuid.uuid4(),
            at or self.now,
        )
        if isinstance(command, CreateTenant):
            return _create_tenant(self.state, command, invocation)
        return redecide(command, ReplayContext(self.state, invocation))

    def _record(self, events: Sequence[LedgerEvent]) -> None:
        for recorded in events:
            self.history.append(recorded)
            self.state.apply(recorded, len(self.history))


def _events_of(decision: Decision) -> list[LedgerEvent]:
    return [e for a in decision.aggregates for e in a.pending]
