"""Wallets: the OpenID4VCI pre-authorized code flow and the LCW's DIDAuth exchange, driven
the way a wallet drives them, with real keys (a fresh did:key / did:jwk per test), real
signatures and the real database; the credentials received are judged by openbadgeslib and
by our own verifier. ``test_wallet_clients.py``-style runs with independent JavaScript
clients are in ``tests/node/wallet.mjs`` (``test_node_wallets`` below).
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from flask import Flask
from flask.testing import FlaskClient
from oracles import openbadgeslib_verify
from sqlalchemy import select, update
from support import BASE_URL

from issuer.did import multikey, public_jwk
from issuer.proofs import data_integrity
from issuer.storage.models import AuditEvent, WalletClaim, WalletNonce, WalletOffer

# Codes, nonces and claims are single-use rows: run on PostgreSQL too.
pytestmark = pytest.mark.storage

PRE_AUTHORIZED = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
LDP = "OpenBadgeCredential_ldp_vc"
JWT = "OpenBadgeCredential_jwt_vc_json"


class Wallet:
    """A wallet's key: an Ed25519 did:key (or a P-256 did:jwk)."""

    def __init__(self, kind: str = "did:key") -> None:
        if kind == "did:key":
            self.private_key: Any = ed25519.Ed25519PrivateKey.generate()
            self.alg = "EdDSA"
            key = multikey(self.private_key.public_key())
            self.did = f"did:key:{key}"
            self.kid = f"{self.did}#{key}"
        else:
            self.private_key = ec.generate_private_key(ec.SECP256R1())
            self.alg = "ES256"
            encoded = json.dumps(public_jwk(self.private_key.public_key())).encode()
            self.did = "did:jwk:" + base64.urlsafe_b64encode(encoded).rstrip(b"=").decode()
            self.kid = f"{self.did}#0"

    def proof(self, nonce: str | None, **overrides: Any) -> str:
        header = {"typ": "openid4vci-proof+jwt", "alg": self.alg, "kid": self.kid}
        header.update(overrides.pop("header", {}))
        claims: dict[str, Any] = {"aud": BASE_URL, "iat": int(time.time())}
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(overrides)
        key = overrides.pop("signing_key", None) or self.private_key
        return jwt.encode(claims, key, algorithm=self.alg, headers=header)


def private_page(app: Flask, client: FlaskClient, credential_id: str) -> str:
    url = app.extensions["issuer"].earner.settings_url(credential_id)
    parts = urlsplit(url)
    first = client.get(f"{parts.path}?{parts.query}")
    assert first.status_code == 303
    page = client.get(parts.path)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def offers_on(page: str) -> dict[str, Any]:
    openid = html.unescape(re.search(r'id="wallet-openid4vci-link" href="([^"]+)"', page)[1])  # type: ignore[index]
    lcw = html.unescape(re.search(r'id="wallet-lcw-link" href="([^"]+)"', page)[1])  # type: ignore[index]
    tx = re.search(r'id="wallet-tx-code">(\d{6})<', page)
    offer_uri = parse_qs(urlsplit(openid).query)["credential_offer_uri"][0]
    lcw_query = {key: values[0] for key, values in parse_qs(urlsplit(lcw).query).items()}
    return {
        "openid": openid,
        "offer_path": urlsplit(offer_uri).path,
        "tx_code": tx[1] if tx else None,
        "lcw": lcw_query,
        "lcw_link": lcw,
        "exchange_path": urlsplit(lcw_query["vc_request_url"]).path,
    }


def token_for(client: FlaskClient, offer_path: str, tx_code: str | None) -> dict[str, Any]:
    offer = client.get(offer_path).json
    assert offer is not None
    code = offer["grants"][PRE_AUTHORIZED]["pre-authorized_code"]
    form = {"grant_type": PRE_AUTHORIZED, "pre-authorized_code": code}
    if tx_code is not None:
        form["tx_code"] = tx_code
    answer = client.post("/wallet/openid4vci/token", data=form)
    return {"status": answer.status_code, "body": answer.json, "code": code}


def nonce(client: FlaskClient) -> str:
    answer = client.post("/wallet/openid4vci/nonce")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    value: str = answer.json["c_nonce"]  # type: ignore[index]
    return value


