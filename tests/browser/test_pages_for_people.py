"""Every page a person sees, at a phone's width (390 px) and a desktop's (1280 px): no
serious or critical axe violation, no page wider than the window, a focus ring of at
least 3:1 against what is behind it, and the colour contrast axe left undecided computed
from the rendered styles. Then what each page must say (issue 13), tried in the browser."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from assess_helpers import ACHIEVEMENT, Account, make_account
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import expect
from test_baking import small_png

from issuer import baking

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}

# The relative luminance contrast of two CSS colours, and each element's effective
# background (the first ancestor with an opaque one), as WCAG 2 defines them.
CONTRAST_JS = """
() => {
  function rgb(text) { const m = text.match(/[\\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; }
  function luminance(c) {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function ratio(a, b) {
    const x = luminance(a), y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  function background(element) {
    for (let e = element; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0.5) return c;
    }
    return [255, 255, 255, 1];
  }
  window.__contrast = { rgb, ratio, background };
}
"""

FOCUS_JS = """
() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const { rgb, ratio, background } = window.__contrast;
  const name = (e.textContent || '').trim().slice(0, 30);
  return { tag: e.tagName + (e.id ? '#' + e.id : '') + ' ' + name,
           style: s.outlineStyle, width: parseFloat(s.outlineWidth),
           contrast: ratio(rgb(s.outlineColor), background(e.parentElement || e)) };
}
"""

TEXT_CONTRAST_JS = """
(selectors) => {
  const { rgb, ratio, background } = window.__contrast;
  return selectors.map(selector => {
    const e = document.querySelector(selector);
    if (!e) return null;
    const s = getComputedStyle(e);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    return { selector, contrast: ratio(rgb(s.color), background(e)), needed: large ? 3 : 4.5 };
  });
}
"""


def check_page(page: Any, width: int, *, tabs: int = 25) -> None:
    """The checks every page must pass at ``width``."""
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    results = axe.run(page).response
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], page.url
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url
    page.evaluate(CONTRAST_JS)
    undecided = [
        node["target"][0]
        for item in results["incomplete"]
        if item["id"] == "color-contrast"
        for node in item["nodes"]
        if isinstance(node["target"][0], str)
    ]
    for found in page.evaluate(TEXT_CONTRAST_JS, undecided):
        if found is not None:
            assert found["contrast"] >= found["needed"], (page.url, found)
    page.locator("body").focus()
    seen = 0
    for _ in range(tabs):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_JS)
        if ring is None:
            continue
        seen += 1
        assert ring["style"] != "none" and ring["width"] >= 2, (page.url, ring)
        assert ring["contrast"] >= 3, (page.url, ring)
    assert seen, f"nothing on {page.url} takes the keyboard focus"
    assert (
        page.get_by_role("navigation", name="Site")
        .get_by_role("link", name="Check a badge")
        .is_visible()
    )


@pytest.fixture
def credential(client: FlaskClient, assessor_token: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/awards",
        json={
            "achievement": ACHIEVEMENT,
            "recipient": {"email": "grace@example.org", "name": "Grace Hopper"},
            "evidence": [{"name": "Ticket log", "url": "https://evidence.example.org/1"}],
            "validUntil": "2031-03-31T00:00:00Z",
        },
        headers={"Authorization": f"Bearer {assessor_token}"},
    )
    assert response.status_code == 201
    result: dict[str, Any] = response.get_json()
    return result


@pytest.fixture
def admin(app: Flask) -> Account:
    return make_account(app, "admin@example.org", is_admin=True)


def sign_in(page: Any, account: Account) -> None:
    page.goto("/assess/login")
    page.get_by_label("E-mail address").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("size", WIDTHS)
def test_public_pages(page: Any, credential: dict[str, Any], size: str) -> None:
    page.set_viewport_size(WIDTHS[size])
    width = WIDTHS[size]["width"]
    for path in (
        "/",
        "/verify",
        "/issuer",
        f"/achievements/{ACHIEVEMENT}",
        f"/credentials/{credential['id']}",
        "/assess/login",
    ):
        response = page.goto(path)
        assert response.status == 200, path
        check_page(page, width)
    page.goto("/")
    main = page.locator("main").inner_text()
    for who in ("Earners:", "Employers:", "Assessors:"):
        assert who in main
    page.goto("/assess/login")
    text = page.locator("main").inner_text()
    assert "For assessors" in text and "Forgot your password?" in text


@pytest.mark.parametrize("size", WIDTHS)
def test_the_verify_result_reads_at_a_glance(
    page: Any, credential: dict[str, Any], tmp_path: Path, size: str
) -> None:
    page.set_viewport_size(WIDTHS[size])
    width = WIDTHS[size]["width"]
    badge = tmp_path / "ux3_cred.png"
    badge.write_bytes(baking.bake_png(small_png(), credential["jwt"]))
    tampered = copy.deepcopy(credential["credential"])
    tampered["credentialSubject"]["achievement"]["name"] = "Advanced (really)"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(tampered))
    page.goto("/verify")
    page.get_by_label("Badge image or credential file").set_input_files([str(badge), str(forged)])
    page.get_by_role("button", name="Check the badge").click()
    page.wait_for_load_state()
    check_page(page, width)
    assert "2 badges checked: 1 genuine" in page.locator("[data-summary]").inner_text()
    name = credential["credential"]["credentialSubject"]["achievement"]["name"]
    good, bad = page.locator("article.report").all()
    assert good.get_by_role("heading", level=2).inner_text() == name
    assert "31 March 2031" in good.locator(".summary").inner_text()
    assert "T00:00:00Z" not in good.inner_text()
    assert bad.get_by_role("heading", level=3).inner_text() == "What the badge claims"
    assert "signature_invalid" not in bad.locator("[data-verdict]").inner_text()
    # The e-mail is checked next to "Awarded to", against the same badge, with no upload.
    good.get_by_label("Check the earner's e-mail address").fill("grace@example.org")
    good.get_by_role("button", name="Check e-mail").click()
    page.wait_for_load_state()
    result = page.locator("[data-email-match]")
    assert result.get_attribute("data-email-match") == "pass"
    assert "Yes: grace@example.org is the e-mail address" in result.inner_text()
    assert "ux3_cred.png" in page.locator("article.report").inner_text()
    check_page(page, width)


@pytest.mark.parametrize("size", WIDTHS)
def test_sharing_from_the_credential_page(
    page: Any, client: FlaskClient, credential: dict[str, Any], size: str
) -> None:
    page.set_viewport_size(WIDTHS[size])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"/credentials/{credential['id']}")
    for label in ("Add to LinkedIn profile", "LinkedIn post", "X", "Facebook", "E-mail"):
        assert page.get_by_role("link", name=label, exact=False).first.is_visible(), label
    page.get_by_label("Size").select_option("200")
    expect(page.locator("#embed-preview img")).to_have_attribute("width", "200")
    assert 'width="200"' in page.locator("#embed-code").input_value()
    page.get_by_role("button", name="Copy HTML").click()
    expect(page.locator("#embed-status")).to_have_text("HTML copied.")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Certificate (PDF)").click()
    pdf = Path(download_info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[size]["width"]


@pytest.mark.parametrize("size", WIDTHS)
def test_the_workspace(page: Any, app: Flask, admin: Account, size: str) -> None:
    page.set_viewport_size(WIDTHS[size])
    width = WIDTHS[size]["width"]
    sign_in(page, admin)
    for path in ("/assess/", "/assess/issued", "/assess/admin/audit", "/assess/account"):
        page.goto(path)
        check_page(page, width)
    page.goto(f"/assess/award?achievement={ACHIEVEMENT}")
    check_page(page, width, tabs=10)
    page.get_by_label("Name").fill("Grace Hopper")
    page.get_by_label("E-mail address").fill("grace@example.org")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    check_page(page, width, tabs=10)
    assert page.locator("#statement-1").count() == 0
    page.get_by_role("button", name="Award", exact=True).click()
    page.wait_for_load_state()
    page.goto("/assess/issued")
    row = page.locator("table.awards tbody tr").first
    assert not row.get_by_label("Reason to revoke").is_visible()
    row.get_by_text("Revoke…").click()
    assert "permanent" in row.inner_text()
    check_page(page, width, tabs=10)
