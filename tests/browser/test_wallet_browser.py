"""The earner's "Add to your wallet" section in a real browser: both QR codes are drawn,
the links are the protocols' (an OpenID4VCI offer by reference to this server, the LCW's
request link to this server's exchange), the transaction code is shown, and axe finds no
serious accessibility violation."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_credential_page_browser import credential, serious

__all__ = ["credential"]


def test_the_wallet_section_offers_both_protocols(
    page: Any, app: Flask, live_server: str, credential: dict[str, Any]
) -> None:
    settings = urlsplit(app.extensions["issuer"].earner.settings_url(credential["id"]))
    page.goto(f"{live_server}{settings.path}?{settings.query}")
    section = page.locator("#wallet")
    assert section.get_by_role("heading", name="Add to your wallet").is_visible()
    assert section.locator("svg").count() == 2
    for figure in section.locator("figure").all():
        assert figure.locator("svg title").count() == 1  # named for screen readers
        assert figure.locator("svg").bounding_box()["width"] >= 150

    openid = page.locator("#wallet-openid4vci-link").get_attribute("href")
    assert openid.startswith("openid-credential-offer://?credential_offer_uri=")
    offer_uri = parse_qs(urlsplit(openid).query)["credential_offer_uri"][0]
    assert offer_uri.startswith(f"{app.config['BASE_URL']}/wallet/openid4vci/offers/")
    assert page.locator("#wallet-tx-code").inner_text().isdigit()

    lcw = page.locator("#wallet-lcw-link").get_attribute("href")
    assert lcw.startswith("https://lcw.app/request.html?")
    query = parse_qs(urlsplit(lcw).query)
    assert query["auth_type"] == ["bearer"]
    assert query["vc_request_url"][0].startswith(f"{app.config['BASE_URL']}/wallet/exchanges/")
    assert len(query["challenge"][0]) >= 40

    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    assert serious(axe_module.Axe().run(page)) == []


def test_a_revoked_badge_offers_no_wallet(
    page: Any, app: Flask, client: FlaskClient, assessor_token: str, credential: dict[str, Any]
) -> None:
    client.post(
        f"/api/v1/credentials/{credential['id']}/revoke",
        json={"reason": "Awarded in error."},
        headers={"Authorization": f"Bearer {assessor_token}"},
    )
    settings = urlsplit(app.extensions["issuer"].earner.settings_url(credential["id"]))
    page.goto(f"{settings.path}?{settings.query}")  # the context's base URL is the server
    assert page.locator("#wallet").get_by_text("cannot be added to a wallet").is_visible()
    assert page.locator("#wallet-openid4vci-link").count() == 0
