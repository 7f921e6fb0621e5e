"""The value catalog and strategy revisions."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from ledger.clock import as_utc
from ledger.commands.base import (
    Command,
    Decision,
    Description,
    Moment,
    Title,
    ValueKey,
)
from ledger.commands.context import Context
from ledger.errors import NotFound


class DefineValue(Command):
    key: ValueKey
    name: Title
    description: Description | None = None


class RetireValue(Command):
    accepted_status = 200
    key: ValueKey


class Goal(Command):
    key: ValueKey
    title: Title
    weight: float = Field(gt=0, le=1e6, allow_inf_nan=False)
    values: dict[ValueKey, Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)]] = Field(
        min_length=1, max_length=6
    )


class ReviseStrategy(Command):
    effective_from: Moment
    goals: list[Goal] = Field(min_length=1, max_length=12)
    note: Description | None = None

    @field_validator("goals")
    @classmethod
    def _distinct_goal_keys(cls, goals: list[Goal]) -> list[Goal]:
        keys = [g.key for g in goals]
        if len(keys) != len(set(keys)):
            raise ValueError("goal keys must be distinct")
        return goals


def define_value(cmd: DefineValue, ctx: Context) -> Decision:
    strategy = ctx.strategy()
    strategy.define_value(cmd.key, cmd.name, cmd.description)
    return Decision([strategy], {"key": cmd.key, "name": cmd.name})


def retire_value(cmd: RetireValue, ctx: Context) -> Decision:
    strategy = ctx.strategy()
    if cmd.key not in strategy.values:
        raise NotFound(f"no value {cmd.key!r}")
    strategy.retire_value(cmd.key)
    return Decision([strategy], {"key": cmd.key, "retired": True})


def revise_strategy(cmd: ReviseStrategy, ctx: Context) -> Decision:
    strategy = ctx.strategy()
    goals = [g.model_dump() for g in cmd.goals]
    version = strategy.revise(as_utc(cmd.effective_from), goals, cmd.note)
    return Decision([strategy], {"version": version})
