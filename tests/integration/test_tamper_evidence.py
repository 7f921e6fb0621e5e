"""Tamper evidence end to end: raw SQL edits of the event store, named by `ledger verify`.

A small history is written through the real write side (members, a mission and its
completions, recognitions, a member moved three times), on SQLite and on PostgreSQL
(`store_url` of tests/conftest.py: a fresh schema per test, dropped afterwards). Then
the store is tampered with behind the ledger's back, with plain SQL, the way someone
with database access would: one byte of an award changed, an event deleted from the
middle of a stream, two events of a stream swapped, a forged award inserted. The
`ledger` CLI, run as a real process against that store, must exit 1 and name what
happened where; a digest kept before the tampering must no longer match when the edit
lies within the history it pinned (a forged event appended after it is the chains' job).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.clock import FixedClock
from ledger.commands.completions import CompleteMission
from ledger.commands.members import MoveMember
from ledger.commands.recognitions import GiveRecognition
from ledger.store import postgres_dsn, postgres_schema
from tests.conftest import open_ledger
from tests.support import World, days, process_env

# -- the store, read and edited with plain SQL ------------------------------------------------


@dataclass(frozen=True)
class Row:
    position: int
    stream_id: uuid.UUID
    version: int
    topic: str
    state: bytes

    @property
    def event_type(self) -> str:
        return self.topic.rsplit(":", 1)[-1]


class RawStore:
    """The events table of one store, behind the ledger's back."""

    def __init__(self, url: str, table: str) -> None:
        self.url, self.table = url, table
        self.postgres = not url.startswith("sqlite")

    @contextmanager
    def _sqlite(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.url[len("sqlite:///") :])
        try:
            with con:  # one transaction, committed on the way out
                yield con
        finally:
            con.close()

    @contextmanager
    def _postgres(self) -> Iterator[Any]:
        import psycopg

        with psycopg.connect(postgres_dsn(self.url)) as conn:  # commits on the way out
            yield conn

    @property
    def _qualified(self) -> str:
        # Names come from the library's configuration and our own fixture, not from input.
        return f'"{postgres_schema(self.url)}"."{self.table}"'

    def rows(self) -> list[Row]:
        if self.postgres:
            with self._postgres() as conn:
                found = conn.execute(
                    "SELECT notification_id, originator_id, originator_version, topic, state "
                    f"FROM {self._qualified} ORDER BY notification_id"
                ).fetchall()
            return [Row(int(p), uuid.UUID(str(o)), int(v), t, bytes(s)) for p, o, v, t, s in found]
        with self._sqlite() as con:
            found = con.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {self.table} ORDER BY rowid"
            ).fetchall()
        return [Row(int(p), uuid.UUID(o), int(v), t, bytes(s)) for p, o, v, t, s in found]

    def rewrite(self, position: int, topic: str, state: bytes) -> None:
        if self.postgres:
            with self._postgres() as conn:
                done = conn.execute(
                    f"UPDATE {self._qualified} SET topic = %s, state = %s "
                    "WHERE notification_id = %s",
                    (topic, state, position),
                )
                assert done.rowcount == 1
            return
        with self._sqlite() as con:
            cursor = con.execute(
                f"UPDATE {self.table} SET topic = ?, state = ? WHERE rowid = ?",
                (topic, state, position),
            )
            assert cursor.rowcount == 1

    def delete(self, position: int) -> None:
        if self.postgres:
            with self._postgres() as conn:
                done = conn.execute(
                    f"DELETE FROM {self._qualified} WHERE notification_id = %s",
                    (position,),
                )
                assert done.rowcount == 1
            return
        with self._sqlite() as con:
            cursor = con.execute(f"DELETE FROM {self.table} WHERE rowid = ?", (position,))
            assert cursor.rowcount == 1

    def insert(self, stream_id: uuid.UUID, version: int, topic: str, state: bytes) -> int:
        """A new row; the table assigns its position."""
        if self.postgres:
            with self._postgres() as conn:
                (position,) = conn.execute(
                    f"INSERT INTO {self._qualified} "
                    "(originator_id, originator_version, topic, state) "
                    "VALUES (%s, %s, %s, %s) RETURNING notification_id",
                    (stream_id, version, topic, state),
                ).fetchone()
            return int(position)
        with self._sqlite() as con:
            cursor = con.execute(
                f"INSERT INTO {self.table} "
                "(originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
                (stream_id.hex, version, topic, state),
            )
            assert cursor.lastrowid is not None
            return int(cursor.lastrowid)


