"""Logs: one structured line per request and per batch, and never a secret or a person's data."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from ledger.logs import mask
from tests.integration.http_server import free_port, wait_until_up
from tests.support import process_env

TOKEN = "op_" + "log-test-operator-token-abcdefghijklmnop"


def test_secret_values_are_masked_in_any_text() -> None:
    assert mask("Authorization: Bearer lk_abcdefghijkl") == "Authorization: Bearer ***"
    assert (
        mask("postgresql://ledger:s3cret@db:5432/ledger")
        == "postgresql://ledger:***@db:5432/ledger"
    )
    assert "op_" + "x" * 20 not in mask("token op_" + "x" * 20)


def test_serve_logs_json_lines_without_secrets_or_personal_data(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger.cli",
            "serve",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
        ],
        env={
            **process_env(),
            "LEDGER_OPERATOR_TOKEN": TOKEN,
            "LEDGER_LOG_FORMAT": "json",
            "LEDGER_LOG_LEVEL": "INFO",
            "COLUMNS": "300",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_up(url, process)
        created = httpx.post(
            f"{url}/v1/tenants",
            json={"tenant_id": "logco", "name": "Log Co"},
            headers={"Authorization": f"Bearer {TOKEN}", "X-Request-Id": "trace-42"},
        )
        assert created.headers["x-request-id"] == "trace-42"
        admin = created.json()["admin_key"]
        headers = {"Authorization": f"Bearer {admin}"}
        issued = httpx.post(
            f"{url}/v1/api-keys", json={"role": "service", "label": "bot"}, headers=headers
        ).json()["key"]
        joined = httpx.post(
            f"{url}/v1/members",
            json={
                "member_id": "m1",
                "display_name": "Zelda Quux",
                "email": "zelda@example.test",
                "team": "ops",
            },
            headers=headers,
        )
        assert joined.status_code == 201
        refused = httpx.get(f"{url}/v1/leaderboard", headers={"Authorization": "Bearer lk_guess"})
        assert refused.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["event"] == "request"]
    assert {(r["route"], r["status"]) for r in requests} >= {
        ("/v1/tenants", 201),
        ("/v1/api-keys", 201),
        ("/v1/members", 201),
        ("/v1/leaderboard", 401),
    }
    members = next(r for r in requests if r["route"] == "/v1/members")
    assert members["tenant"] == "logco" and members["level"] == "info"
    assert members["ms"] >= 0 and len(members["request_id"]) == 32
    assert any(r["request_id"] == "trace-42" for r in requests)
    assert any(line["event"] == "batch applied" for line in lines)
    everything = out + err
    for secret in (TOKEN, admin, issued, "Zelda", "zelda@example.test"):
        assert secret not in everything, f"{secret!r} reached the logs"
