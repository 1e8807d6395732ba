"""Sharing from the credential page: each network's share link, the embed snippet, and the
printable PDF certificate (read back with pypdf, an independent PDF reader)."""

from __future__ import annotations

import io
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pypdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_earner_page import BASE_URL, award, local, page_html, settings_url

pytestmark = pytest.mark.storage


def test_the_page_shares_to_each_network_with_its_link(
    client: FlaskClient, assessor_token: str
) -> None:
    issued = award(client, assessor_token)
    html = page_html(client, issued["id"])
    page_url = f"{BASE_URL}/credentials/{issued['id']}"
    links = {
        label: unescape(href)
        for href, label in re.findall(
            r'href="([^"]+)" rel="noopener noreferrer" data-share="([^"]+)"', html
        )
    }
    assert set(links) == {"LinkedIn post", "X", "Facebook", "E-mail"}
    assert parse_qs(urlsplit(links["LinkedIn post"]).query)["url"] == [page_url]
    assert parse_qs(urlsplit(links["X"]).query)["url"] == [page_url]
    assert parse_qs(urlsplit(links["Facebook"]).query)["u"] == [page_url]
    mail = parse_qs(urlsplit(links["E-mail"]).query)
    assert page_url in mail["body"][0] and "Proficient" in mail["subject"][0]
    linkedin = unescape(
        re.search(r'href="(https://www\.linkedin\.com/profile/add\?[^"]+)"', html)[1]
    )  # type: ignore[index]
    assert parse_qs(urlsplit(linkedin).query)["expirationYear"] == ["2031"]


def test_the_embed_snippet_links_back_to_the_page(client: FlaskClient, assessor_token: str) -> None:
    issued = award(client, assessor_token)
    html = page_html(client, issued["id"])
    code = unescape(re.search(r'<textarea id="embed-code"[^>]*>([^<]*)</textarea>', html)[1])  # type: ignore[index]
    page_url = f"{BASE_URL}/credentials/{issued['id']}"
    assert code.count(f'href="{page_url}"') == 2
    assert f'src="{page_url}.png"' in code
    assert "style=" not in code and "<script" not in code
    assert client.get(local(f"{page_url}.png")).status_code == 200


def test_the_certificate_is_a_pdf_with_the_qr_code_and_the_verification_url(
    app: Flask, client: FlaskClient, assessor_token: str
) -> None:
    issued = award(client, assessor_token)
    response = client.get(f"/credentials/{issued['id']}/certificate.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    for words in ("Grace Hopper", "Proficient", "Example Training Board", "31 March 2031"):
        assert words in text, words
    assert f"{BASE_URL}/verify" in text
    assert f"{BASE_URL}/credentials/{issued['id']}" in text
    assert len(reader.pages[0].images) == 2  # the badge art and the QR code

    settings = settings_url(app, issued["id"])
    token = parse_qs(urlsplit(settings).query)["token"][0]
    client.post(
        f"/credentials/{issued['id']}/settings", data={"token": token, "visibility": "hidden"}
    )
    assert client.get(f"/credentials/{issued['id']}/certificate.pdf").status_code == 404