def ask_credential(client: FlaskClient, access_token: str, body: Any, *, raw: bool = False) -> Any:
    if raw:
        return client.post(
            "/wallet/openid4vci/credential",
            data=body,
            headers={"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"},
        )
    return client.post(
        "/wallet/openid4vci/credential",
        json=body,
        headers={"Authorization": f"Bearer {access_token}"},
    )


def claim_openid(
    app: Flask, client: FlaskClient, credential_id: str, wallet: Wallet
) -> dict[str, Any]:
    offers = offers_on(private_page(app, client, credential_id))
    token = token_for(client, offers["offer_path"], offers["tx_code"])
    assert token["status"] == 200, token
    access = token["body"]["access_token"]
    received = {}
    for configuration in (LDP, JWT):
        answer = ask_credential(
            client,
            access,
            {
                "credential_configuration_id": configuration,
                "proofs": {"jwt": [wallet.proof(nonce(client))]},
            },
        )
        assert answer.status_code == 200, answer.json
        received[configuration] = answer.json["credentials"][0]["credential"]
    return {"ldp": received[LDP], "jwt": received[JWT], "access": access, "offers": offers}


def jwt_payload(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def verify_api(client: FlaskClient, credential: Any) -> dict[str, Any]:
    body = {"jwt": credential} if isinstance(credential, str) else credential
    report: dict[str, Any] = client.post("/api/v1/verify", json=body).json  # type: ignore[assignment]
    return report


def test_metadata_is_openid4vci_1_0(client: FlaskClient) -> None:
    metadata = client.get("/.well-known/openid-credential-issuer").json
    assert metadata["credential_issuer"] == BASE_URL
    assert metadata["nonce_endpoint"] == f"{BASE_URL}/wallet/openid4vci/nonce"
    assert metadata["credential_endpoint"] == f"{BASE_URL}/wallet/openid4vci/credential"
    configurations = metadata["credential_configurations_supported"]
    assert {configurations[LDP]["format"], configurations[JWT]["format"]} == {
        "ldp_vc",
        "jwt_vc_json",
    }
    for configuration in configurations.values():
        assert configuration["credential_definition"]["type"] == [
            "VerifiableCredential",
            "OpenBadgeCredential",
        ]
        assert configuration["cryptographic_binding_methods_supported"] == [
            "did:key",
            "did:jwk",
            "jwk",
        ]
        assert configuration["proof_types_supported"]["jwt"][
            "proof_signing_alg_values_supported"
        ] == ["EdDSA", "ES256"]
    assert metadata["display"][0]["name"] == "Example Training Board"
    assert metadata["display"][0]["logo"]["uri"].startswith(f"{BASE_URL}/achievements/")
    server = client.get("/.well-known/oauth-authorization-server").json
    assert server["issuer"] == BASE_URL
    assert server["token_endpoint"] == f"{BASE_URL}/wallet/openid4vci/token"
    assert server["pre-authorized_grant_anonymous_access_supported"] is True


@pytest.mark.parametrize("kind", ["did:key", "did:jwk"])
def test_a_wallet_receives_both_forms_bound_to_its_did_sharing_the_awards_fate(
    app: Flask, client: FlaskClient, issued: dict[str, Any], assessor_token: str, kind: str
) -> None:
    wallet = Wallet(kind)
    received = claim_openid(app, client, issued["id"], wallet)
    ldp, token = received["ldp"], received["jwt"]
    award = issued["credential"]

    assert ldp["credentialSubject"]["id"] == wallet.did
    assert jwt_payload(token)["sub"] == wallet.did
    assert (
        ldp["id"].startswith(f"{BASE_URL}/wallet/credentials/")
        and ldp["id"] == jwt_payload(token)["jti"]
    )
    assert ldp["credentialStatus"] == award["credentialStatus"]
    for member in ("achievement", "result", "identifier"):
        assert ldp["credentialSubject"][member] == award["credentialSubject"][member]
    assert ldp["evidence"] == award["evidence"]
    openbadgeslib_verify(client, ldp, token)
    assert verify_api(client, ldp)["verified"] is True
    assert verify_api(client, token)["verified"] is True

    client.post(
        f"/api/v1/credentials/{issued['id']}/revoke",
        json={"reason": "Awarded in error."},
        headers={"Authorization": f"Bearer {assessor_token}"},
    )
    for form in (ldp, token):
        report = verify_api(client, form)
        assert report["verified"] is False
        assert any(
            check["check"] == "status" and check["status"] == "fail" for check in report["checks"]
        )
    page = private_page(app, client, issued["id"])
    assert "cannot be added to a wallet" in page
    assert "wallet-openid4vci-link" not in page


def test_the_same_key_claiming_twice_gets_the_stored_copy_and_one_audit_record(
    app: Flask, client: FlaskClient, issued: dict[str, Any]
) -> None:
    wallet = Wallet()
    first = claim_openid(app, client, issued["id"], wallet)
    second = claim_openid(app, client, issued["id"], wallet)
    assert first["ldp"] == second["ldp"] and first["jwt"] == second["jwt"]
    other = claim_openid(app, client, issued["id"], Wallet())
    assert other["ldp"]["id"] != first["ldp"]["id"]
    db = app.extensions["issuer"].db
    with db.read() as session:
        claims = session.scalars(
            select(WalletClaim).where(WalletClaim.credential_id == issued["id"])
        ).all()
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "wallet.claimed")
        ).all()
        offers = session.scalars(select(WalletOffer)).all()
    assert len(claims) == 2 and len(audit) == 2
    assert {event.subject for event in audit} == {issued["id"]}
    # Only digests are stored: no code, challenge or token appears in clear.
    stored = json.dumps(
        [[o.locator_sha256, o.secret_sha256, o.access_token_sha256] for o in offers]
    )
    assert first["access"] not in stored
    assert "Wallets holding this badge: 2." in private_page(app, client, issued["id"])


