"""Analysts' snapshots under concurrent demand: serialized, never a 500, readable by others."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import duckdb

from tests.fault.duckdb_readers import cli_query, lts_query
from tests.integration.http_server import create_tenant, running_server
from tests.integration.test_http_api import Api


def awards_in(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM awards").fetchall()[0][0])
    finally:
        con.close()


def test_twenty_concurrent_snapshots_never_fail_and_open_in_other_duckdb_versions(
    tmp_path: Path,
) -> None:
    with running_server(tmp_path) as url:
        api = Api(url, create_tenant(url, "snaps"))
        api.ok("/v1/values", {"key": "speed", "name": "Speed"})
        members = ("ana", "bo", "cy", "di")
        for member in members:
            api.ok("/v1/members", {"member_id": member, "display_name": member, "team": "t"})
        # Distinct (giver, recipient) pairs: the weekly pair limit never refuses one.
        pairs = iter([(a, b) for a in members for b in members if a != b])
        analyst = api.key_for("analyst")
        snapshot = tmp_path / "projections.snapshot.duckdb"
        for round_ in range(3):
            # Commands keep arriving while twenty clients ask for a snapshot at once.
            written = [
                api.ok(
                    "/v1/recognitions",
                    {"from_member": giver, "to_member": to, "value": "speed", "points": 1},
                )
                for giver, to in (next(pairs) for _ in range(3))
            ]
            api.get("/v1/leaderboard", min_position=written[-1]["position"])
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                answers = list(
                    pool.map(
                        lambda i: (api if i % 2 else analyst).post("/v1/projections/snapshot"),
                        range(20),
                    )
                )
            assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
            for answer in answers:
                body = answer.json()
                # The file's name only: a server path is nobody's business.
                assert body["snapshot"] == "projections.snapshot.duckdb"
                assert str(tmp_path) not in answer.text
                assert body["position"] >= written[-1]["position"]
            expected = awards_in(snapshot)
            assert expected == 3 * (round_ + 1)
            for reader in (cli_query, lts_query):
                version, output = reader(snapshot, "SELECT count(*) FROM awards")
                assert version != duckdb.__version__
                assert int(output) == expected, (version, output)
        assert not list(tmp_path.glob("*.tmp")), "a temporary snapshot was left behind"


def test_a_snapshot_of_an_unchanged_projection_is_not_copied_again(tmp_path: Path) -> None:
    with running_server(tmp_path) as url:
        api = Api(url, create_tenant(url, "still"))
        written = api.ok("/v1/values", {"key": "speed", "name": "Speed"})
        api.get("/v1/leaderboard", min_position=written["position"])
        api.ok("/v1/projections/snapshot", status=200)
        snapshot = tmp_path / "projections.snapshot.duckdb"
        first = snapshot.stat()
        api.ok("/v1/projections/snapshot", status=200)
        again = snapshot.stat()
        assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
        changed = api.ok("/v1/values", {"key": "focus", "name": "Focus"})
        api.get("/v1/leaderboard", min_position=changed["position"])
        api.ok("/v1/projections/snapshot", status=200)
        assert snapshot.stat().st_ino != first.st_ino
        # The published file is private to the ledger's user (no world-readable copy).
        assert snapshot.stat().st_mode & 0o077 == 0
