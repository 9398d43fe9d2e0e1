"""The API's documentation pages render in a real browser with no network beyond the machine.

``saqta serve`` runs as a process on a loopback port; Debian's Chromium opens ``/docs`` and
``/redoc`` with every request to another host aborted. Before the assets were served by Saqta
itself, both pages asked a public CDN for their scripts and stayed blank.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from browser_support import OfflinePage
from saqta.api import docs
from saqta.api.app import create_app
from saqta.mshi.eligibility import build_index, default_index_root
from server_support import live_server
from test_mshi_eligibility import SampleLake

ELIGIBILITY_PATH = "/v1/eligibility/{iin}"
FHIR_PATH = "/fhir/CoverageEligibilityRequest/$check"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("docs-server")
    lake = SampleLake(folder / "lake").write()
    build_index(lake.root)
    with live_server(default_index_root(lake.root), folder / "home") as live:
        yield live.url


def _assert_stayed_local(offline: OfflinePage, url: str) -> None:
    assert offline.blocked == [], "requests that would have left the machine"
    assert offline.outside() == []
    assert offline.errors == [], "JavaScript errors"
    assert any(request.startswith(f"{url}/docs/static/") for request in offline.requested)


def test_swagger_ui_renders_the_operations_offline(server: str, offline: OfflinePage) -> None:
    page = offline.page
    response = page.goto(f"{server}/docs", wait_until="networkidle")
    assert response is not None and response.status == 200
    # Deprecated operations (the GET with the IIN in the URL) carry their own class.
    summaries = page.locator(".opblock-summary-path, .opblock-summary-path__deprecated")
    summaries.first.wait_for(state="visible", timeout=30_000)
    paths = summaries.evaluate_all("nodes => nodes.map(node => node.dataset.path)")
    assert ELIGIBILITY_PATH in paths
    assert "/v1/eligibility" in paths
    assert FHIR_PATH in paths
    assert "Saqta eligibility API" in page.locator(".info .title").first.inner_text()
    _assert_stayed_local(offline, server)


def test_swagger_ui_shows_the_iin_pattern(server: str, offline: OfflinePage) -> None:
    page = offline.page
    page.goto(f"{server}/docs", wait_until="networkidle")
    operation = page.locator(f'[data-path="{ELIGIBILITY_PATH}"]')
    operation.click()
    parameters = page.locator(".parameters")
    parameters.first.wait_for(state="visible", timeout=30_000)
    assert "^[0-9]{12}$" in parameters.first.inner_text()
    _assert_stayed_local(offline, server)


def test_redoc_renders_offline(server: str, offline: OfflinePage) -> None:
    page = offline.page
    response = page.goto(f"{server}/redoc", wait_until="networkidle")
    assert response is not None and response.status == 200
    heading = page.get_by_role("heading", name="Is this person insured on this day?")
    heading.first.wait_for(state="visible", timeout=30_000)
    assert page.get_by_text(FHIR_PATH).count() >= 1
    _assert_stayed_local(offline, server)


def test_docs_pages_name_no_outside_host(server: str) -> None:
    """The HTML itself points only at this server (no CDN, no web fonts)."""
    import httpx

    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{server}{page}").text
        assert "cdn.jsdelivr.net" not in html and "fonts.googleapis.com" not in html, page
        assert "/docs/static/" in html, page
        policy = httpx.get(f"{server}{page}").headers["content-security-policy"]
        assert "default-src 'self'" in policy, page
    for asset in (
        "swagger-ui/swagger-ui-bundle.js",
        "swagger-ui/swagger-ui.css",
        "swagger-ui/LICENSE",
        "redoc/redoc.standalone.js",
        "redoc/LICENSE",
    ):
        assert httpx.get(f"{server}/docs/static/{asset}").status_code == 200, asset


def test_install_refuses_an_application_with_the_cdn_pages() -> None:
    with pytest.raises(ValueError, match="docs_url=None"):
        docs.install(FastAPI())


def test_the_documentation_routes_are_the_only_ones_outside_the_api(tmp_path) -> None:
    """What an access policy must let through as public: the pages, the assets, the schema."""
    from saqta.store.db import make_engine, upgrade
    from test_api_eligibility import make_access

    lake = SampleLake(tmp_path / "lake").write()
    build_index(lake.root)
    engine = make_engine(f"sqlite:///{tmp_path / 'saqta.db'}")
    upgrade(engine)
    access = make_access(engine, tmp_path)
    try:
        app = create_app(default_index_root(lake.root), access)
        outside_api = {route.path for route in app.routes if not isinstance(route, APIRoute)}
        assert outside_api == docs.routes(app) | {"/openapi.json"}
    finally:
        access.close()
        engine.dispose()
