"""Strategy: the value catalog and the effective-dated strategy revisions of a tenant."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import AlreadyDone, AlreadyExists, Conflict, Invalid, NotFound, RetiredValue
from ledger.events import LedgerEvent


@dataclass
class Value:
    key: str
    name: str
    description: str | None
    retired: bool = False


@dataclass
class Revision:
    version: int
    effective_from: datetime
    targets: dict[str, float]
    goals: list[dict[str, Any]] = field(default_factory=list)


class ValueDefined(LedgerEvent):
    key: str
    name: str
    description: str | None = None

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Strategy)
        aggregate.values[self.key] = Value(self.key, self.name, self.description)


class ValueRetired(LedgerEvent):
    key: str

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Strategy)
        aggregate.values[self.key].retired = True


class StrategyRevised(LedgerEvent):
    version: int
    effective_from: datetime
    goals: list[dict[str, Any]]
    # Derived from goals, stored so auditors see the exact weights judged against.
    targets: dict[str, float]
    note: str | None = None

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Strategy)
        aggregate.revisions.append(
            Revision(self.version, self.effective_from, dict(self.targets), list(self.goals))
        )


def target_weights(goals: list[dict[str, Any]]) -> dict[str, float]:
    """w[v] = sum_g (weight_g / sum weights) * (link[g][v] / sum of g's links)."""
    total = sum(float(g["weight"]) for g in goals)
    weights: dict[str, float] = {}
    for goal in goals:
        links: dict[str, float] = goal["values"]
        link_total = sum(float(w) for w in links.values())
        for value, link in links.items():
            share = (float(goal["weight"]) / total) * (float(link) / link_total)
            weights[value] = weights.get(value, 0.0) + share
    return weights


class Strategy(LedgerAggregate):
    events = (ValueDefined, ValueRetired, StrategyRevised)
    kind = "strategy"

    def init_state(self) -> None:
        self.values: dict[str, Value] = {}
        self.revisions: list[Revision] = []

    def private_copy(self) -> Strategy:
        clone = super().private_copy()
        clone.values = {k: replace(v) for k, v in self.values.items()}  # retiring changes one
        return clone

    def define_value(self, key: str, name: str, description: str | None) -> None:
        if key in self.values:
            raise AlreadyExists(f"value {key!r} already exists", field="key")
        self.trigger(ValueDefined, key=key, name=name, description=description)

    def retire_value(self, key: str) -> None:
        if key not in self.values:
            raise NotFound(f"no value {key!r}")
        if self.values[key].retired:
            raise AlreadyDone(f"value {key!r} is already retired", field="key")
        self.trigger(ValueRetired, key=key)

    def check_known(self, keys: list[str], field: str) -> None:
        """Unknown value keys in a body are invalid input (422)."""
        unknown = [k for k in keys if k not in self.values]
        if unknown:
            raise Invalid(f"unknown value(s): {', '.join(sorted(unknown))}", field=field)

    def check_active(self, keys: list[str], field: str) -> None:
        """Retired values conflict with the current catalog (409)."""
        retired = [k for k in keys if self.values[k].retired]
        if retired:
            raise RetiredValue(f"retired value(s): {', '.join(sorted(retired))}", field=field)

    def revise(
        self, effective_from: datetime, goals: list[dict[str, Any]], note: str | None
    ) -> int:
        used = [v for g in goals for v in g["values"]]
        self.check_known(used, "goals")
        self.check_active(used, "goals")
        if self.revisions and effective_from <= self.revisions[-1].effective_from:
            raise Conflict(
                "effective_from must be later than the previous revision's "
                f"({self.revisions[-1].effective_from.isoformat()})",
                field="effective_from",
            )
        version = len(self.revisions) + 1
        self.trigger(
            StrategyRevised,
            version=version,
            effective_from=effective_from,
            goals=goals,
            targets=target_weights(goals),
            note=note,
        )
        return version

    def revision_at(self, moment: datetime) -> Revision | None:
        """The latest revision with effective_from <= moment."""
        current = None
        for revision in self.revisions:
            if revision.effective_from <= moment:
                current = revision
        return current
