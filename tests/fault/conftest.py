"""The fault suite: breaks things on purpose (SIGKILL, outages, full disks) and checks recovery.

Every test here is bounded in time. Longer runs are opt-in:
`LEDGER_FAULT_CYCLES` (kill cycles per process, default 10) and
`LEDGER_SOAK_SECONDS` (soak length, default 30).
"""

from __future__ import annotations

import os

import pytest

FAULT_CYCLES = int(os.environ.get("LEDGER_FAULT_CYCLES", "10"))
SOAK_SECONDS = float(os.environ.get("LEDGER_SOAK_SECONDS", "30"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/fault/" in str(item.fspath):
            item.add_marker(pytest.mark.fault)
