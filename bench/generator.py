"""Realistic one-tenant histories of any size, written straight into a SQLite event store.

    python -m bench.generator OUT_DIR --behaviors N [--members M] [--seed S]

The set-up goes through the ledger's own command handlers (`Ledger.execute`): the
tenant and its admin key, six values, two strategy revisions, missions, a campaign,
members in four teams and the team moves of one member in ten. The bulk, which the
handlers would take an hour to write, is appended as the aggregates the handlers
would save: per mission completion its slot, the completion and the award; per
recognition the giver's monthly allowance, the pair's weekly counter, the
recognition and the award; and some manual adjustments and award reversals.
Recorded in time order (a few completions backdated), as commands arrive.

OUT_DIR then looks like a data directory (`events.sqlite`, `member-keys.sqlite`)
plus `history.json` (tenant and counts; no key: `History.issue_admin_key` issues one
into each copy). A seed fixes every id, moment and figure; only ciphertexts of names
differ between two runs.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.common import PYTHON, ROOT, run_child
from ledger.bootstrap import open_ledger
from ledger.events import LedgerEvent

TENANT = "bench"
TIMEZONE = "Europe/Stockholm"
END = datetime(2026, 11, 20, 12, tzinfo=UTC)  # the history's last moment; queries' "now"
WEEKS = 26
JOINED = datetime(2020, 1, 6, tzinfo=UTC)  # long before any "now": commands sent today pass
TEAMS = ["sales", "support", "product", "operations"]
VALUES = {
    "customer-focus": "Customer focus",
    "ownership": "Ownership",
    "innovation": "Innovation",
    "teamwork": "Teamwork",
    "transparency": "Transparency",
    "speed": "Speed",
}
# (id, values, points, cadence, teams): what `cadence` and `teams` allow is respected.
MISSIONS: list[tuple[str, list[str], int, str, list[str]]] = [
    ("customer-follow-up", ["customer-focus"], 10, "daily", []),
    ("ticket-deep-dive", ["customer-focus", "ownership"], 15, "daily", ["support"]),
    ("code-review", ["teamwork", "ownership"], 10, "daily", ["product"]),
    ("share-learning", ["transparency"], 5, "daily", []),
    ("fast-answer", ["speed", "customer-focus"], 5, "daily", []),
    ("weekly-retro-action", ["ownership", "teamwork"], 20, "weekly", []),
    ("ship-experiment", ["innovation", "speed"], 30, "weekly", []),
    ("pair-session", ["teamwork"], 10, "weekly", []),
]
CAMPAIGN = ("customer-month", ["customer-focus"], 1.5)  # the history's fifth month
# Loose limits: a benchmark's commands must never be refused by an allowance.
SETTINGS = {
    "timezone": TIMEZONE,
    "monthly_allowance": 1_000_000,
    "max_recognitions_per_pair_per_week": 1000,
}
SHARE_RECOGNITIONS = 0.4
SHARE_ADJUSTMENTS = 0.02  # per behavior
SHARE_REVERSED = 0.005  # of awards
SHARE_BACKDATED = 0.05  # of completions, by up to three days
BATCH = 2_000  # behaviors per append (one SQLite transaction)


@dataclass(frozen=True)
class History:
    """A generated data directory and what the rows need to know about it."""

    directory: Path
    tenant: str
    behaviors: int
    events: int
    members: int
    seed: int

    @property
    def store(self) -> Path:
        return self.directory / "events.sqlite"

    def copy_to(self, data_dir: Path) -> None:
        """Its files into a data directory of their own (a server then writes there)."""
        import shutil

        data_dir.mkdir(parents=True, exist_ok=True)
        for name in ("events.sqlite", "member-keys.sqlite"):
            shutil.copyfile(self.directory / name, data_dir / name)

    def issue_admin_key(self, data_dir: Path) -> str:
        """A fresh admin key of the tenant in a copy, as `ledger demo` issues one: no key
        is ever written to a file (only its hash, in the store)."""
        from ledger.commands.base import Caller
        from ledger.commands.tenancy import IssueApiKey
        from ledger.config import Settings

        ledger = open_ledger(Settings(data_dir=data_dir, _env_file=None))
        try:
            issued = ledger.execute(
                IssueApiKey(role="admin", label="bench admin"),
                Caller(self.tenant, "admin", "bench"),
            )
        finally:
            ledger.close()
        return str(issued.body["key"])

    @staticmethod
    def read(directory: Path) -> History:
        fields = json.loads((directory / "history.json").read_text())
        return History(directory=directory, **fields)


def cached(cache: Path, behaviors: int, members: int, seed: int = 1) -> History:
    """The history of these sizes, generated once per run (in a process of its own: its
    memory and its seeded ids stay there)."""
    directory = cache / f"history-{behaviors}-{members}-{seed}"
    if not (directory / "history.json").exists():
        args = [str(directory), "--behaviors", str(behaviors), "--members", str(members)]
        run_child([PYTHON, "-m", "bench.generator", *args, "--seed", str(seed)], cwd=ROOT)
    return History.read(directory)


@contextmanager
def _seeded_uuid4(rng: random.Random) -> Iterator[None]:
    """Event and command ids come from uuid.uuid4 inside the ledger: seeded here, so one
    seed writes the same ids. Only in the generator's own process."""
    original = uuid.uuid4
    uuid.uuid4 = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
    try:
        yield
    finally:
        uuid.uuid4 = original