def test_a_hidden_page_can_still_be_claimed(
    app: Flask, client: FlaskClient, issued: dict[str, Any]
) -> None:
    private_page(app, client, issued["id"])
    hidden = client.post(
        f"/credentials/{issued['id']}/settings",
        data={"visibility": "hidden", "token": _token(app, issued["id"])},
    )
    assert hidden.status_code == 303
    assert client.get(f"/credentials/{issued['id']}").status_code == 404
    wallet = Wallet()
    received = claim_openid(app, client, issued["id"], wallet)
    assert received["ldp"]["credentialSubject"]["id"] == wallet.did


def _token(app: Flask, credential_id: str) -> str:
    url = app.extensions["issuer"].earner.settings_url(credential_id)
    return parse_qs(urlsplit(url).query)["token"][0]


def test_a_code_works_once_and_its_reuse_cancels_the_token(
    app: Flask, client: FlaskClient, issued: dict[str, Any]
) -> None:
    offers = offers_on(private_page(app, client, issued["id"]))
    first = token_for(client, offers["offer_path"], offers["tx_code"])
    assert first["status"] == 200
    # The offer itself is gone once its code is used.
    assert client.get(offers["offer_path"]).json["code"] == "offer_not_found"
    again = client.post(
        "/wallet/openid4vci/token",
        data={
            "grant_type": PRE_AUTHORIZED,
            "pre-authorized_code": first["code"],
            "tx_code": offers["tx_code"],
        },
    )
    assert again.status_code == 400
    assert again.json == {
        "error": "invalid_grant",
        "error_description": again.json["error_description"],
        "code": "code_used",
    }
    cancelled = ask_credential(
        client,
        first["body"]["access_token"],
        {"credential_configuration_id": LDP, "proofs": {"jwt": [Wallet().proof(nonce(client))]}},
    )
    assert cancelled.status_code == 401
    assert cancelled.json["error"] == "invalid_token"
    assert "invalid_token" in cancelled.headers["WWW-Authenticate"]


