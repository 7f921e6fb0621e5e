"""Forget reaches the disk: after a forget and a clean stop no file the ledger wrote holds
the member's name, e-mail, messages, notes, reasons or key, nor any key or token issued."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from kafka import KafkaConsumer

from consumers.relay import Relay, wait_until_published
from ledger.config import Settings
from ledger.store import EventStore
from tests.integration.http_server import free_port, wait_until_up
from tests.integration.kafka_broker import Broker
from tests.support import process_env

TOKEN = "op_" + "security-suite-operator-token-0123456789"
NAME, EMAIL = "Zelda Quux", "zelda.quux@example.test"
MESSAGE, NOTE, REASON = "thanks-XYZZY-42", "note-QWERTY-77", "reason-ASDFGH-99"


def secrets_found(files: list[Path], needles: list[bytes]) -> list[tuple[str, str]]:
    found = []
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            if needle in data:
                found.append((path.name, needle[:24].decode("latin-1")))
    return found


def test_after_a_forget_no_file_holds_the_member_or_any_secret(
    tmp_path: Path, broker: Broker
) -> None:
    data_dir, exports = tmp_path / "data", tmp_path / "exports"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    env = {
        **process_env(),
        "LEDGER_OPERATOR_TOKEN": TOKEN,
        "LEDGER_LOG_FORMAT": "json",
        "COLUMNS": "300",
    }
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ledger.cli",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(url, server)
        created = httpx.post(
            f"{url}/v1/tenants",
            json={"tenant_id": "sec", "name": "Sec"},
            headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "tenant-1"},
        ).json()
        admin = {"Authorization": f"Bearer {created['admin_key']}"}

        def ok(path: str, body: dict[str, object], status: int = 201, **headers: str) -> dict:
            answer = httpx.post(f"{url}{path}", json=body, headers={**admin, **headers})
            assert answer.status_code == status, answer.text
            return dict(answer.json())

        # Issued with an Idempotency-Key: the stored outcome must not hold the key.
        issued = ok(
            "/v1/api-keys", {"role": "service", "label": "bot"}, **{"Idempotency-Key": "k1"}
        )
        replay = httpx.post(
            f"{url}/v1/api-keys",
            json={"role": "service", "label": "bot"},
            headers={**admin, "Idempotency-Key": "k1"},
        )
        assert replay.status_code == 201 and replay.json()["key"] is None
        assert replay.headers["idempotent-replayed"] == "true"
        ok("/v1/values", {"key": "care", "name": "Care"})
        ok(
            "/v1/members",
            {
                "member_id": "zq",
                "display_name": NAME,
                "email": EMAIL,
                "team": "a",
                "joined_at": "2020-01-01T00:00:00Z",
            },
        )
        ok(
            "/v1/members",
            {
                "member_id": "bo",
                "display_name": "Bo",
                "team": "a",
                "joined_at": "2020-01-01T00:00:00Z",
            },
        )
        ok(
            "/v1/missions",
            {"mission_id": "m", "title": "M", "values": ["care"], "points": 5, "cadence": "daily"},
        )
        ok(
            "/v1/recognitions",
            {
                "from_member": "bo",
                "to_member": "zq",
                "value": "care",
                "points": 3,
                "message": MESSAGE,
            },
        )
        ok("/v1/missions/m/completions", {"member_id": "zq", "note": NOTE})
        position = ok("/v1/points/adjustments", {"member_id": "zq", "points": 2, "reason": REASON})[
            "position"
        ]
        points = httpx.get(
            f"{url}/v1/members/zq/points", params={"min_position": position}, headers=admin
        ).json()
        assert REASON in str(points), "the reason is shown to those who may read it"
        # Copies are spaced (at most one a second): ask until one holds the writes.
        while ok("/v1/projections/snapshot", {}, status=200)["position"] < position:
            time.sleep(0.3)
        # Before the forget the analysts' copy names the member (the search can find it):
        # in the part of member_profiles its views read.
        parts = sorted((data_dir / "projections.snapshot.parts").iterdir())
        before = secrets_found(parts, [NAME.encode()])
        assert [(name.split("-")[0], needle) for name, needle in before] == [
            ("member_profiles", NAME)
        ]
        keys_db = sqlite3.connect(f"file:{data_dir / 'member-keys.sqlite'}?mode=ro", uri=True)
        member_key = keys_db.execute(
            "SELECT key FROM member_keys WHERE member_id = 'zq'"
        ).fetchone()[0]
        keys_db.close()
        # Everything so far goes to Kafka too (the relay publishes ciphertext only).
        config = Settings(
            data_dir=data_dir,
            kafka_bootstrap=broker.bootstrap,
            kafka_topic=broker.new_topic(),
            _env_file=None,
        )  # type: ignore[call-arg]
        store = EventStore(f"sqlite:///{data_dir / 'events.sqlite'}", cache_size=0)
        relay = Relay(config, store)

        forgotten = ok("/v1/members/zq/forget", {}, status=200)
        # Neither acting nor receiving any more.
        refused = httpx.post(
            f"{url}/v1/recognitions",
            headers=admin,
            json={
                "from_member": "bo",
                "to_member": "zq",
                "value": "care",
                "points": 1,
                "message": "after",
            },
        )
        assert refused.status_code == 422, refused.text
        refused = httpx.post(
            f"{url}/v1/missions/m/completions", headers=admin, json={"member_id": "zq"}
        )
        assert refused.status_code == 422, refused.text
        while relay.publish_page():
            pass
        assert wait_until_published(relay, 30)
        relay.close()
        store.close()
        board = httpx.get(
            f"{url}/v1/leaderboard",
            headers=admin,
            params={"period": "all", "min_position": forgotten["position"]},
        )
        assert board.status_code == 200
        assert all(
            e["display_name"] is None for e in board.json()["entries"] if e["member_id"] == "zq"
        )
        export = subprocess.run(
            [
                sys.executable,
                "-m",
                "ledger.cli",
                "export",
                "parquet",
                str(exports),
                "--data-dir",
                str(data_dir),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert export.returncode == 0, export.stdout + export.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode == 0

    consumer = KafkaConsumer(
        config.kafka_topic,
        bootstrap_servers=broker.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    topic = tmp_path / "topic.bin"
    topic.write_bytes(b"\n".join(r.value for r in consumer))
    consumer.close()
    assert topic.stat().st_size > 0

    files = [p for p in (*data_dir.rglob("*"), *exports.rglob("*"), log_path, topic) if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and any(".snapshot." in p.name for p in files)
    needles = [
        NAME.encode(),
        EMAIL.encode(),
        MESSAGE.encode(),
        NOTE.encode(),
        REASON.encode(),
        bytes(member_key),
        bytes(member_key).hex().encode(),
        created["admin_key"].encode(),
        issued["key"].encode(),
        TOKEN.encode(),
    ]
    assert secrets_found(files, needles) == []
    # Every data file is its owner's only.
    for path in data_dir.iterdir():
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"
