"""Public pages and documents: the issuer, its badges, its keys, its health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from issuer import create_app
from issuer.multibase import decode_ed25519_multikey

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
LEVELS = ["Emerging", "Developing", "Proficient", "Advanced"]


def test_home_page_shows_the_issuer_and_its_four_badges(client: FlaskClient) -> None:
    page = client.get("/", headers=BROWSER).text

    assert "Computer User Support Specialists" in page
    assert [level for level in LEVELS if level in page] == LEVELS
    assert page.index("Emerging") < page.index("Developing") < page.index("Advanced")
    assert "did:web:badges.example.test" in page


def test_achievement_page_and_json(client: FlaskClient) -> None:
    path = "/achievements/computer-user-support-specialists/developing"
    html = client.get(path, headers=BROWSER)
    document = client.get(path, headers={"Accept": "application/json"}).json

    assert html.mimetype == "text/html"
    assert html.text.count('<li id="statement-') == 10
    assert document["id"] == "https://badges.example.test" + path
    assert document["name"] == "Computer User Support Specialists — Developing"
    assert document["creator"]["id"] == "did:web:badges.example.test"
    assert len(document["resultDescription"]) == 10
    assert client.get(path.replace("developing", "expert")).status_code == 404


def test_issuer_profile(client: FlaskClient) -> None:
    profile = client.get("/issuer", headers={"Accept": "application/ld+json"})

    assert profile.mimetype == "application/ld+json"
    assert profile.json["id"] == "did:web:badges.example.test"
    assert profile.json["type"] == ["Profile"]
    assert profile.json["name"] == "Example Training Board"
    assert "Example Training Board" in client.get("/issuer", headers=BROWSER).text


def test_did_document_and_jwks_publish_the_same_keys(app: Flask, client: FlaskClient) -> None:
    keyring = app.extensions["issuer"].keyring()
    document = client.get("/.well-known/did.json").json
    jwks = client.get("/.well-known/jwks.json").json

    assert document["id"] == "did:web:badges.example.test"
    kids = [key.kid for key in keyring.public_keys()]
    assert document["assertionMethod"] == kids
    assert [key["kid"] for key in jwks["keys"]] == kids
    eddsa = keyring.signing_key("EdDSA")
    method = next(m for m in document["verificationMethod"] if m["id"] == eddsa.kid)
    assert method["type"] == "Multikey" and method["publicKeyMultibase"].startswith("z6Mk")
    assert decode_ed25519_multikey(method["publicKeyMultibase"]) == (
        eddsa.public_key.public_bytes_raw()
    )
    private_members = {"d", "p", "q", "dp", "dq", "qi"}
    assert not any(private_members & set(key) for key in jwks["keys"])


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {
        "database": "ok",
        "keys": "ok",
        "templates": "ok",
        "schema": "ok",
        "restore": "ok",
        "signing_keys": "ok",
    }


def test_readiness_fails_without_keys(app_config: dict[str, Any], tmp_path: Path) -> None:
    app = create_app({**app_config, "KEYS_DIR": str(tmp_path / "empty")})
    ready = app.test_client().get("/readyz")
    app.extensions["issuer"].db.dispose()

    assert ready.status_code == 503
    assert ready.json["checks"]["keys"] == "key_missing"


def test_unknown_routes_and_methods_answer_in_the_clients_language(client: FlaskClient) -> None:
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
    assert api.json["code"] == "not_found"
    page = client.get("/nothing-here", headers=BROWSER)
    assert page.status_code == 404 and page.mimetype == "text/html"
    wrong_method = client.get("/api/v1/awards")
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["Allow"]