def test_an_expired_code_and_an_expired_token_are_refused(
    app: Flask, client: FlaskClient, issued: dict[str, Any]
) -> None:
    db = app.extensions["issuer"].db
    offers = offers_on(private_page(app, client, issued["id"]))
    code = client.get(offers["offer_path"]).json["grants"][PRE_AUTHORIZED]["pre-authorized_code"]
    past = datetime.now(UTC) - timedelta(seconds=1)
    with db.write() as session:
        session.execute(update(WalletOffer).values(expires_at=past))
    expired = client.post(
        "/wallet/openid4vci/token",
        data={
            "grant_type": PRE_AUTHORIZED,
            "pre-authorized_code": code,
            "tx_code": offers["tx_code"],
        },
    )
    assert (expired.status_code, expired.json["error"], expired.json["code"]) == (
        400,
        "invalid_grant",
        "code_expired",
    )

    offers = offers_on(private_page(app, client, issued["id"]))
    token = token_for(client, offers["offer_path"], offers["tx_code"])["body"]["access_token"]
    with db.write() as session:
        session.execute(update(WalletOffer).values(access_expires_at=past))
    late = ask_credential(
        client,
        token,
        {"credential_configuration_id": LDP, "proofs": {"jwt": [Wallet().proof(nonce(client))]}},
    )
    assert (late.status_code, late.json["code"]) == (401, "access_token_invalid")


def test_a_wrong_tx_code_is_refused_and_five_burn_the_offer(
    app: Flask, client: FlaskClient, issued: dict[str, Any]
) -> None:
    offers = offers_on(private_page(app, client, issued["id"]))
    assert offers["tx_code"] is not None
    code = client.get(offers["offer_path"]).json["grants"][PRE_AUTHORIZED]
    assert code["tx_code"] == {
        "input_mode": "numeric",
        "length": 6,
        "description": code["tx_code"]["description"],
    }
    wrong = "000000" if offers["tx_code"] != "000000" else "111111"
    form = {"grant_type": PRE_AUTHORIZED, "pre-authorized_code": code["pre-authorized_code"]}
    missing = client.post("/wallet/openid4vci/token", data=form)
    assert (missing.json["error"], missing.json["code"]) == ("invalid_grant", "tx_code_required")
    codes = [
        client.post("/wallet/openid4vci/token", data={**form, "tx_code": wrong}).json["code"]
        for _ in range(4)
    ]
    assert codes == ["tx_code_invalid", "tx_code_invalid", "tx_code_invalid", "tx_code_exhausted"]
    right = client.post("/wallet/openid4vci/token", data={**form, "tx_code": offers["tx_code"]})
    assert (right.status_code, right.json["code"]) == (400, "code_expired")


@pytest.fixture
def access(app: Flask, client: FlaskClient, issued: dict[str, Any]) -> str:
    offers = offers_on(private_page(app, client, issued["id"]))
    token: str = token_for(client, offers["offer_path"], offers["tx_code"])["body"]["access_token"]
    return token


def _proof_request(token: str, configuration: str = LDP) -> dict[str, Any]:
    return {"credential_configuration_id": configuration, "proofs": {"jwt": [token]}}


def test_a_nonce_works_once(client: FlaskClient, access: str) -> None:
    wallet = Wallet()
    value = nonce(client)
    assert ask_credential(client, access, _proof_request(wallet.proof(value))).status_code == 200
    replayed = ask_credential(client, access, _proof_request(wallet.proof(value), JWT))
    assert (replayed.status_code, replayed.json["error"]) == (400, "invalid_nonce")
    unknown = ask_credential(client, access, _proof_request(wallet.proof("made-up")))
    assert unknown.json["error"] == "invalid_nonce"


def test_an_expired_nonce_is_refused(app: Flask, client: FlaskClient, access: str) -> None:
    value = nonce(client)
    with app.extensions["issuer"].db.write() as session:
        session.execute(
            update(WalletNonce).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    answer = ask_credential(client, access, _proof_request(Wallet().proof(value)))
    assert answer.json["error"] == "invalid_nonce"


def _private_jwk_proof(client: FlaskClient) -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key))
    assert "d" in jwk
    header = {"typ": "openid4vci-proof+jwt", "jwk": jwk}
    claims = {"aud": BASE_URL, "iat": int(time.time()), "nonce": nonce(client)}
    return jwt.encode(claims, key, algorithm="EdDSA", headers=header)


