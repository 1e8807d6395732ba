"""Credentials other OB 3.0 issuers publish: VC-JWTs whose kid names a JWK Set URL, a did:jwk or
a did:key; did:web keys of every verification method type; status lists as VC-JWTs.

The fixed vectors in ``tests/vectors/other-issuers/`` were made with panva's jose (see the
README there); each good one verifies and its tampered or mis-bound copy fails with a stable
code. Their issuers live on hosts that cannot exist here, so the verifier is given, pinned by
URL, what those hosts publish; nothing is fetched. The fetch paths themselves (a JWK Set, a
DID document, a status list served as ``application/vc+jwt``) run against a real HTTP server
reached through ``ISSUER_FETCH_ALLOW_HOSTS``, with tokens signed at test time by the same
TEST keys, and Data Integrity proofs made by openbadgeslib.
"""

from __future__ import annotations

import copy
import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient
from openbadgeslib.ob3.ldp import OB3LdpSigner
from test_fetch import Answer, DocumentServer
from test_verification import _openbadgeslib_credential, offline, outcomes

from issuer.did_resolution import (
    KeyResolutionError,
    did_jwk_document,
    key_from_jwk,
    key_from_multikey,
    parse_controller_document,
)
from issuer.fetch import Fetcher, parse_allow_hosts
from issuer.multibase import encode_base58btc
from issuer.verification import VerificationService
from issuer.verification.status import envelope

VECTORS = Path(__file__).parent / "vectors" / "other-issuers"
NOW = datetime(2027, 1, 1, tzinfo=UTC)
STATUS_URL = "https://issuer.vectors.test/status/1"
JWKS_URL = "https://issuer.vectors.test/jwks.json"
JWT_TYPE = {"Content-Type": "application/vc+jwt"}


def vector(name: str) -> str:
    return (VECTORS / name).read_text().strip()


