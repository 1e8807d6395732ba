"""The assessors' workspace in a real browser: Debian's Chromium driven by Playwright.

Skipped, with the reason, where /usr/bin/chromium is not installed (CI installs it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from assess_helpers import ACHIEVEMENT, Account, issued_count, make_account
from flask import Flask

CSV = (
    "name,email,level,statements,evidence_narrative,evidence_url,valid_until\n"
    "Alan Turing,alan@example.org,Proficient,,Built a bombe,https://example.org/b,\n"
    "Ada Lovelace,ada.l@example.org,Proficient,1;2;3;4;5;6;7;8;9;10,,,\n"
    "Nobody,nobody@example.org,Wizard,,,,\n"
    "Bad Mail,not-an-address,Proficient,,,,\n"
)


@pytest.fixture
def assessor(app: Flask) -> Account:
    return make_account(app, "assessor@example.org", levels=(ACHIEVEMENT,))


def sign_in(page: Any, account: Account, password: str | None = None) -> None:
    page.goto("/assess/login")
    page.get_by_label("E-mail address").fill(account.email)
    page.get_by_label("Password").fill(password or account.password)
    page.get_by_role("button", name="Sign in").click()


def test_award_bulk_and_revoke(app: Flask, page: Any, assessor: Account, tmp_path: Path) -> None:
    sign_in(page, assessor)
    assert page.get_by_role("heading", name="Hello, Assessor").is_visible()

    page.goto(f"/assess/award?achievement={ACHIEVEMENT}")
    page.get_by_label("Name").fill("Grace Hopper")
    page.get_by_label("E-mail address").fill("grace@example.org")
    page.locator("#statement-9").uncheck()
    page.locator("#statement-10").uncheck()
    page.get_by_role("button", name="Award", exact=True).click()
    summary = page.locator("#error-summary")
    assert "requires 10 of its 10 statements" in summary.inner_text()
    assert issued_count(app) == 0

    page.locator("#statement-9").check()
    page.locator("#statement-10").check()
    page.get_by_role("button", name="Award", exact=True).click()
    assert page.get_by_role("heading", name="Awarded").is_visible()
    assert "/credentials/" in (page.locator("#credential-link").get_attribute("href") or "")
    assert issued_count(app) == 1

    upload = tmp_path / "awards.csv"
    upload.write_text(CSV, encoding="utf-8")
    page.goto("/assess/bulk")
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Check the file").click()
    problems = page.locator("table.problems").inner_text()
    assert "There is no level “Wizard”." in problems
    assert "The e-mail address is not valid." in problems
    assert issued_count(app) == 1
    page.get_by_role("button", name="Issue 2 credentials").click()
    page.get_by_role("heading", name="Done").wait_for()
    assert "2 issued" in page.locator("#progress-text").inner_text()
    assert issued_count(app) == 3

    page.goto("/assess/bulk")
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Check the file").click()
    assert (
        "alan@example.org already holds this badge." in page.locator("table.problems").inner_text()
    )
    assert page.get_by_text("Nothing to issue.").is_visible()
    assert issued_count(app) == 1 + 2

    page.goto("/assess/issued?q=grace")
    row = page.locator("table.awards tbody tr").first
    assert row.locator("td.status").inner_text().strip() == "Active"
    row.get_by_text("Revoke…").click()
    row.get_by_label("Reason to revoke").fill("Awarded to the wrong person")
    row.get_by_label("I understand this cannot be undone").check()
    row.get_by_role("button", name="Revoke permanently").click()
    assert "is revoked" in page.locator("p.notice").inner_text()
    status = page.locator("table.awards tbody tr").first.locator("td.status").inner_text()
    assert status.startswith("Revoked") and "Awarded to the wrong person" in status


def test_sign_in_is_throttled_after_repeated_failures(page: Any, assessor: Account) -> None:
    for _ in range(5):
        sign_in(page, assessor, password="not the password")
        assert "not right" in page.locator("#error-summary").inner_text()
    sign_in(page, assessor)
    assert "Too many failed sign-ins" in page.locator("#error-summary").inner_text()


def test_a_cross_site_form_post_is_refused(
    app: Flask, page: Any, assessor: Account, live_server: str
) -> None:
    sign_in(page, assessor)
    attack = f"""<!doctype html><form method="post" action="{live_server}/assess/award">
      <input name="achievement" value="{ACHIEVEMENT}"><input name="email" value="x@example.org">
      <input name="action" value="award"></form>
      <script>document.forms[0].submit()</script>"""
    page.route(
        "https://evil.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=attack),
    )
    with page.expect_navigation(url=f"{live_server}/assess/award"):
        page.goto("https://evil.example/")
    assert "Bad Request" in page.content()
    assert issued_count(app) == 0