# -- the history ----------------------------------------------------------------------------


def record_history(url: str, clock: FixedClock) -> RawStore:
    """A small, real history; the store is closed again before anyone tampers with it."""
    ledger = open_ledger(url, clock)
    try:
        world = World(ledger, clock).standard()
        for member in ("ana", "bo", "cy"):
            world.run(CompleteMission(mission_id="follow-up", member_id=member), world.service)
        world.run(
            GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=5),
            world.service,
        )
        # bo's stream: joined, moved, moved back, moved again (four events).
        for team in ("support", "sales", "support"):
            world.run(MoveMember(member_id="bo", team=team, effective_from=clock.now()))
            clock.advance(days(1))
            world.run(CompleteMission(mission_id="follow-up", member_id="bo"), world.service)
        world.run(
            GiveRecognition(from_member="cy", to_member="ana", value="innovation", points=3),
            world.service,
        )
        table = ledger.store.recorder.events_table_name  # type: ignore[attr-defined]
    finally:
        ledger.close()
    return RawStore(url, str(table))


def by_stream(rows: list[Row]) -> dict[uuid.UUID, list[Row]]:
    streams: dict[uuid.UUID, list[Row]] = {}
    for row in rows:
        streams.setdefault(row.stream_id, []).append(row)
    return streams


def moved_member(rows: list[Row]) -> list[Row]:
    """The events of the member who joined and moved three times, in version order."""
    (stream,) = [
        events
        for events in by_stream(rows).values()
        if events[0].event_type == "MemberJoined" and len(events) >= 4
    ]
    assert [r.version for r in stream] == [1, 2, 3, 4]
    assert [r.event_type for r in stream[1:]] == ["MemberMoved"] * 3
    return stream


def awards(rows: list[Row]) -> list[Row]:
    found = [r for r in rows if r.event_type == "PointsAwarded"]
    assert len(found) >= 4
    return found


# -- the tamperings: each edits the store and says what verify must name ------------------


@dataclass(frozen=True)
class Expected:
    kind: str
    positions: tuple[int, ...]  # the tampered events' positions; the problem names one
    aggregate_id: uuid.UUID
    before_digest: bool  # the edit lies at or before the kept digest's position
    re_decided: bool = False  # an award's points changed: re-deciding it differs too


def flip_a_byte_of_an_award(store: RawStore, rows: list[Row]) -> Expected:
    target = awards(rows)[1]
    points = json.loads(target.state)["points"]
    assert points == 10
    # One byte: "points":10 -> "points":90.
    assert target.state.count(b'"points":10,') == 1
    edited = target.state.replace(b'"points":10,', b'"points":90,')
    assert sum(a != b for a, b in zip(edited, target.state, strict=True)) == 1
    store.rewrite(target.position, target.topic, edited)
    return Expected(
        "tampered", (target.position,), target.stream_id, before_digest=True, re_decided=True
    )


def delete_from_the_middle_of_a_stream(store: RawStore, rows: list[Row]) -> Expected:
    stream = moved_member(rows)
    store.delete(stream[1].position)
    # The gap is named at the event behind it, the one whose chain link leads nowhere.
    return Expected("missing", (stream[2].position,), stream[0].stream_id, before_digest=True)


def swap_two_events_of_a_stream(store: RawStore, rows: list[Row]) -> Expected:
    stream = moved_member(rows)
    first, second = stream[1], stream[2]
    store.rewrite(first.position, second.topic, second.state)
    store.rewrite(second.position, first.topic, first.state)
    return Expected(
        "reordered", (first.position, second.position), first.stream_id, before_digest=True
    )


def insert_a_forged_award(store: RawStore, rows: list[Row]) -> Expected:
    copied = awards(rows)[0]
    state = orjson.loads(copied.state)
    state["points"] += 90
    forged = uuid.uuid4()
    position = store.insert(forged, 1, copied.topic, orjson.dumps(state))
    assert position > rows[-1].position
    # Past the kept digest's position: the digest still holds, the chain check does not.
    # A copied award: no recorded command gives it, so re-deciding flags it too.
    return Expected("inserted", (position,), forged, before_digest=False, re_decided=True)


Tampering = Callable[[RawStore, list[Row]], Expected]
TAMPERINGS: dict[str, Tampering] = {
    "flipped-byte": flip_a_byte_of_an_award,
    "deleted": delete_from_the_middle_of_a_stream,
    "swapped": swap_two_events_of_a_stream,
    "inserted": insert_a_forged_award,
}