def vector_json(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(vector(name))
    return document


def pinned(**changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the vector issuers' hosts publish, by URL; ``changes`` replaces some."""
    documents = {
        JWKS_URL: vector_json("https/jwks.json"),
        STATUS_URL: vector_json("https/status-list-enveloped.json"),
        "https://vectors.test/.well-known/did.json": vector_json("did-web/did.json"),
        "https://vectors.test/leaky/did.json": vector_json("did-web/leaky-did.json"),
    }
    documents.update({url: value for url, value in changes.items()})
    return documents


def offline_verifier(documents: dict[str, dict[str, Any]]) -> VerificationService:
    return VerificationService.build(
        own_did="did:web:badges.example.test",
        own_keys=lambda: [],
        base_url="https://badges.example.test",
        documents=documents,
        fetcher=Fetcher(resolver=offline),
        clock=lambda: NOW,
    )


DID_WEB_METHODS = ["key-2020", "key-2018", "key-okp", "key-p256", "key-p384", "key-rsa"]

# vector → (verified, {check: code}); "ok" means the check passed.
VECTOR_OUTCOMES: dict[str, tuple[bool, dict[str, str]]] = {
    "https/credential.jwt": (True, {"proof": "ok", "status": "ok"}),
    "https/credential-revoked.jwt": (False, {"proof": "ok", "status": "revoked"}),
    "https/credential-tampered.jwt": (False, {"proof": "jwt_bad_signature"}),
    "https/credential-foreign-jwks.jwt": (False, {"proof": "jwks_not_issuers"}),
    "did-jwk/credential.jwt": (True, {"proof": "ok"}),
    "did-jwk/credential-tampered.jwt": (False, {"proof": "jwt_bad_signature"}),
    "did-key/credential.jwt": (True, {"proof": "ok"}),
    "did-key/credential-tampered.jwt": (False, {"proof": "jwt_bad_signature"}),
    "did-key/credential-for-did-web.jwt": (False, {"proof": "verification_method_not_issuers"}),
    "did-web/credential-key-foreign.jwt": (False, {"proof": "verification_method_not_issuers"}),
    "did-web/credential-leaky.jwt": (False, {"proof": "jwk_private_key"}),
    **{f"did-web/credential-{name}.jwt": (True, {"proof": "ok"}) for name in DID_WEB_METHODS},
    **{
        f"did-web/credential-{name}-tampered.jwt": (False, {"proof": "jwt_bad_signature"})
        for name in DID_WEB_METHODS
    },
}


@pytest.mark.parametrize("name", sorted(VECTOR_OUTCOMES))
def test_each_vector_gives_its_outcome(name: str) -> None:
    verified, expected = VECTOR_OUTCOMES[name]
    report = offline_verifier(pinned()).verify_jwt(vector(name))
    found = outcomes(report)
    assert report.verified is verified, found
    for check, code in expected.items():
        assert found[check][1] == code, (check, found)


def test_every_vector_is_covered() -> None:
    tokens = {str(path.relative_to(VECTORS)) for path in VECTORS.glob("*/*.jwt")}
    status_lists = {name for name in tokens if "status-list" in name}
    assert tokens - status_lists == set(VECTOR_OUTCOMES)


@pytest.mark.parametrize(
    ("status_list", "code"),
    [
        ("https/status-list-tampered.jwt", "status_list_unverified"),
        ("https/status-list-foreign.jwt", "status_list_foreign"),
    ],
)
def test_a_vc_jwt_status_list_that_is_not_the_issuers_fails_closed(
    status_list: str, code: str
) -> None:
    good = offline_verifier(pinned(**{STATUS_URL: envelope(vector("https/status-list.jwt"))}))
    assert good.verify_jwt(vector("https/credential.jwt")).verified
    service = offline_verifier(pinned(**{STATUS_URL: envelope(vector(status_list))}))
    report = service.verify_jwt(vector("https/credential.jwt"))
    assert not report.verified
    assert outcomes(report)["status"] == ("fail", code)


@pytest.mark.parametrize(
    "document",
    [
        {"type": "EnvelopedVerifiableCredential", "id": "data:application/vc+ld+json,{}"},
        {"type": "EnvelopedVerifiableCredential", "id": "data:application/vc+jwt,not a jws"},
        {"type": ["EnvelopedVerifiableCredential"], "id": 7},
    ],
)
def test_an_envelope_that_holds_no_vc_jwt_fails_closed(document: dict[str, Any]) -> None:
    report = offline_verifier(pinned(**{STATUS_URL: document})).verify_jwt(
        vector("https/credential.jwt")
    )
    assert outcomes(report)["status"] == ("fail", "status_list_invalid")


def test_a_jwk_set_holding_a_private_key_is_refused() -> None:
    service = offline_verifier(pinned(**{JWKS_URL: vector_json("https/jwks-private.json")}))
    report = service.verify_jwt(vector("https/credential.jwt"))
    assert outcomes(report)["proof"] == ("fail", "jwk_private_key")


def _test_key(name: str) -> Any:
    return jwt.PyJWK(vector_json("test-keys.json")["keys"][name]).key


def _sign(payload: dict[str, Any], key_name: str, alg: str, kid: str) -> str:
    return jwt.api_jws.PyJWS().encode(
        json.dumps(payload).encode(),
        _test_key(key_name),
        algorithm=alg,
        headers={"kid": kid, "typ": "vc+jwt"},
    )


def _list_payload(issuer_id: str, list_url: str, revoked: int | None) -> dict[str, Any]:
    bits = bytearray(131072 // 8)
    if revoked is not None:
        bits[revoked // 8] |= 0x80 >> (revoked % 8)
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    encoded = jwt.utils.base64url_encode(compressor.compress(bytes(bits)) + compressor.flush())
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id,
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": "u" + encoded.decode(),
        },
    }


def _credential_payload(issuer_id: str, list_url: str, index: int) -> dict[str, Any]:
    """The vector credential's payload for another issuer id and status list URL."""
    _header, payload, _ = vector("https/credential.jwt").split(".")
    claims: dict[str, Any] = json.loads(jwt.utils.base64url_decode(payload))
    claims["issuer"]["id"] = claims["iss"] = issuer_id
    claims["credentialStatus"].update(
        id=f"{list_url}#{index}", statusListCredential=list_url, statusListIndex=str(index)
    )
    return claims


@pytest.fixture
def other_issuer() -> Iterator[tuple[DocumentServer, VerificationService]]:
    """A real HTTP server for another issuer, allowed through ISSUER_FETCH_ALLOW_HOSTS."""
    server = DocumentServer().start()
    service = VerificationService.build(
        own_did="did:web:badges.example.test",
        own_keys=lambda: [],
        base_url="https://badges.example.test",
        fetcher=Fetcher(parse_allow_hosts(f"{server.host}, localhost:{server.port}")),
    )
    yield server, service
    server.stop()


def _serve_jwks_issuer(server: DocumentServer) -> tuple[str, str]:
    issuer_id = f"https://{server.host}/issuers/1"
    server.routes["/keys/jwks.json"] = Answer(vector("https/jwks.json").encode())
    return issuer_id, f"https://{server.host}/status/1"


@pytest.mark.parametrize(
    ("answer", "index", "code"),
    [
        ("vc+jwt", 3, "ok"),
        ("vc+jwt", 7, "revoked"),
        ("bare", 3, "ok"),
        ("enveloped", 7, "revoked"),
        ("garbage", 3, "status_list_invalid"),
        ("missing", 3, "fetch_status"),
    ],
)
def test_a_vc_jwt_status_list_is_fetched_and_verified(
    other_issuer: tuple[DocumentServer, VerificationService], answer: str, index: int, code: str
) -> None:
    server, service = other_issuer
    issuer_id, list_url = _serve_jwks_issuer(server)
    kid = f"https://{server.host}/keys/jwks.json#key-"
    token = _sign(_list_payload(issuer_id, list_url, revoked=7), "https-key-2", "EdDSA", kid + "2")
    server.routes["/status/1"] = {
        "vc+jwt": Answer(token.encode(), headers=JWT_TYPE),
        "bare": Answer(token.encode() + b"\n", headers={"Content-Type": "text/plain"}),
        "enveloped": Answer(json.dumps(envelope(token)).encode()),
        "garbage": Answer(b'{"not": "a jwt"}', headers=JWT_TYPE),
        "missing": Answer(b"", status=404),
    }[answer]
    credential = _sign(
        _credential_payload(issuer_id, list_url, index), "https-key-1", "ES384", kid + "1"
    )
    report = service.verify_jwt(credential)
    assert outcomes(report)["proof"] == ("pass", "ok")
    assert outcomes(report)["status"][1] == code
    assert report.verified is (code == "ok")


def test_a_jwk_set_on_another_origin_is_not_fetched(
    other_issuer: tuple[DocumentServer, VerificationService],
) -> None:
    server, service = other_issuer
    issuer_id, list_url = _serve_jwks_issuer(server)
    # localhost:<port> is the same server, and allowed, but another origin than the issuer's.
    kid = f"https://localhost:{server.port}/keys/jwks.json#key-1"
    credential = _sign(_credential_payload(issuer_id, list_url, 3), "https-key-1", "ES384", kid)
    assert outcomes(service.verify_jwt(credential))["proof"] == ("fail", "jwks_not_issuers")


def _did_document(did: str, method_type: str, member: str, value: Any, **extra: Any) -> Any:
    method = {"id": f"{did}#key-1", "type": method_type, "controller": did, member: value}
    method.update(extra)
    return {"id": did, "verificationMethod": [method], "assertionMethod": [method["id"]]}


def _method_value(method_type: str) -> tuple[str, Any]:
    """The did:web vector's key of this type (all three are Ed25519)."""
    fragment = {
        "Ed25519VerificationKey2020": "key-2020",
        "Ed25519VerificationKey2018": "key-2018",
        "JsonWebKey2020": "key-okp",
    }[method_type]
    for method in vector_json("did-web/did.json")["verificationMethod"]:
        if method["id"].endswith("#" + fragment):
            member = next(name for name in method if name.startswith("publicKey"))
            return member, method[member]
    raise AssertionError(fragment)


KEY_NAMES = {
    "Ed25519VerificationKey2020": "web-2020",
    "Ed25519VerificationKey2018": "web-2018",
    "JsonWebKey2020": "web-okp",
}


@pytest.mark.parametrize("method_type", sorted(KEY_NAMES))
def test_data_integrity_with_each_ed25519_method_type(
    other_issuer: tuple[DocumentServer, VerificationService], method_type: str
) -> None:
    server, service = other_issuer
    did = f"did:web:127.0.0.1%3A{server.port}"
    member, value = _method_value(method_type)
    pem = _test_key(KEY_NAMES[method_type]).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signed = OB3LdpSigner(pem, verification_method=f"{did}#key-1").sign(
        _openbadgeslib_credential(did)
    )
    document = _did_document(did, method_type, member, value)
    server.routes["/.well-known/did.json"] = Answer(json.dumps(document).encode())
    report = service.verify_document(signed)
    assert report.verified, outcomes(report)

    tampered = copy.deepcopy(signed)
    tampered["name"] = "Forged"
    assert outcomes(service.verify_document(tampered))["proof"] == ("fail", "signature_invalid")

    # The same document, but the key is controlled by someone else.
    foreign = _did_document(did, method_type, member, value, controller="did:web:evil.example")
    server.routes["/.well-known/did.json"] = Answer(json.dumps(foreign).encode())
    assert outcomes(service.verify_document(signed))["proof"] == (
        "fail",
        "verification_method_not_issuers",
    )


def test_a_did_document_publishing_a_private_jwk_is_refused(
    other_issuer: tuple[DocumentServer, VerificationService],
) -> None:
    server, service = other_issuer
    did = f"did:web:127.0.0.1%3A{server.port}"
    private_jwk = vector_json("test-keys.json")["keys"]["web-okp"]
    pem = _test_key("web-okp").private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signed = OB3LdpSigner(pem, verification_method=f"{did}#key-1").sign(
        _openbadgeslib_credential(did)
    )
    document = _did_document(did, "JsonWebKey2020", "publicKeyJwk", private_jwk)
    server.routes["/.well-known/did.json"] = Answer(json.dumps(document).encode())
    assert outcomes(service.verify_document(signed))["proof"] == ("fail", "jwk_private_key")


@pytest.fixture
def app_for_other_issuer(app: Flask) -> Iterator[tuple[DocumentServer, FlaskClient]]:
    server = DocumentServer().start()
    app.config["FETCH_ALLOW_HOSTS"] = server.host
    app.extensions.pop("issuer_verification", None)
    yield server, app.test_client()
    server.stop()


def test_the_api_verifies_a_jwks_issuer_with_a_vc_jwt_status_list(
    app_for_other_issuer: tuple[DocumentServer, FlaskClient],
) -> None:
    server, client = app_for_other_issuer
    issuer_id, list_url = _serve_jwks_issuer(server)
    kid = f"https://{server.host}/keys/jwks.json#key-"
    list_token = _sign(
        _list_payload(issuer_id, list_url, revoked=None), "https-key-2", "EdDSA", kid + "2"
    )
    server.routes["/status/1"] = Answer(list_token.encode(), headers=JWT_TYPE)
    credential = _sign(
        _credential_payload(issuer_id, list_url, 3), "https-key-1", "ES384", kid + "1"
    )
    response = client.post("/api/v1/verify", json={"jwt": credential})
    assert response.status_code == 200, response.data
    body = response.json
    assert body is not None and body["verified"] is True, body
    server.routes["/status/1"] = Answer(b"eyJ.not.a-list", headers=JWT_TYPE)
    body = client.post("/api/v1/verify", json={"jwt": credential}).json
    assert body is not None and body["verified"] is False


P384 = vector_json("test-keys.json")["keys"]["web-p384"]
P384_PUBLIC = {name: P384[name] for name in ("kty", "crv", "x", "y")}


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "oth", "k"])
def test_a_jwk_with_any_private_member_is_refused(member: str) -> None:
    with pytest.raises(KeyResolutionError) as raised:
        key_from_jwk({**P384_PUBLIC, member: "AQAB"})
    assert raised.value.code == "jwk_private_key"


