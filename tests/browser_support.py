"""A real browser for tests: Debian's Chromium driven by Playwright, with the network cut off.

The browser is the system's ``/usr/bin/chromium`` (``scripts/setup`` installs it); Playwright's
own browser downloads are never used. :func:`open_offline_page` opens a page whose every request
to a host other than the loopback address is aborted and recorded, so a test can assert both that
the page works offline and that nothing it sent was meant to leave the machine.

Fixtures (``tests/conftest.py`` registers this module as a plugin):

- ``chromium`` (session): the launched browser; a test FAILS when Chromium is missing.
- ``offline`` (function): an :class:`OfflinePage` in a fresh browser context.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Request,
    Route,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

LOCAL_HOSTS = frozenset({"127.0.0.1"})
"""The only hosts an offline page may reach."""

LOCAL_SCHEMES = frozenset({"data", "blob", "about"})
"""Schemes that never touch the network."""

CSP_FAILURES = frozenset({"csp", "net::ERR_BLOCKED_BY_CSP"})
"""How Playwright reports a request that the page's Content-Security-Policy refused."""


@dataclass
class OfflinePage:
    """A page in a context that lets requests reach only :data:`LOCAL_HOSTS`."""

    context: BrowserContext
    page: Page
    requested: list[str] = field(default_factory=list)
    """Every URL the page asked for, in order."""
    blocked: list[str] = field(default_factory=list)
    """The URLs aborted because they would have left the machine."""
    refused: list[str] = field(default_factory=list)
    """The URLs the browser itself refused to fetch under the page's Content-Security-Policy."""
    errors: list[str] = field(default_factory=list)
    """Uncaught JavaScript errors of the page."""

    def outside(self) -> list[str]:
        """The requested URLs whose host is not local, less those the page's policy refused.

        Playwright reports a request that the Content-Security-Policy refuses (Chromium never
        sends it) as a request that failed with ``csp``.
        """
        return [url for url in self.requested if not is_local(url) and url not in self.refused]


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless; fails the test with the way out when it is not installed."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's chromium package "
            "(./scripts/setup installs it as root; or apt-get install chromium)",
            pytrace=False,
        )
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


def open_offline_page(browser: Browser) -> OfflinePage:
    """A fresh context and page whose requests beyond the loopback address are aborted."""
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    offline = OfflinePage(context, page)

    def guard(route: Route) -> None:
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            offline.blocked.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", guard)
    context.on("request", lambda request: offline.requested.append(request.url))
    page.on("pageerror", lambda error: offline.errors.append(str(error)))

    def failed(request: Request) -> None:
        if request.failure in CSP_FAILURES:
            offline.refused.append(request.url)

    context.on("requestfailed", failed)
    return offline


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def offline(chromium: Browser) -> Iterator[OfflinePage]:
    page = open_offline_page(chromium)
    try:
        yield page
    finally:
        page.context.close()
