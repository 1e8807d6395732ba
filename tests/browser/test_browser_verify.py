"""The verification page in a real browser: Debian's Chromium driven by Playwright.

Skipped, with the reason, where /usr/bin/chromium is not installed (CI installs it).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from test_baking import small_png

from issuer import baking


def test_uploading_a_baked_png_shows_it_is_genuine(
    page: Any, issued: dict[str, Any], tmp_path: Path
) -> None:
    badge = tmp_path / "badge.png"
    badge.write_bytes(baking.bake_png(small_png(), json.dumps(issued["credential"])))
    page.goto("/verify")
    page.get_by_label("Badge image or credential file").set_input_files(str(badge))
    page.get_by_label("Earner's e-mail address (optional)").fill("grace.hopper@example.org")
    page.get_by_role("button", name="Check the badge").click()
    verdict = page.locator("[data-verdict]")
    assert verdict.get_attribute("data-verdict") == "verified"
    assert "Genuine." in verdict.inner_text()
    assert "Example Training Board" in page.locator(".summary").inner_text()
    assert "Grace Hopper" in page.locator(".summary").inner_text()
    rows = page.locator("table.checks tbody tr")
    assert rows.count() == 7
    assert "Failed" not in page.locator("table.checks").inner_text()


def test_pasting_a_tampered_credential_shows_the_failure(page: Any, issued: dict[str, Any]) -> None:
    tampered = copy.deepcopy(issued["credential"])
    tampered["credentialSubject"]["achievement"]["name"] = "Advanced (really)"
    page.goto("/verify")
    page.get_by_label("Or paste the credential").fill(json.dumps(tampered))
    page.get_by_role("button", name="Check the badge").click()
    verdict = page.locator("[data-verdict]")
    assert verdict.get_attribute("data-verdict") == "not-verified"
    text = verdict.inner_text()
    assert "Not verified." in text
    assert "signature does not match" in text
    # The code is for engineers: not in the sentence, but one click away.
    assert "signature_invalid" not in text
    page.get_by_text("Technical details").first.click()
    assert "signature_invalid" in page.locator("details.tech").first.inner_text()
    signature_row = page.locator("table.checks tbody tr", has_text="Signature")
    assert "Failed" in signature_row.inner_text()