@pytest.mark.parametrize(
    "jwk",
    [
        {**P384_PUBLIC, "alg": "ES256"},
        {**P384_PUBLIC, "crv": "P-256"},
        {**P384_PUBLIC, "x": P384_PUBLIC["x"][:-4]},
        {**P384_PUBLIC, "crv": "P-521"},
        {"kty": "oct"},
    ],
    ids=["alg of another curve", "curve swapped", "short coordinate", "P-521", "symmetric"],
)
def test_an_unusable_jwk_is_key_invalid(jwk: dict[str, Any]) -> None:
    with pytest.raises(KeyResolutionError) as raised:
        key_from_jwk(jwk)
    assert raised.value.code == "key_invalid"


def test_a_p384_key_reads_alike_as_jwk_multikey_and_did_jwk() -> None:
    public_key, alg = key_from_jwk(P384_PUBLIC)
    point = public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    from_multikey, multikey_alg = key_from_multikey(encode_base58btc(b"\x81\x24" + point))
    did = "did:jwk:" + jwt.utils.base64url_encode(json.dumps(P384_PUBLIC).encode()).decode()
    (method,) = did_jwk_document(did).assertion_keys()
    assert alg == multikey_alg == method.alg == "ES384"
    assert from_multikey.public_numbers() == public_key.public_numbers()
    assert method.public_key.public_numbers() == public_key.public_numbers()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method_type", "member", "value"),
    [
        # Ed25519VerificationKey2020 is an Ed25519 key only.
        ("Ed25519VerificationKey2020", "publicKeyMultibase", None),
        # A known type's key is in its own member.
        ("Ed25519VerificationKey2018", "publicKeyJwk", P384_PUBLIC),
        ("Ed25519VerificationKey2018", "publicKeyBase58", "0OIl" * 11),
    ],
)
def test_a_method_whose_type_and_key_disagree_is_not_used(
    method_type: str, member: str, value: Any
) -> None:
    if value is None:
        # A P-256 Multikey, which a Multikey method may hold.
        p256 = {
            k: v for k, v in vector_json("test-keys.json")["keys"]["web-p256"].items() if k != "d"
        }
        point = key_from_jwk(p256)[0].public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        value = encode_base58btc(b"\x80\x24" + point)
    did = "did:web:vectors.test"
    document = parse_controller_document(
        _did_document(did, method_type, member, value), did, source="test"
    )
    assert document.methods == {}