def _foreign_kid_proof(client: FlaskClient) -> str:
    wallet, other = Wallet(), Wallet()
    header = {"typ": "openid4vci-proof+jwt", "alg": "EdDSA", "kid": wallet.kid}
    claims = {"aud": BASE_URL, "iat": int(time.time()), "nonce": nonce(client)}
    return jwt.encode(claims, other.private_key, algorithm="EdDSA", headers=header)


def _alg_mismatch_proof(client: FlaskClient) -> str:
    """ES256 in the header, signed with a P-256 key, but the kid names an Ed25519 did:key."""
    header = {"typ": "openid4vci-proof+jwt", "alg": "ES256", "kid": Wallet().kid}
    claims = {"aud": BASE_URL, "iat": int(time.time()), "nonce": nonce(client)}
    signer = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(claims, signer, algorithm="ES256", headers=header)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (
            lambda c: Wallet().proof(nonce(c), aud="https://another.example"),
            "key_proof_audience_invalid",
        ),
        (_foreign_kid_proof, "key_proof_signature_invalid"),
        (_private_jwk_proof, "jwk_private_key"),
        (lambda c: Wallet().proof(nonce(c), header={"typ": "JWT"}), "key_proof_type_invalid"),
        (lambda c: Wallet().proof(nonce(c), iat=int(time.time()) - 3600), "key_proof_iat_invalid"),
        (lambda c: Wallet().proof(None), "key_proof_nonce_missing"),
        (
            lambda c: Wallet().proof(nonce(c), header={"kid": "did:web:evil.example#key-1"}),
            "key_proof_kid_unsupported",
        ),
        (_alg_mismatch_proof, "key_proof_alg_mismatch"),
        (lambda c: "not.a.jwt", "key_proof_malformed"),
        (lambda c: 42, "key_proof_malformed"),
    ],
)
def test_bad_key_proofs_are_invalid_proof(
    client: FlaskClient, access: str, make: Any, code: str
) -> None:
    proof = make(client)
    answer = ask_credential(client, access, _proof_request(proof))
    assert answer.status_code == 400, answer.json
    assert (answer.json["error"], answer.json["code"]) == ("invalid_proof", code)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{", "invalid_request"),
        (b"[]", "invalid_request"),
        (b'{"a": 1, "a": 2}', "invalid_request"),
        (
            b'{"credential_configuration_id": "x", "proofs": {"jwt": ["a"]}}',
            "unknown_credential_configuration",
        ),
        (
            b'{"format": "mso_mdoc", "proof": {"proof_type": "jwt", "jwt": "a"}}',
            "unsupported_credential_format",
        ),
        (b'{"credential_configuration_id": "OpenBadgeCredential_ldp_vc"}', "invalid_proof"),
        (
            b'{"credential_configuration_id": "OpenBadgeCredential_ldp_vc", "proofs": {"jwt": []}}',
            "invalid_credential_request",
        ),
        (
            b'{"credential_configuration_id": "OpenBadgeCredential_ldp_vc", "proofs": {"ldp_vp": [{}]}}',  # noqa: E501
            "invalid_proof",
        ),
        (
            b'{"credential_configuration_id": "OpenBadgeCredential_ldp_vc", "proofs": "x"}',
            "invalid_proof",
        ),
        (
            b'{"credential_configuration_id": "OpenBadgeCredential_ldp_vc", "proof": {"proof_type": "jwt", "jwt": {"x": 1}}}',  # noqa: E501
            "invalid_proof",
        ),
        (
            b'{"credential_identifier": "x", "proofs": {"jwt": ["a"]}}',
            "unknown_credential_identifier",
        ),
        (b'{"surprise": 1}', "invalid_credential_request"),
        (
            b'{"credential_configuration_id": ["OpenBadgeCredential_ldp_vc"], "proofs": {"jwt": ["a"]}}',  # noqa: E501
            "unknown_credential_configuration",
        ),
    ],
)
def test_malformed_credential_requests_get_the_spec_error_never_a_500(
    client: FlaskClient, access: str, body: bytes, error: str
) -> None:
    answer = ask_credential(client, access, body, raw=True)
    assert 400 <= answer.status_code < 500
    assert answer.json["error"] == error, answer.json
    assert set(answer.json) == {"error", "error_description", "code"}


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"grant_type": "authorization_code", "code": "x"},
        {"grant_type": PRE_AUTHORIZED},
        {"grant_type": PRE_AUTHORIZED, "pre-authorized_code": "x" * 5000},
        {"grant_type": PRE_AUTHORIZED, "pre-authorized_code": "\x00"},
    ],
)
def test_malformed_token_requests_are_refused(client: FlaskClient, form: dict[str, str]) -> None:
    answer = client.post("/wallet/openid4vci/token", data=form)
    assert answer.status_code == 400
    assert answer.json["error"] in {"invalid_request", "unsupported_grant_type", "invalid_grant"}
    as_json = client.post("/wallet/openid4vci/token", json=form)
    assert as_json.status_code == 400 and as_json.json["error"] == "invalid_request"


