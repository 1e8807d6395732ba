"""The verification page as a person reads it: headed by the badge, dates in words, the
e-mail checked again against the same badge without a new upload, a failure set apart, and
one summary line for several files."""

from __future__ import annotations

import copy
import html
import io
import json
import re
from typing import Any

from flask.testing import FlaskClient
from test_baking import small_png

from issuer import baking


def _hidden_fields(page: str) -> dict[str, str]:
    form = page[page.index('<form class="email-check"') :]
    form = form[: form.index("</form>")]
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([a-z]+)" value="([^"]*)"', form)
    }


def test_the_result_is_headed_by_the_badge_with_dates_in_words(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    png = baking.bake_png(small_png(), issued["jwt"])
    page = client.post("/verify", data={"file": (io.BytesIO(png), "ux3_cred.png")}).get_data(
        as_text=True
    )
    name = issued["credential"]["credentialSubject"]["achievement"]["name"]
    assert re.search(r'<h2 id="report-1">' + re.escape(html.escape(name)), page)
    valid_from = issued["credential"]["validFrom"]
    assert f'<time datetime="{valid_from}" data-in-words>' in page
    first_view = page[: page.index('<details class="tech">')]
    assert valid_from not in first_view.replace(f'datetime="{valid_from}"', "")
    assert "did:web:" not in first_view
    assert valid_from in page[page.index('<details class="tech">') :]


def test_the_email_is_checked_again_without_a_new_upload(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    png = baking.bake_png(small_png(), issued["jwt"])
    page = client.post("/verify", data={"file": (io.BytesIO(png), "badge.png")}).get_data(
        as_text=True
    )
    again = _hidden_fields(page)
    assert again["credential"] == issued["jwt"] and again["source"] == "badge.png"
    right = client.post("/verify", data={**again, "email": "grace.hopper@example.org"})
    text = right.get_data(as_text=True)
    assert 'data-verdict="verified"' in text
    assert "Yes: grace.hopper@example.org is the e-mail address this badge was awarded to." in text
    assert "badge.png" in text
    wrong = client.post("/verify", data={**again, "email": "someone@example.org"})
    assert "No: someone@example.org is not the e-mail address" in wrong.get_data(as_text=True)


def test_a_json_credential_is_carried_as_its_json(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    upload = io.BytesIO(json.dumps(issued["credential"]).encode())
    page = client.post("/verify", data={"file": (upload, "c.json")}).get_data(as_text=True)
    again = _hidden_fields(page)
    assert json.loads(again["credential"]) == issued["credential"]
    recheck = client.post("/verify", data={**again, "email": "grace.hopper@example.org"})
    assert 'data-email-match="pass"' in recheck.get_data(as_text=True)


def test_a_failure_sets_the_claims_apart_and_a_batch_gets_one_line(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    tampered = copy.deepcopy(issued["credential"])
    tampered["credentialSubject"]["achievement"]["name"] = "Advanced (really)"
    page = client.post(
        "/verify",
        data={
            "file": [
                (io.BytesIO(json.dumps(issued["credential"]).encode()), "good.json"),
                (io.BytesIO(json.dumps(tampered).encode()), "bad.json"),
                (io.BytesIO(b"hello"), "junk.txt"),
            ]
        },
    ).get_data(as_text=True)
    assert "3 badges checked: 2 genuine" not in page
    assert re.search(r"3 badges checked: 1 genuine,\s+2 not verified\.", page)
    bad = page[page.index("Advanced (really)") :]
    assert bad.index('data-verdict="not-verified"') < bad.index("What the badge claims")
    assert "(signature_invalid)" not in page
    verdict = bad[bad.index("data-verdict") : bad.index("</p>")]
    assert "signature_invalid" not in verdict