@pytest.mark.parametrize(
    ("index", "code"),
    [
        ("7", "revoked"),
        ("3", "ok"),
        ("²", "status_not_checked"),  # isdigit() but int() refuses it: was a crash
        ("\u0667", "status_not_checked"),  # Arabic-Indic 7: int() reads it as 7
        ("\u096d", "status_not_checked"),
        ("+7", "status_not_checked"),
        (" 7", "status_not_checked"),
        ("", "status_not_checked"),
    ],
)
def test_a_status_index_is_ascii_digits_only(
    other_issuer: tuple[DocumentServer, VerificationService], index: str, code: str
) -> None:
    server, service = other_issuer
    issuer_id, list_url = _serve_jwks_issuer(server)
    kid = f"https://{server.host}/keys/jwks.json#key-"
    token = _sign(_list_payload(issuer_id, list_url, revoked=7), "https-key-2", "EdDSA", kid + "2")
    server.routes["/status/1"] = Answer(token.encode(), headers=JWT_TYPE)
    payload = _credential_payload(issuer_id, list_url, 0)
    payload["credentialStatus"]["statusListIndex"] = index
    report = service.verify_jwt(_sign(payload, "https-key-1", "ES384", kid + "1"))
    assert outcomes(report)["proof"] == ("pass", "ok")
    assert outcomes(report)["status"][1] == code
    assert report.verified is (code == "ok")


@pytest.mark.parametrize("private", [False, True])
@pytest.mark.parametrize(
    ("name", "alg", "kid"), [("https-key-1", "ES384", "key-1"), ("https-key-2", "EdDSA", "key-2")]
)
def test_a_jwt_header_jwk_holding_a_private_member_is_refused(
    private: bool, name: str, alg: str, kid: str
) -> None:
    """OB 3.0: the jwk header must never hold a private key; the public part of a published
    Ed25519 key plus its ``d`` was accepted as that key (and no P-384 key matched at all)."""
    _header, payload, _ = vector("https/credential.jwt").split(".")
    key = vector_json("test-keys.json")["keys"][name]
    jwk = {member: key[member] for member in ("kty", "crv", "x", "y", "d") if member in key}
    if not private:
        del jwk["d"]
    signed = jwt.api_jws.PyJWS().encode(
        jwt.utils.base64url_decode(payload),
        _test_key(name),
        algorithm=alg,
        headers={"jwk": jwk, "kid": f"{JWKS_URL}#{kid}", "typ": "vc+jwt"},
    )
    report = offline_verifier(pinned()).verify_jwt(signed)
    expected = ("fail", "jwk_private_key") if private else ("pass", "ok")
    assert outcomes(report)["proof"] == expected