def test_a_revoked_award_cannot_be_claimed(
    app: Flask, client: FlaskClient, issued: dict[str, Any], assessor_token: str
) -> None:
    offers = offers_on(private_page(app, client, issued["id"]))
    token = token_for(client, offers["offer_path"], offers["tx_code"])["body"]["access_token"]
    second = offers_on(private_page(app, client, issued["id"]))
    client.post(
        f"/api/v1/credentials/{issued['id']}/revoke",
        json={"reason": "Awarded in error."},
        headers={"Authorization": f"Bearer {assessor_token}"},
    )
    denied = ask_credential(client, token, _proof_request(Wallet().proof(nonce(client))))
    assert (denied.status_code, denied.json["error"], denied.json["code"]) == (
        403,
        "credential_request_denied",
        "award_revoked",
    )
    refused = token_for(client, second["offer_path"], second["tx_code"])
    assert (refused["body"]["error"], refused["body"]["code"]) == ("invalid_grant", "award_revoked")
    exchange = client.post(second["exchange_path"], json={})
    assert exchange.json["code"] == "award_revoked"
    with app.extensions["issuer"].db.read() as session:
        assert session.scalars(select(WalletClaim)).all() == []


def sign_presentation(
    wallet: Wallet,
    challenge: str,
    *,
    domain: str | None,
    signer: Any = None,
    suite: str = "eddsa-rdfc-2022",
) -> dict[str, Any]:
    """A DIDAuth presentation as the LCW makes it (VC 1.1 context, Ed25519Signature2020) or as
    a VC 2.0 wallet does (eddsa-rdfc-2022)."""
    if suite == "Ed25519Signature2020":
        presentation: dict[str, Any] = {
            "@context": [
                "https://www.w3.org/2018/credentials/v1",
                "https://w3id.org/security/suites/ed25519-2020/v1",
            ],
            "type": ["VerifiablePresentation"],
            "holder": wallet.did,
        }
        options: dict[str, Any] = {"type": "Ed25519Signature2020"}
    else:
        presentation = {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiablePresentation"],
            "holder": wallet.did,
        }
        options = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022"}
    options.update(
        {
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "verificationMethod": wallet.kid,
            "proofPurpose": "authentication",
            "challenge": challenge,
        }
    )
    if domain is not None:
        options["domain"] = domain
    signature = (signer or wallet.private_key).sign(
        data_integrity.signing_input(presentation, options)
    )
    from issuer.multibase import encode_base58btc

    presentation["proof"] = {**options, "proofValue": encode_base58btc(signature)}
    return presentation


@pytest.mark.parametrize("suite", ["eddsa-rdfc-2022", "Ed25519Signature2020"])
def test_the_lcw_exchange_answers_a_didauth_presentation_with_the_bound_credential(
    app: Flask, client: FlaskClient, issued: dict[str, Any], suite: str
) -> None:
    offers = offers_on(private_page(app, client, issued["id"]))
    lcw = offers["lcw"]
    assert lcw["auth_type"] == "bearer" and lcw["issuer"] == "badges.example.test"
    request = client.post(offers["exchange_path"], json={}).json["verifiablePresentationRequest"]
    assert request["query"][0]["type"] == "DIDAuthentication"
    assert request["challenge"] == lcw["challenge"]
    wallet = Wallet()
    presentation = sign_presentation(
        wallet, lcw["challenge"], domain=request["domain"], suite=suite
    )
    answer = client.post(offers["exchange_path"], json=presentation)
    assert answer.status_code == 200, answer.json
    credential = answer.json
    assert credential["credentialSubject"]["id"] == wallet.did
    assert credential["credentialStatus"] == issued["credential"]["credentialStatus"]
    assert verify_api(client, credential)["verified"] is True
    with app.extensions["issuer"].db.read() as session:
        token = session.scalars(select(WalletClaim.jwt)).one()
    openbadgeslib_verify(client, credential, token)
    replay = client.post(offers["exchange_path"], json=presentation)
    assert (replay.status_code, replay.json["code"]) == (404, "offer_not_found")


