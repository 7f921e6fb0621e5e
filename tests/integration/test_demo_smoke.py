"""`ledger demo` starts, serves, and its leaderboard and alignment are not empty."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from ledger.demo import TIMEZONE
from ledger.periods import local_date
from tests.integration.http_server import free_port, store_head
from tests.support import now, process_env

# Its answers depend on the day: run again at fixed moments (.ci/run).
pytestmark = pytest.mark.calendar


def test_demo_serves_a_company_with_leaderboard_and_alignment(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger.cli",
            "demo",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**process_env(), "COLUMNS": "300"},
    )
    assert process.stdout is not None
    try:
        started = time.monotonic()
        key = None
        for line in process.stdout:
            if match := re.search(r"admin key: (lk_\S+)", line):
                key = match.group(1)
                break
        assert key, "the demo printed no admin key"
        assert time.monotonic() - started < 60, "demo set-up took over 60 s"
        url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
        board = None
        for _ in range(100):
            try:
                board = httpx.get(f"{url}/v1/leaderboard?period=month", headers=headers)
                if board.status_code != 503:  # 503 + Retry-After: still catching up
                    break
            except httpx.ConnectError:
                pass
            time.sleep(0.1)
        assert board is not None and board.status_code == 200
        position = store_head(url)
        board = httpx.get(
            f"{url}/v1/leaderboard",
            headers=headers,
            params={"period": "all", "min_position": position},
        ).json()
        assert len(board["entries"]) == 10
        # This week has behavior whatever day the demo was made (even at Monday 00:30).
        week = httpx.get(f"{url}/v1/leaderboard", headers=headers, params={"period": "week"})
        assert week.json()["entries"], "the demo's current week is empty"
        # The month a week ago: a whole month (or its start) under the second revision.
        alignment = httpx.get(
            f"{url}/v1/alignment",
            headers=headers,
            params={
                "scope": "team",
                "team": "product",
                "period": "month",
                "at": local_date(now() - timedelta(days=7), TIMEZONE).isoformat(),
            },
        ).json()
        assert alignment["behaviors"] > 0 and alignment["score"] is not None
        assert alignment["strategy_version"] == 2
    finally:
        process.send_signal(signal.SIGINT)
        try:
            # Ctrl-C: a clean stop that says it was interrupted (issue 21)
            assert process.wait(timeout=15) == 130
        except subprocess.TimeoutExpired:
            process.kill()
            raise
