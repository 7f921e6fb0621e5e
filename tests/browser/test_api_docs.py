"""Swagger UI and ReDoc render under their own strict headers and cannot be framed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.conftest import Demo

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize(("path", "rendered"), [("/docs", ".opblock"), ("/redoc", "h1")])
def test_the_api_docs_render_under_their_csp(
    page: Any, demo: Demo, path: str, rendered: str
) -> None:
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(demo.url + path)
    page.locator(rendered).first.wait_for(timeout=30_000)
    assert page.locator(rendered).count() > 0
    # Only what comes from elsewhere is refused (ReDoc's logo from its CDN): the page's own
    # script, styles and worker all run.
    ours = [m for m in refused if "inline" in m or demo.url in m or "blob:" in m]
    assert ours == [], refused


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_the_api_docs_cannot_be_framed_and_run_no_foreign_script(demo: Demo, path: str) -> None:
    answer = httpx.get(demo.url + path)
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert answer.headers["x-frame-options"] == "DENY"
    assert int(answer.headers["content-length"]) == len(answer.content)