def test_the_vc_api_form_wraps_the_credential_in_a_presentation(
    app: Flask, client: FlaskClient, issued: dict[str, Any]
) -> None:
    offers = offers_on(private_page(app, client, issued["id"]))
    wallet = Wallet()
    presentation = sign_presentation(wallet, offers["lcw"]["challenge"], domain=None)
    answer = client.post(offers["exchange_path"], json={"verifiablePresentation": presentation})
    assert answer.status_code == 200, answer.json
    wrapped = answer.json["verifiablePresentation"]["verifiableCredential"][0]
    assert wrapped["credentialSubject"]["id"] == wallet.did


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ("other_challenge", "challenge_mismatch"),
        ("other_domain", "domain_mismatch"),
        ("other_signer", "signature_invalid"),
        ("assertion", "proof_purpose_invalid"),
        ("holder_web", "holder_unsupported"),
        ("no_proof", "proof_missing"),
        ("not_object", "json_not_object"),
        ("undefined_term", "undefined_term"),
    ],
)
def test_bad_didauth_presentations_are_refused(
    app: Flask, client: FlaskClient, issued: dict[str, Any], tamper: str, code: str
) -> None:
    offers = offers_on(private_page(app, client, issued["id"]))
    challenge = offers["lcw"]["challenge"]
    wallet = Wallet()
    body: Any
    if tamper == "other_challenge":
        body = sign_presentation(wallet, "another-challenge", domain=None)
    elif tamper == "other_domain":
        body = sign_presentation(wallet, challenge, domain="evil.example")
    elif tamper == "other_signer":
        body = sign_presentation(
            wallet, challenge, domain=None, signer=ed25519.Ed25519PrivateKey.generate()
        )
    elif tamper == "assertion":
        body = sign_presentation(wallet, challenge, domain=None)
        body["proof"]["proofPurpose"] = "assertionMethod"
    elif tamper == "holder_web":
        body = sign_presentation(wallet, challenge, domain=None)
        body["holder"] = "did:web:evil.example"
    elif tamper == "no_proof":
        body = sign_presentation(wallet, challenge, domain=None)
        del body["proof"]
    elif tamper == "not_object":
        body = [1, 2]
    else:
        body = sign_presentation(wallet, challenge, domain=None)
        body["surprise"] = "not in any context"
    answer = client.post(offers["exchange_path"], json=body)
    assert 400 <= answer.status_code < 500, answer.json
    assert answer.json["code"] == code or (
        tamper == "undefined_term" and answer.json["error"] == "invalid_request"
    )
    # The exchange is still open for the real wallet.
    good = client.post(
        offers["exchange_path"], json=sign_presentation(wallet, challenge, domain=None)
    )
    assert good.status_code == 200


def test_unknown_offers_and_exchanges_are_404(client: FlaskClient) -> None:
    assert client.get("/wallet/openid4vci/offers/nothing").status_code == 404
    assert client.post("/wallet/exchanges/nothing", json={}).json["code"] == "offer_not_found"
    assert client.post(
        "/wallet/exchanges/nothing", data=b"{", content_type="application/json"
    ).status_code in (400, 404)


def test_wallet_endpoints_are_rate_limited(client: FlaskClient) -> None:
    answers = [client.post("/wallet/openid4vci/nonce").status_code for _ in range(61)]
    assert answers[:60] == [200] * 60
    assert answers[60] == 429
    limited = client.post("/wallet/openid4vci/nonce")
    assert limited.json["error"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
