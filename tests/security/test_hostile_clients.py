"""A hostile client: malformed credentials, guessing, oversized and invisible input.

Every refusal is a problem document, never a 500, and records nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from ledger.config import Settings
from tests.integration.http_server import OPERATOR_TOKEN, create_tenant, running_server, store_head
from tests.integration.test_http_api import Api
from tests.support import process_env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("hostile")) as url:
        yield url


@pytest.fixture(scope="module")
def api(server: str) -> Api:
    admin = Api(server, create_tenant(server, "hostile"))
    admin.ok("/v1/values", {"key": "care", "name": "Care"})
    admin.ok("/v1/members", {"member_id": "ana", "display_name": "Ana", "team": "t"})
    return admin


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer \xe9",
        "Bearer lk_\u00e9\u00e9",
        "Bearer",
        "Basic abc",
        "Bearer a b",
        "bearer x y",
        "Bearer " + "x" * 5000,
    ],
)
def test_malformed_credentials_are_401_with_a_challenge(server: str, authorization: str) -> None:
    for method, path in (("post", "/v1/tenants"), ("get", "/v1/leaderboard")):
        answer = httpx.request(
            method,
            f"{server}{path}",
            headers={"Authorization": authorization.encode("latin-1")},
            json={"tenant_id": "x", "name": "x"},
        )
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.headers["www-authenticate"].startswith("Bearer")


def guesses(url: str, count: int, **headers: str) -> list[int]:
    return [
        httpx.get(
            f"{url}/v1/leaderboard", headers={"Authorization": f"Bearer lk_guess{i}", **headers}
        ).status_code
        for i in range(count)
    ]


def test_a_guesser_is_slowed_but_its_neighbours_behind_one_address_are_not(
    tmp_path: Path,
) -> None:
    # Two clients behind one NAT (both 127.0.0.1): a guesser, and a company with its keys.
    with running_server(tmp_path, rate_limit=100, auth_failure_rate=0.5, operator_rate=2) as url:
        admin_key = create_tenant(url, "neighbour")
        # 0.5 failures/s: 5 free tries, then one every 2 s.
        statuses = guesses(url, 20)
        assert statuses[:5] == [401] * 5 and statuses[-1] == 429, statuses
        assert statuses.count(429) >= 10, statuses
        # Right away (no time to earn a try back, however loaded the machine): the
        # guesser stays slowed, whatever it sends.
        throttled = httpx.get(f"{url}/v1/leaderboard")  # no key at all: a failure too
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
        wrong_operator = httpx.post(
            f"{url}/v1/tenants",
            json={"tenant_id": "t2", "name": "T"},
            headers={"Authorization": "Bearer op_not-the-operator-token-at-all"},
        )
        assert wrong_operator.status_code == 429
        # The neighbour's valid keys and the operator's token are answered as usual.
        keyed = {"Authorization": f"Bearer {admin_key}"}
        for _ in range(5):
            assert httpx.get(f"{url}/v1/leaderboard", headers=keyed).status_code == 200
        tenant = httpx.post(
            f"{url}/v1/tenants",
            json={"tenant_id": "t1", "name": "T"},
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
        assert tenant.status_code == 201, tenant.text


def test_x_forwarded_for_is_believed_only_from_trusted_proxies(tmp_path: Path) -> None:
    # Nobody is trusted by default: a caller cannot pick the address it is counted as.
    with running_server(tmp_path / "a", auth_failure_rate=0.5) as url:
        assert guesses(url, 12, **{"X-Forwarded-For": "10.9.9.1"})[-1] == 429
        assert guesses(url, 1, **{"X-Forwarded-For": "10.9.9.2"}) == [429]
    # Behind a trusted proxy (127.0.0.1 here), each forwarded client has its own count.
    with running_server(tmp_path / "b", auth_failure_rate=0.5, trusted_proxies="127.0.0.1") as url:
        assert guesses(url, 12, **{"X-Forwarded-For": "10.9.9.1"})[-1] == 429
        assert guesses(url, 1, **{"X-Forwarded-For": "10.9.9.2"}) == [401]


def test_the_operator_token_has_its_own_pace_whoever_else_shares_its_address(
    tmp_path: Path,
) -> None:
    with running_server(tmp_path, operator_rate=1) as url:
        statuses = [
            httpx.post(
                f"{url}/v1/tenants",
                json={"tenant_id": f"t{i}", "name": "T"},
                headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            ).status_code
            for i in range(40)
        ]
        assert statuses[:10] == [201] * 10 and 429 in statuses


def test_a_short_operator_token_is_refused_at_start() -> None:
    with pytest.raises(ValidationError):
        Settings(operator_token="op_test", _env_file=None)  # type: ignore[call-arg]
    assert "op_" not in repr(Settings(operator_token="op_" + "x" * 30, _env_file=None))  # type: ignore[call-arg]


def test_a_rejected_secret_is_named_in_one_line_never_echoed(tmp_path: Path) -> None:
    secret = "op_tooshort-9f8e7d"
    refused = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "serve", "--data-dir", str(tmp_path)],
        env=process_env(LEDGER_OPERATOR_TOKEN=secret, COLUMNS="300"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = refused.stdout + refused.stderr
    assert refused.returncode == 2, output
    assert "LEDGER_OPERATOR_TOKEN" in output and "24" in output
    assert secret not in output and str(len(secret)) not in output, output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/v1/values", {"key": "a1", "name": "A"}, {"X-Correlation-Id": "x" * 8_000}),
        (
            "/v1/values",
            {"key": "a2", "name": "A"},
            {"X-Correlation-Id": "<script>alert(1)</script>"},
        ),
        ("/v1/values", {"key": "a3", "name": "A"}, {"Idempotency-Key": "k" * 201}),
        ("/v1/values", {"key": "a4", "name": "A\x1b[31mred"}, {}),
        ("/v1/values", {"key": "a5", "name": "evil\u202egnp.exe"}, {}),
        ("/v1/values", {"key": "a6", "name": "nul\x00byte"}, {}),
        ("/v1/values", {"key": "a7", "name": "line\r\nbreak"}, {}),
        ("/v1/values", {"key": "a8", "name": "A" + " " * 300}, {}),
        ("/v1/api-keys", {"role": "service", "label": "x\u200bhidden"}, {}),
        # Issue 17: what a deny list let through; the policy decides by category now.
        ("/v1/values", {"key": "b1", "name": "bidi\u061cmark"}, {}),
        ("/v1/values", {"key": "b2", "name": "soft\u00adhyphen"}, {}),
        ("/v1/values", {"key": "b3", "name": "tag\U000e0041"}, {}),
        ("/v1/values", {"key": "b4", "name": "filler\u3164"}, {}),
        ("/v1/values", {"key": "b5", "name": "note\ufff9x\ufffb"}, {}),
        ("/v1/values", {"key": "b6", "name": "\ufe0e\ufe0fselectors"}, {}),
        ("/v1/values", {"key": "b7", "name": "zalgo" + "\u0301" * 150}, {}),
        ("/v1/values", {"key": "b8", "name": "private\ue000"}, {}),
        (
            "/v1/members",
            {"member_id": "m1", "display_name": "M", "team": "t", "email": "a@b.c\n"},
            {},
        ),
        (
            "/v1/recognitions",
            {
                "from_member": "ana",
                "to_member": "ana",
                "value": "care",
                "points": 1,
                "message": "hi\x07",
            },
            {},
        ),
    ],
)
def test_input_beyond_bounds_or_with_control_characters_is_422_and_records_nothing(
    api: Api, path: str, body: dict[str, object], headers: dict[str, str]
) -> None:
    before = store_head(api.url)
    answer = api.post(path, body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert "<script>" not in answer.text
    assert store_head(api.url) == before


def test_host_dependent_or_conflicting_timezones_are_refused(server: str) -> None:
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    for body in (
        {"tenant_id": "tz1", "name": "T", "timezone": "localtime"},
        {"tenant_id": "tz2", "name": "T", "timezone": "posix/Europe/Paris"},
        {
            "tenant_id": "tz3",
            "name": "T",
            "timezone": "UTC",
            "settings": {"timezone": "Europe/Stockholm"},
        },
    ):
        answer = httpx.post(f"{server}/v1/tenants", json=body, headers=operator)
        assert answer.status_code == 422, (body, answer.text)


def test_query_parameters_are_as_strict_as_commands(api: Api) -> None:
    assert api.get("/v1/leaderboard", as_of="2026-01-01T00:00:00").status_code == 422
    assert api.get("/v1/leaderboard", as_of="2026-01-01T00:00:00Z").status_code == 200
    assert api.get("/v1/leaderboard", period="campaign").status_code == 422


def test_answers_are_not_cached_or_sniffed(api: Api) -> None:
    for answer in (
        api.post("/v1/api-keys", {"role": "analyst", "label": "a"}),
        api.get("/v1/members/ana/points"),
        api.get("/v1/leaderboard", period="nope"),
    ):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_healthz_does_not_reveal_the_event_count(server: str) -> None:
    assert set(httpx.get(f"{server}/healthz").json()) == {"status", "projections"}


def test_docs_load_nothing_from_another_host(server: str) -> None:
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{server}{page}").text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
        assert sources, html
        assert all(s.startswith("/") for s in sources), sources
        for source in sources:
            assert httpx.get(f"{server}{source}").status_code == 200, source


def test_deep_json_huge_pages_and_long_date_ranges_are_refused(api: Api) -> None:
    deep = "[" * 5_000 + "]" * 5_000
    answer = api.client.post(
        "/v1/values",
        content='{"key": "d", "name": ' + deep + "}",
        headers={"content-type": "application/json"},
    )
    assert answer.status_code in (400, 422), answer.text
    assert api.get("/v1/leaderboard", limit=1001).status_code == 422
    assert api.get("/v1/events", limit=100_000).status_code == 422
    assert api.get("/v1/heatmap", **{"from": "2001-01-01", "to": "2026-01-01"}).status_code == 422
    assert api.get("/v1/heatmap", **{"from": "2026-02-01", "to": "2026-01-01"}).status_code == 422
    assert api.get("/v1/heatmap", **{"from": "2025-01-01", "to": "2026-01-01"}).status_code == 200


def test_names_in_any_script_and_messages_with_emoji_are_accepted(api: Api) -> None:
    api.ok("/v1/values", {"key": "zoe", "name": "Zoë Ångström, Tiếng Việt, שָׁלוֹם"})
    api.ok("/v1/members", {"member_id": "bo", "display_name": "Bo", "team": "t"})
    given = api.ok(
        "/v1/recognitions",
        {
            "from_member": "ana",
            "to_member": "bo",
            "value": "care",
            "points": 1,
            "message": "Thanks ❤️ 👩\u200d💻 👍🏽",
        },
    )
    assert given["points"] == 1
