"""A tenant admin must not make the ledger call the operator's network (server-side
request forgery): webhook URLs are https to public addresses, unless the operator
allows otherwise (LEDGER_WEBHOOK_ALLOW_PRIVATE, tests and development)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.errors import Invalid
from ledger.webhooks.urls import check_url
from tests.integration.http_server import create_tenant, running_server, store_head
from tests.integration.test_http_api import Api

REFUSED = [
    "http://hooks.example.com/x",  # not https
    "https://127.0.0.1/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.9/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",  # a cloud's metadata service
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://100.64.0.1/hook",  # shared address space
    "https://0.0.0.0/hook",
    "https://localhost/hook",  # a name that resolves to a private address
    "https://user:secret@127.0.0.1/hook",
    "https://no-such-host.invalid/hook",
    "ftp://example.com/x",
]


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_server(tmp_path_factory.mktemp("hooks")) as url:
        yield Api(url, create_tenant(url, "acme"))


@pytest.mark.parametrize("url", REFUSED)
def test_a_url_to_a_private_address_or_not_https_is_refused_and_records_nothing(
    admin: Api, url: str
) -> None:
    before = store_head(admin.url)
    answer = admin.post("/v1/webhooks", {"url": url, "events": ["drift.alert.raised"]})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "url"
    assert "secret" not in answer.text
    assert store_head(admin.url) == before
    assert admin.get("/v1/webhooks").json()["webhooks"] == []


def test_unknown_event_names_and_other_roles_are_refused(admin: Api) -> None:
    body = {"url": "https://127.0.0.1/x", "events": ["behavior.recorded"]}
    assert admin.post("/v1/webhooks", body).status_code == 422
    analyst = admin.key_for("analyst")
    ok_body = {"url": "https://127.0.0.1/x", "events": ["drift.alert.raised"]}
    assert analyst.post("/v1/webhooks", ok_body).status_code == 403  # 403 before the URL's 422
    assert analyst.get("/v1/webhooks").status_code == 403


def test_with_private_addresses_allowed_a_webhook_is_registered_listed_and_deleted(
    tmp_path: Path,
) -> None:
    with running_server(tmp_path, webhook_allow_private=True) as url:
        admin = Api(url, create_tenant(url, "dev"))
        made = admin.ok(
            "/v1/webhooks",
            {
                "url": "http://127.0.0.1:9/hooks/T000/B000/secretpath",
                "events": ["drift.alert.raised"],
            },
        )
        assert made["secret"].startswith("whsec_") and "secretpath" not in str(made)
        listed = admin.get("/v1/webhooks").json()["webhooks"]
        assert [w["url"] for w in listed] == ["http://127.0.0.1:9/…"]
        again = admin.post("/v1/webhooks", {"url": "http://127.0.0.1:9/x", "events": []})
        assert again.status_code == 422
        path = f"/v1/webhooks/{made['webhook_id']}"
        assert admin.client.delete(path).status_code == 200
        assert admin.client.delete(path).status_code == 404
        assert admin.get("/v1/webhooks").json()["webhooks"] == []


def test_the_policy_checks_every_resolved_address() -> None:
    with pytest.raises(Invalid):
        check_url("https://localhost/x")
    check_url("http://localhost/x", allow_private=True)
