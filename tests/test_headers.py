"""Headers on every response: pages are locked down, documents for programs are shareable."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from test_earner_page import award

from issuer.web.headers import CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", ["/", "/verify", "/assess/login", "/credentials/unknown"])
def test_pages_load_only_our_own_resources_and_cannot_be_framed(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Strict-Transport-Security" not in response.headers


def test_documents_for_programs_may_be_read_from_any_origin(
    client: FlaskClient, assessor_token: str
) -> None:
    issued = award(client, assessor_token)
    status_list = issued["credential"]["credentialStatus"]["statusListCredential"]
    paths = [
        "/.well-known/did.json",
        "/.well-known/jwks.json",
        "/issuer",
        status_list.removeprefix("https://badges.example.test"),
        f"/credentials/{issued['id']}.json",
        f"/credentials/{issued['id']}.jwt",
        f"/credentials/{issued['id']}.png",
        f"/credentials/{issued['id']}.svg",
    ]
    for path in paths:
        response = client.get(path, headers={"Accept": "application/json"})
        assert response.status_code == 200, path
        assert response.headers["Access-Control-Allow-Origin"] == "*", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
    page = client.get(f"/credentials/{issued['id']}", headers={"Accept": "text/html"})
    assert "Access-Control-Allow-Origin" not in page.headers


def test_the_workspace_answers_no_other_origin(client: FlaskClient) -> None:
    response = client.get("/assess/bulk/example.csv")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_https_responses_ask_to_stay_on_https(client: FlaskClient) -> None:
    response = client.get("/", base_url="https://badges.example.test")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