def generate(directory: Path, behaviors: int, members: int, seed: int = 1) -> History:
    if (directory / "events.sqlite").exists():
        raise SystemExit(f"{directory} already holds a store")
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with _seeded_uuid4(random.Random(seed + 1)):
        moves = _set_up(directory, members, rng)
        events = _bulk(directory, behaviors, members, moves, rng)
    _checkpoint(directory / "events.sqlite")
    history = History(directory, TENANT, behaviors, events, members, seed)
    fields = {k: v for k, v in asdict(history).items() if k != "directory"}
    (directory / "history.json").write_text(json.dumps(fields, indent=1))
    return history


def _set_up(
    directory: Path, members: int, rng: random.Random
) -> dict[str, list[tuple[datetime, str]]]:
    """Tenant, values, strategy, missions, a campaign and members, through the handlers.
    Returns each member's teams over time."""
    from ledger.clock import FixedClock
    from ledger.commands.base import Caller, Command
    from ledger.commands.campaigns import LaunchCampaign
    from ledger.commands.members import AddMember, MoveMember
    from ledger.commands.missions import PublishMission
    from ledger.commands.strategy import DefineValue, ReviseStrategy
    from ledger.commands.tenancy import CreateTenant
    from ledger.config import Settings

    start = END - timedelta(weeks=WEEKS)
    settings = Settings(
        event_store=f"sqlite:///{directory / 'events.sqlite'}",
        aggregate_cache_size=1_000,
        _env_file=None,
    )
    ledger = open_ledger(settings, clock=FixedClock(start - timedelta(days=1)))
    admin = Caller(TENANT, "admin", "bench set-up")
    try:
        ledger.execute(
            CreateTenant(tenant_id=TENANT, name="Bench Corp", settings=SETTINGS),
            Caller(TENANT, "operator", "operator"),
        )
        commands: list[Command] = [DefineValue(key=k, name=n) for k, n in VALUES.items()]
        commands += [
            ReviseStrategy.model_validate(
                {
                    "effective_from": start,
                    "goals": [
                        {
                            "key": "customers",
                            "title": "Win on service",
                            "weight": 2,
                            "values": {"customer-focus": 2, "speed": 1},
                        },
                        {
                            "key": "quality",
                            "title": "Own the outcome",
                            "weight": 1,
                            "values": {"ownership": 1, "teamwork": 1},
                        },
                    ],
                }
            ),
            ReviseStrategy.model_validate(
                {
                    "effective_from": start + timedelta(weeks=WEEKS // 2),
                    "goals": [
                        {
                            "key": "product",
                            "title": "Ship to learn",
                            "weight": 2,
                            "values": {"innovation": 2, "speed": 1},
                        },
                        {
                            "key": "customers",
                            "title": "Win on service",
                            "weight": 1,
                            "values": {"customer-focus": 1, "transparency": 1},
                        },
                    ],
                }
            ),
        ]
        commands += [
            PublishMission(
                mission_id=mission_id,
                title=mission_id.replace("-", " ").capitalize(),
                values=values,
                points=points,
                cadence=cadence,
                teams=teams,
            )
            for mission_id, values, points, cadence, teams in MISSIONS
        ]
        campaign_id, campaign_values, multiplier = CAMPAIGN
        commands.append(
            LaunchCampaign(
                campaign_id=campaign_id,
                name="Customer month",
                starts_at=start + timedelta(weeks=16),
                ends_at=start + timedelta(weeks=20),
                values=campaign_values,
                multiplier=multiplier,
                winners=5,
            )
        )
        moves: dict[str, list[tuple[datetime, str]]] = {}
        for m in range(members):
            member_id = f"m{m}"
            team = TEAMS[m % len(TEAMS)]
            commands.append(
                AddMember(
                    member_id=member_id, display_name=f"Member {m}", team=team, joined_at=JOINED
                )
            )
            moves[member_id] = [(JOINED, team)]
            if m % 10 == 3:  # one in ten moves team once during the history
                when = start + timedelta(days=rng.randint(7, WEEKS * 7 - 7), hours=8)
                new_team = TEAMS[(m + 1 + rng.randrange(len(TEAMS) - 1)) % len(TEAMS)]
                commands.append(MoveMember(member_id=member_id, team=new_team, effective_from=when))
                moves[member_id].append((when, new_team))
        for command in commands:
            ledger.execute(command, admin)
        return moves
    finally:
        ledger.close()


def _utc(moment: datetime) -> str:
    """A UTC instant as pydantic writes it in JSON."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond:06d}Z" if moment.microsecond else text + "Z"


class _Events:
    """Stored events exactly as the ledger's mapper writes them (sealed, same bytes),
    built from dicts: pydantic per event would make a 1M-behavior history take ten
    minutes. `check` proves the sameness on a sample through the ledger's own mapper."""

    def __init__(self, store: Any, rng: random.Random) -> None:
        from eventsourcing.persistence import StoredEvent

        self.store = store
        self.rng = rng
        self.stored_event = StoredEvent
        self.rows: list[Any] = []
        self.streams: list[Any] = []  # catalog entries of the streams the rows open
        self.count = 0
        self.moment = ""
        self.cause = ""
        self._order: dict[type, tuple[list[str], str]] = {}

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def at(self, moment: datetime) -> None:
        """The command being written: its recorded_at and its id (causation, correlation)."""
        self.moment = _utc(moment)
        self.cause = str(self.new_id())

    def add(
        self,
        cls: type[LedgerEvent],
        stream: uuid.UUID,
        version: int,
        prev: str | None,
        payload: dict[str, Any],
    ) -> tuple[str, str]:
        """Append one event to the batch; returns (event_id, seal hash)."""
        from ledger.seal import genesis, seal_hash
        from ledger.store import topic_of

        if cls not in self._order:
            fields = [
                f for f in cls.model_fields if f not in ("originator_id", "originator_version")
            ]
            self._order[cls] = (fields, topic_of(cls))
        fields, topic = self._order[cls]
        event_id = str(self.new_id())
        given = {
            "timestamp": self.moment,
            "tenant_id": TENANT,
            "event_id": event_id,
            "causation_id": self.cause,
            "correlation_id": self.cause,
            "seal": None,
            **payload,
        }
        state = {name: given[name] for name in fields}  # the model's field order, as dumped
        del state["seal"]
        state["schema_version"] = cls.schema_version
        prev = prev or genesis(stream)
        digest = seal_hash(prev, stream, version, cls.__name__, state)
        stored = {name: given[name] for name in fields}
        stored["seal"] = {"prev": prev, "hash": digest}
        stored["schema_version"] = state["schema_version"]
        self.rows.append(self.stored_event(stream, version, topic, orjson.dumps(stored)))
        if version == 1:
            from ledger.aggregates.base import AGGREGATE_OF
            from ledger.persistence import StreamEntry

            member = payload.get("member_id")
            kind = AGGREGATE_OF[cls].__name__
            self.streams.append(StreamEntry(stream, TENANT, kind, member))
        return event_id, digest

    def flush(self) -> None:
        if self.rows:
            # As the ledger writes: the rows and the catalog entries of the streams they
            # open, in one transaction (ledger.persistence).
            batch = self.store.records.batch()
            try:
                batch.insert(self.rows, self.streams)
            except BaseException:
                batch.rollback()
                raise
            batch.commit()
            self.count += len(self.rows)
            self.rows, self.streams = [], []

    def check(self, first: int = 20_000) -> None:
        """The first events (every kind occurs among them), decoded by the ledger's mapper
        (pydantic validation) and encoded again, must give the same bytes."""
        from ledger.mapper import encode_event

        page = self.store.select(0, first)
        for n in page:
            stored = self.stored_event(n.originator_id, n.originator_version, n.topic, n.state)
            again = encode_event(self.store.mapper.to_domain_event(stored))
            if again != n.state:
                raise RuntimeError(
                    f"generated {n.topic} differs from the ledger's own encoding:\n"
                    f"{n.state!r}\n{again!r}"
                )
        print(f"{len(page):,} events checked against the ledger's mapper", file=sys.stderr)


class _Award:
    """What a later reversal needs of an award."""

    __slots__ = ("head", "id", "kind", "member_id", "occurred_at", "points", "reversed")

    def __init__(
        self,
        award_id: uuid.UUID,
        member_id: str,
        points: int,
        kind: str,
        occurred_at: str,
        head: str,
    ) -> None:
        self.id, self.member_id, self.points = award_id, member_id, points
        self.kind, self.occurred_at, self.head = kind, occurred_at, head
        self.reversed = False


class _Bulk:
    """The events the handlers would save, per behavior, in time order."""

    def __init__(
        self, events: _Events, personal: Any, moves: dict[str, list[tuple[datetime, str]]]
    ) -> None:
        self.events = events
        self.rng = events.rng
        self.personal = personal  # the members' keys: reasons are encrypted as the ledger does
        self.moves = moves
        self.slots: set[tuple[str, str, str]] = set()
        self.slot_day = ""
        self.allowances: dict[tuple[str, str], tuple[int, str, int]] = {}  # version, head, spent
        self.pairs: dict[tuple[str, str, str], tuple[int, str]] = {}
        self.pair_week = ""
        self.recent: list[_Award] = []  # awards a later reversal may pick
        self.reasons: dict[tuple[str, str], str] = {}

    def team_at(self, member_id: str, moment: datetime) -> str:
        team = self.moves[member_id][0][1]
        for since, moved_to in self.moves[member_id]:
            if since <= moment:
                team = moved_to
        return team

    def reason(self, member_id: str, text: str) -> str:
        """Encrypted with the member's key as the ledger does; once per member and text
        (each encryption is a key-store transaction)."""
        key = (member_id, text)
        if key not in self.reasons:
            self.reasons[key] = str(self.personal.encrypt(TENANT, member_id, text))
        return self.reasons[key]

    def command(self) -> dict[str, Any]:
        return {
            "command_id": self.events.cause,
            "key_label": "bench service",
            "idempotency_key": None,
            "received_at": self.events.moment.replace("Z", "+00:00"),
        }

    def award(
        self,
        cause_event_id: str,
        member_id: str,
        points: int,
        kind: str,
        occurred: str,
        values: list[str],
        source_id: str,
        rule: dict[str, Any],
    ) -> None:
        from ledger import ids
        from ledger.aggregates.award import PointsAwarded

        award_id = ids.derived_id(uuid.UUID(cause_event_id), "award")
        _, head = self.events.add(
            PointsAwarded,
            award_id,
            1,
            None,
            {
                "member_id": member_id,
                "points": points,
                "kind": kind,
                "occurred_at": occurred,
                "values": values,
                "source": {"type": kind, "id": source_id},
                "cause_event_id": cause_event_id,
                "rule": rule,
                "command": self.command(),
            },
        )
        self.recent.append(_Award(award_id, member_id, points, kind, occurred, head))
        if len(self.recent) > 5_000:
            del self.recent[:1_000]

    def completion(self, member_id: str, at: datetime) -> bool:
        """A counted mission completion, if the member has a mission left this period."""
        from ledger.aggregates.completion import (
            CompletionRecorded,
            CompletionSlot,
            SlotClaimed,
        )
        from ledger.periods import cadence_period

        rng = self.rng
        occurred = at
        if rng.random() < SHARE_BACKDATED:
            occurred = at - timedelta(minutes=rng.randint(60, 3 * 24 * 60))
        team = self.team_at(member_id, occurred)
        day = cadence_period("daily", occurred, TIMEZONE)
        if day > self.slot_day:
            # Time order (backdating reaches three days back): periods that began more
            # than ten days ago are never claimed again.
            cutoff = (date.fromisoformat(day) - timedelta(days=10)).isoformat()
            self.slots = {s for s in self.slots if s[2].lstrip("W") >= cutoff}
            self.slot_day = day
        offset = rng.randrange(len(MISSIONS))
        for i in range(len(MISSIONS)):
            mission_id, values, points, cadence, teams = MISSIONS[(offset + i) % len(MISSIONS)]
            if teams and team not in teams:
                continue
            period = cadence_period(cadence, occurred, TIMEZONE)
            if (mission_id, member_id, period) not in self.slots:
                self.slots.add((mission_id, member_id, period))
                break
        else:
            return False
        campaign_id, campaign_values, multiplier = CAMPAIGN
        start = END - timedelta(weeks=WEEKS)
        in_campaign = start + timedelta(weeks=16) <= occurred < start + timedelta(weeks=20)
        factor = multiplier if in_campaign and set(values) & set(campaign_values) else 1.0
        awarded = int(points * factor + 0.5)  # round half up, as the rule
        completion_id = self.events.new_id()
        slot_id = CompletionSlot.id_for(TENANT, mission_id, member_id, period)
        self.events.add(SlotClaimed, slot_id, 1, None, {"completion_id": str(completion_id)})
        rule = {
            "name": "mission-completion",
            "version": 1,
            "inputs": {
                "mission_points": points,
                "multiplier": factor,
                "campaign_id": campaign_id if factor > 1 else None,
                "period": period,
            },
        }
        when = _utc(occurred)
        recorded, _ = self.events.add(
            CompletionRecorded,
            completion_id,
            1,
            None,
            {
                "completion_id": str(completion_id),
                "mission_id": mission_id,
                "member_id": member_id,
                "values": list(values),
                "occurred_at": when,
                "status": "counted",
                "points": awarded,
                "rule": rule,
                "slot_id": str(slot_id),
                "note": None,
            },
        )
        self.award(
            recorded, member_id, awarded, "completion", when, list(values), str(completion_id), rule
        )
        return True

    def recognition(self, giver: str, recipient: str, at: datetime) -> None:
        from ledger.aggregates.allowance import Allowance, AllowanceSpent
        from ledger.aggregates.pair_counter import PairCounter, PairRecognitionCounted
        from ledger.aggregates.recognition import RecognitionGiven
        from ledger.periods import month_key, week_key

        rng = self.rng
        value = rng.choice(list(VALUES))
        points = rng.choice((1, 2, 5, 5, 10, 10, 20))
        recognition_id = str(self.events.new_id())
        month = month_key(at, TIMEZONE)
        version, head, spent = self.allowances.get((giver, month), (0, "", 0))
        assert spent + points <= int(SETTINGS["monthly_allowance"])  # type: ignore[call-overload]
        allowance_id = Allowance.id_for(TENANT, giver, month)
        _, head = self.events.add(
            AllowanceSpent,
            allowance_id,
            version + 1,
            head or None,
            {"recognition_id": recognition_id, "points": points},
        )
        self.allowances[(giver, month)] = (version + 1, head, spent + points)
        week = week_key(at, TIMEZONE)
        if week > self.pair_week:
            # Time order (give or take the jitter): counters of weeks before last are done.
            self.pairs = {k: v for k, v in self.pairs.items() if k[2] >= self.pair_week}
            self.pair_week = week
        version, head = self.pairs.get((giver, recipient, week), (0, ""))
        pair_id = PairCounter.id_for(TENANT, giver, recipient, week)
        _, head = self.events.add(
            PairRecognitionCounted,
            pair_id,
            version + 1,
            head or None,
            {"recognition_id": recognition_id},
        )
        self.pairs[(giver, recipient, week)] = (version + 1, head)
        when = _utc(at)
        given, _ = self.events.add(
            RecognitionGiven,
            uuid.UUID(recognition_id),
            1,
            None,
            {
                "recognition_id": recognition_id,
                "from_member": giver,
                "to_member": recipient,
                "value": value,
                "points": points,
                "message": None,
                "occurred_at": when,
            },
        )
        rule = {
            "name": "peer-recognition",
            "version": 1,
            "inputs": {"points": points, "from_member": giver},
        }
        self.award(given, recipient, points, "recognition", when, [value], recognition_id, rule)

    def adjustment(self, member_id: str, at: datetime) -> None:
        from ledger.aggregates.adjustment import PointsAdjusted

        points = self.rng.choice((-20, -10, 5, 10, 25, 50))
        reason = self.reason(member_id, "correction after review")
        adjustment_id = self.events.new_id()
        when = _utc(at)
        adjusted, _ = self.events.add(
            PointsAdjusted,
            adjustment_id,
            1,
            None,
            {
                "adjustment_id": str(adjustment_id),
                "member_id": member_id,
                "points": points,
                "reason": reason,
                "occurred_at": when,
            },
        )
        rule = {
            "name": "manual-adjustment",
            "version": 1,
            "inputs": {"points": points, "reason": reason},
        }
        self.award(adjusted, member_id, points, "adjustment", when, [], str(adjustment_id), rule)

    def reversal(self) -> None:
        from ledger.aggregates.award import AwardReversed

        candidates = [a for a in self.recent[-1_000:] if not a.reversed]
        if not candidates:
            return
        award = self.rng.choice(candidates)
        award.reversed = True
        self.events.add(
            AwardReversed,
            award.id,
            2,
            award.head,
            {
                "member_id": award.member_id,
                "points": award.points,
                "award_kind": award.kind,
                "occurred_at": award.occurred_at,
                "reason": self.reason(award.member_id, "given by mistake"),
                "command": self.command(),
            },
        )


def _bulk(
    directory: Path,
    behaviors: int,
    members: int,
    moves: dict[str, list[tuple[datetime, str]]],
    rng: random.Random,
) -> int:
    from ledger.config import Settings

    settings = Settings(
        event_store=f"sqlite:///{directory / 'events.sqlite'}",
        aggregate_cache_size=0,
        _env_file=None,
    )
    ledger = open_ledger(settings)
    try:
        events = _Events(ledger.store, rng)
        bulk = _Bulk(events, ledger.personal, moves)
        start = END - timedelta(weeks=WEEKS)
        span = (END - start).total_seconds()
        done = 0
        while done < behaviors:
            for _ in range(min(BATCH, behaviors - done)):
                # Evenly spread in time, a little jitter, in the order commands arrive.
                at = start + timedelta(seconds=span * done / behaviors + rng.random() * 30)
                member = f"m{rng.randrange(members)}"
                if rng.random() < SHARE_ADJUSTMENTS:
                    events.at(at)
                    bulk.adjustment(member, at)
                if rng.random() < SHARE_REVERSED:
                    events.at(at)
                    bulk.reversal()
                events.at(at)
                if rng.random() < SHARE_RECOGNITIONS or not bulk.completion(member, at):
                    other = f"m{(int(member[1:]) + 1 + rng.randrange(members - 1)) % members}"
                    bulk.recognition(other, member, at)
                done += 1
            events.flush()
        events.check()
        return int(ledger.store.max_position())
    finally:
        ledger.close()


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file, so copying the one file copies the whole store."""
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.generator", description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--behaviors", type=int, required=True)
    parser.add_argument("--members", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    history = generate(args.out, args.behaviors, args.members, args.seed)
    print(
        f"{history.behaviors:,} behaviors, {history.events:,} events in {args.out}", file=sys.stderr
    )


if __name__ == "__main__":
    main()
