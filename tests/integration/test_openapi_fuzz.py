"""schemathesis against the app's own OpenAPI schema, through a real server (bounded run).

Every default check runs except two that contradict the contract on purpose:
`positive_data_acceptance` (schema-valid bodies are still refused with 422 by
the rules: occurred_at windows, unknown ids in the body) and `ignored_auth`
on the operator-only tenant endpoint. See docs/decisions/0004.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.integration.http_server import create_tenant, running_server


def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path: Path) -> None:
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert executable, "schemathesis is a test dependency"
    # A body too large for any field is refused with 413 before it is read: a rejection.
    (tmp_path / "schemathesis.toml").write_text(
        "[checks.negative_data_rejection]\n"
        'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", '
        '"422", "428", "429"]\n'
    )
    with running_server(tmp_path / "data") as url:
        key = create_tenant(url, "fuzz")
        run = subprocess.run(
            [
                executable,
                "run",
                f"{url}/openapi.json",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance,ignored_auth",
                "-H",
                f"Authorization: Bearer {key}",
                "--max-examples",
                "15",
                "--generation-deterministic",
                "--request-timeout",
                "20",
            ],
            capture_output=True,
            check=False,
            text=True,
            timeout=900,
            cwd=tmp_path,
        )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