# -- the CLI, as a real process -------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    code: int
    document: dict[str, Any]
    stdout: str
    stderr: str

    @property
    def problems(self) -> list[dict[str, Any]]:
        problems: list[dict[str, Any]] = self.document["problems"]
        return problems

    def kinds(self) -> set[str]:
        return {p["kind"] for p in self.problems}


def cli_env(url: str, data_dir: Path) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return {
        **process_env(inherited),
        "LEDGER_EVENT_STORE": url,
        "LEDGER_DATA_DIR": str(data_dir),
        "COLUMNS": "300",
    }


def ledger_cli(url: str, data_dir: Path, *argvs: list[str]) -> list[Outcome]:
    """Run `ledger` once per argv, all at once, and parse the JSON each prints (processes
    opening one store together is what ledger.persistence's start-up lock is for)."""
    return _run_cli(url, data_dir, list(argvs))


def _run_cli(url: str, data_dir: Path, argvs: list[list[str]]) -> list[Outcome]:
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", *argv],
            env=cli_env(url, data_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    outcomes = []
    try:
        for argv, process in zip(argvs, running, strict=True):
            out, err = process.communicate(timeout=120)
            try:
                document = json.loads(out)
            except ValueError:
                pytest.fail(
                    f"ledger {' '.join(argv)} printed no JSON (exit {process.returncode}):\n"
                    f"{out}\n{err}"
                )
            outcomes.append(Outcome(process.returncode, document, out, err))
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return outcomes


def keep_digest(url: str, data_dir: Path, path: Path) -> dict[str, Any]:
    (digest,) = ledger_cli(url, data_dir, ["digest", "--json"])
    assert digest.code == 0, digest.stderr
    path.write_text(digest.stdout)  # kept as printed: `ledger digest --json > digest.json`
    return digest.document


# -- the tests ------------------------------------------------------------------------------


def test_an_honest_history_verifies_and_so_does_its_digest(
    store_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    store = record_history(store_url, clock)
    rows = store.rows()
    digest = keep_digest(store_url, tmp_path, tmp_path / "digest.json")
    assert digest["position"] == rows[-1].position

    plain, pinned = ledger_cli(
        store_url,
        tmp_path,
        ["verify", "--json"],
        ["verify", "--digest", str(tmp_path / "digest.json"), "--json"],
    )
    for outcome in (plain, pinned):
        assert outcome.code == 0, (outcome.document, outcome.stderr)
        assert outcome.document == {"ok": True, "events": len(rows), "problems": []}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_a_tampered_store_is_named_and_breaks_the_kept_digest(
    store_url: str, clock: FixedClock, tmp_path: Path, tampering: str
) -> None:
    store = record_history(store_url, clock)
    kept = keep_digest(store_url, tmp_path, tmp_path / "digest.json")

    expected = TAMPERINGS[tampering](store, store.rows())

    plain, pinned = ledger_cli(
        store_url,
        tmp_path,
        ["verify", "--json"],
        ["verify", "--digest", str(tmp_path / "digest.json"), "--json"],
    )
    aggregate_id = str(expected.aggregate_id)
    allowed = {(expected.kind, position, aggregate_id) for position in expected.positions}
    if expected.re_decided:
        allowed |= {("award_differs", position, aggregate_id) for position in expected.positions}
    for outcome in (plain, pinned):
        assert outcome.code == 1, (outcome.document, outcome.stderr)
        assert outcome.document["ok"] is False
        accused = {
            (p["kind"], p["position"], p["aggregate_id"])
            for p in outcome.problems
            if p["kind"] != "digest_mismatch"
        }
        # The right kind at the right position, for the right stream...
        assert accused & {a for a in allowed if a[0] == expected.kind}, outcome.problems
        if expected.re_decided:
            assert accused & {a for a in allowed if a[0] == "award_differs"}, outcome.problems
        # ...and nothing else accused: no untouched stream, no untouched event.
        assert accused <= allowed, outcome.problems

    # The kept digest pins the history up to its position: an edit there breaks it.
    assert "digest_mismatch" not in plain.kinds()
    mismatches = [p for p in pinned.problems if p["kind"] == "digest_mismatch"]
    if expected.before_digest:
        assert [p["position"] for p in mismatches] == [kept["position"]], pinned.problems
    else:
        assert mismatches == [], pinned.problems
    assert [p for p in pinned.problems if p["kind"] != "digest_mismatch"] == plain.problems
