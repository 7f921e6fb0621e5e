"""A demo company served by a real `ledger serve` process, and Debian's Chromium driven by
Playwright (never a downloaded browser). `python3 dev.py test` installs Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fault.processes import LedgerProcess
from tests.integration.http_server import OPERATOR_TOKEN
from tests.support import process_env

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@dataclass
class Demo:
    url: str
    admin_key: str

    def api(self, path: str, **params: Any) -> Any:
        response = httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.admin_key}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data_dir = tmp_path_factory.mktemp("dashboard")
    env = {**process_env(), "LEDGER_OPERATOR_TOKEN": OPERATOR_TOKEN, "COLUMNS": "300"}
    made = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "demo", "--no-serve", "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    found = re.search(r"admin key: (lk_\S+)", made.stdout)
    assert found, made.stdout
    server = LedgerProcess.serve(
        {**env, "LEDGER_DATA_DIR": str(data_dir), "LEDGER_RATE_LIMIT": "0"}, data_dir
    )
    try:
        server.start_ready()
        yield Demo(server.url, found.group(1))
    finally:
        server.ensure_stopped()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("LEDGER_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is missing: `python3 dev.py test` installs it (apt-get)")
        pytest.skip("no /usr/bin/chromium (python3 dev.py test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()
