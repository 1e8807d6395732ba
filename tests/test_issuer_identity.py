"""The verdict says who is proven to have signed, never the name the issuer gives itself."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from flask.testing import FlaskClient
from openbadgeslib.ob3.did import did_key_from_pem
from test_fetch import Answer, DocumentServer

from issuer.proofs.data_integrity import add_proof
from issuer.verification import build_for
from issuer.verification.identity import proven_identity


def _sign_as(credential: dict[str, Any], issuer_id: str, method: str, key: Any) -> dict[str, Any]:
    """``credential`` re-signed for another issuer that copies our name, URL and ids."""
    unsigned = copy.deepcopy(credential)
    del unsigned["proof"]
    # Our status list vouches only for our credentials; an impostor simply leaves it out.
    del unsigned["credentialStatus"]
    unsigned["issuer"]["id"] = issuer_id
    return add_proof(
        unsigned, private_key=key, verification_method=method, created=datetime.now(UTC)
    )


def _did_key() -> tuple[str, ed25519.Ed25519PrivateKey]:
    key = ed25519.Ed25519PrivateKey.generate()
    did = did_key_from_pem(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return did, key


def _page(client: FlaskClient, credential: dict[str, Any]) -> str:
    response = client.post("/verify", data={"credential": json.dumps(credential)})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_our_own_credential_reads_as_ours(client: FlaskClient, issued: dict[str, Any]) -> None:
    body = client.post("/api/v1/verify", json=issued["credential"]).json
    assert body is not None and body["verified"] is True
    assert body["issuerIdentity"] == {
        "standing": "ours",
        "id": "did:web:badges.example.test",
        "domain": "badges.example.test",
    }
    page = _page(client, issued["credential"])
    assert 'data-verdict="verified"' in page
    assert "Issued by this service (badges.example.test)" in page


def test_a_self_signed_copy_of_our_credential_is_not_called_ours(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    did, key = _did_key()
    impostor = _sign_as(issued["credential"], did, f"{did}#{did.removeprefix('did:key:')}", key)
    body = client.post("/api/v1/verify", json=impostor).json
    assert body is not None and body["verified"] is True, body["checks"]
    assert body["issuerIdentity"]["standing"] == "unestablished"
    page = _page(client, impostor)
    assert 'data-verdict="identity-unestablished"' in page
    assert "Genuine" not in page
    assert "issuer's identity is not established" in page
    verdict = page[page.index("data-verdict") : page.index("</p>", page.index("data-verdict"))]
    assert "“Example Training Board”, is not proven" in verdict


def test_a_did_web_issuer_is_named_by_its_domain(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    server = DocumentServer().start()
    try:
        app = client.application
        app.config["FETCH_ALLOW_HOSTS"] = server.host
        app.extensions.pop("issuer_verification", None)
        did = f"did:web:127.0.0.1%3A{server.port}"
        key = ed25519.Ed25519PrivateKey.generate()
        multikey = did_key_from_pem(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).removeprefix("did:key:")
        method = f"{did}#{multikey}"
        server.routes["/.well-known/did.json"] = Answer(
            json.dumps(
                {
                    "id": did,
                    "verificationMethod": [
                        {
                            "id": method,
                            "type": "Multikey",
                            "controller": did,
                            "publicKeyMultibase": multikey,
                        }
                    ],
                    "assertionMethod": [method],
                }
            ).encode()
        )
        other = _sign_as(issued["credential"], did, method, key)
        body = client.post("/api/v1/verify", json=other).json
        assert body is not None and body["verified"] is True, body["checks"]
        assert body["issuerIdentity"]["standing"] == "domain"
        assert body["issuerIdentity"]["domain"] == f"127.0.0.1:{server.port}"
        page = _page(client, other)
        assert (
            f"Signed by the holder of the website <strong>127.0.0.1:{server.port}</strong>" in page
        )
        assert "only the website is proven" in page
    finally:
        server.stop()


def test_a_credential_that_fails_proves_nobody(client: FlaskClient, issued: dict[str, Any]) -> None:
    tampered = copy.deepcopy(issued["credential"])
    tampered["credentialSubject"]["name"] = "Somebody Else"
    body = client.post("/api/v1/verify", json=tampered).json
    assert body is not None and body["verified"] is False
    assert body["issuerIdentity"] is None
    assert "claimed, not verified" in _page(client, tampered)


@pytest.mark.parametrize(
    ("issuer_id", "standing", "domain"),
    [
        ("did:web:badges.example.test", "ours", "badges.example.test"),
        ("did:web:example.org", "domain", "example.org"),
        ("did:web:example.org%3A8443:users:alice", "domain", "example.org:8443/users/alice"),
        ("https://example.org/issuer", "domain", "example.org"),
        ("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "unestablished", None),
        ("did:jwk:eyJrdHkiOiJPS1AifQ", "unestablished", None),
        ("did:web:", "unestablished", None),
        ("urn:uuid:1", "unestablished", None),
    ],
)
def test_proven_identity(issuer_id: str, standing: str, domain: str | None) -> None:
    identity = proven_identity(issuer_id, own_did="did:web:badges.example.test")
    assert (identity.standing, identity.domain) == (standing, domain)


def test_the_service_reports_no_identity_without_a_proof(client: FlaskClient) -> None:
    app = client.application
    with app.app_context():
        service = build_for(app.extensions["issuer"], app.config)
        report = service.verify_document({"@context": [], "issuer": "did:web:example.org"})
    assert report.issuer_identity is None
