"""A real browser for page tests: Debian's Chromium driven by Playwright.

Skipped, with the reason, where /usr/bin/chromium is not installed (.ci/run installs it).
Every page is guarded: a request for anything but the test server on 127.0.0.1 is
aborted and fails the test, so a page that would reach the internet cannot pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Headless, as root, and with everything Chromium would fetch on its own switched off
# (updates, safe browsing, translation, metrics), so the only traffic is the page's.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--metrics-recording-only",
    "--no-default-browser-check",
    "--no-first-run",
    "--no-pings",
]
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A fresh browser context on the live server; fails if it reached anything else, or if
    the Content-Security-Policy blocked anything a page of ours asked for."""
    outside: list[str] = []
    blocked: list[str] = []
    context = browser.new_context(base_url=live_server, viewport=DESKTOP, accept_downloads=True)

    def guard(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    opened = context.new_page()
    opened.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    opened.set_default_timeout(20_000)
    yield opened
    context.close()
    assert outside == [], f"the browser tried to reach: {outside}"
    assert blocked == [], f"the page's own Content-Security-Policy blocked: {blocked}"
