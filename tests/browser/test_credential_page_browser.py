"""The credential page in a real browser (Playwright driving Debian's Chromium).

Every request the browser makes is watched: anything that is not for the test server on
127.0.0.1 is aborted and fails the test, so the page provably needs nothing from outside.
Screenshots at phone and desktop widths go to build/screenshots/ for a person to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import expect

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
ACHIEVEMENT = "computer-user-support-specialists/proficient"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def credential(client: FlaskClient, assessor_token: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/awards",
        json={
            "achievement": ACHIEVEMENT,
            "recipient": {"email": "grace@example.org", "name": "Grace Hopper"},
            "evidence": [
                {
                    "name": "Help-desk ticket log",
                    "narrative": "Resolved 40 tickets in a week.",
                    "url": "https://evidence.example.org/tickets/1",
                }
            ],
            "validUntil": "2031-03-31T00:00:00Z",
        },
        headers={"Authorization": f"Bearer {assessor_token}"},
    )
    assert response.status_code == 201
    result: dict[str, Any] = response.get_json()
    return result


def serious(results: Any) -> list[str]:
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def test_the_page_shows_the_facts_and_verifies(
    page: Any, live_server: str, credential: dict[str, Any]
) -> None:
    response = page.goto(f"{live_server}/credentials/{credential['id']}")
    assert response.status == 200
    achievement = credential["credential"]["credentialSubject"]["achievement"]
    assert page.get_by_role("heading", level=1).inner_text() == achievement["name"]
    assert page.locator(".cp-earner").inner_text() == "Grace Hopper"
    status = page.get_by_role("status").first
    assert status.get_attribute("data-status") == "valid", page.locator("main").inner_text()
    assert "Valid" in status.inner_text()
    body = page.locator("main").inner_text()
    assert "Example Training Board" in body
    # Identifiers are one click away, not in the first view.
    assert "did:web:badges.example.test" not in body
    page.get_by_text("Technical details", exact=True).click()
    assert "did:web:badges.example.test" in page.locator("main").inner_text()
    assert "31 March 2031" in body
    assert "grace@example.org" not in page.content()
    assert page.get_by_role("img", name=achievement["image"]["caption"]).is_visible()

    page.get_by_text("Show each check").click()
    checks = page.locator(".cp-checks tbody tr")
    assert checks.count() >= 5
    assert all("Passed" in row for row in checks.all_inner_texts())

    page.get_by_role("button", name="Check it on the verification page").click()
    page.wait_for_load_state()
    assert page.locator("[data-verdict]").get_attribute("data-verdict") == "verified"


def test_the_copy_button_appears_with_javascript(
    page: Any, live_server: str, credential: dict[str, Any]
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{live_server}/credentials/{credential['id']}")
    button = page.get_by_role("button", name="Copy link")
    assert button.is_visible()
    button.click()
    # The status is written when the clipboard promise settles: wait for it, do not race it.
    expect(page.locator("#copy-status")).to_have_text("Link copied.")
    assert page.evaluate("navigator.clipboard.readText()").endswith(credential["id"])


def test_the_downloaded_png_verifies(
    page: Any, live_server: str, client: FlaskClient, credential: dict[str, Any]
) -> None:
    page.goto(f"{live_server}/credentials/{credential['id']}")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Badge image (PNG)").click()
    png = Path(download_info.value.path()).read_bytes()
    assert png.startswith(b"\x89PNG")
    report = client.post("/api/v1/verify", data=png, content_type="image/png").get_json()
    assert report["verified"] is True, report


def test_hiding_the_page_makes_it_and_its_files_404(
    page: Any, live_server: str, app: Flask, credential: dict[str, Any]
) -> None:
    settings = urlsplit(app.extensions["issuer"].earner.settings_url(credential["id"]))
    page.goto(f"{live_server}{settings.path}?{settings.query}")
    assert page.url == f"{live_server}{settings.path}"  # the token is no longer in the URL
    page.get_by_label("Hidden").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "now hidden" in page.get_by_role("status").inner_text()
    response = page.goto(f"{live_server}/credentials/{credential['id']}")
    assert response.status == 404
    assert "Grace Hopper" not in page.content()
    for path in (".json", ".jwt", ".png", ".svg"):
        hidden = page.request.get(f"{live_server}/credentials/{credential['id']}{path}")
        assert hidden.status == 404, path


def test_no_serious_accessibility_violations(
    page: Any, live_server: str, credential: dict[str, Any]
) -> None:
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    axe = axe_module.Axe()
    page.goto(f"{live_server}/credentials/{credential['id']}")
    page.get_by_text("Show each check").click()
    assert serious(axe.run(page)) == []
    page.goto(f"{live_server}/verify")
    assert serious(axe.run(page)) == []


@pytest.mark.parametrize(("name", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_screenshots(
    page: Any, live_server: str, credential: dict[str, Any], name: str, viewport: dict[str, int]
) -> None:
    page.set_viewport_size(viewport)
    page.goto(f"{live_server}/credentials/{credential['id']}")
    # Nothing may stick out sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"credential-{name}.png"), full_page=True)
    page.screenshot(path=str(SCREENSHOTS / f"credential-{name}-first-screen.png"))
