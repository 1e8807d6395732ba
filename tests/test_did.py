"""did:web derivation, the DID document and the JWKS."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from openbadgeslib.ob3.did import did_web_from_url, pem_for_kid

from issuer import did, keyring
from issuer.did_resolution import parse_controller_document
from issuer.errors import ConfigurationError, KeyringError
from issuer.multibase import decode_ed25519_multikey

PASSPHRASE = b"did test passphrase"
DID = "did:web:127.0.0.1%3A5000"
# Members that only a private or symmetric JWK carries (RFC 7518 §6).
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.fixture(scope="module")
def ring(tmp_path_factory: pytest.TempPathFactory) -> keyring.Keyring:
    """Three active keys and one retired P-256 key."""
    keys_dir = tmp_path_factory.mktemp("did") / "keys"
    keyring.generate_missing(keys_dir, PASSPHRASE)
    keyring.rotate(keys_dir, PASSPHRASE, "ES256")
    return keyring.Keyring.load(keys_dir, PASSPHRASE, controller=DID, allow_unencrypted=False)


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:5000", "did:web:127.0.0.1%3A5000"),
        ("http://127.0.0.1:5000/", "did:web:127.0.0.1%3A5000"),
        ("http://localhost:8080", "did:web:localhost%3A8080"),
        ("https://badges.example.org", "did:web:badges.example.org"),
        ("https://badges.example.org/", "did:web:badges.example.org"),
        ("https://Badges.Example.ORG", "did:web:badges.example.org"),
        ("https://badges.example.org:443", "did:web:badges.example.org"),
        ("http://badges.example.org:80", "did:web:badges.example.org"),
        ("https://badges.example.org:8443", "did:web:badges.example.org%3A8443"),
        ("https://h.org/a/b", "did:web:h.org:a:b"),
        ("https://h.org/a/b/", "did:web:h.org:a:b"),
        ("https://h.org:8443/issuers/it-support", "did:web:h.org%3A8443:issuers:it-support"),
    ],
)
def test_did_web_from_base_url(base_url: str, expected: str) -> None:
    assert did.did_web_from_base_url(base_url) == expected


@pytest.mark.parametrize(
    "base_url",
    [
        "https://badges.example.org:8443",
        "https://h.org/a/b",
        "https://badges.example.org",
    ],
)
def test_did_web_agrees_with_openbadgeslib(base_url: str) -> None:
    assert did.did_web_from_base_url(base_url) == did_web_from_url(base_url)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://h.org/?x=1",
        "https://h.org/?",
        "https://h.org/#top",
        "https://h.org#",
        "https://user:secret@h.org",
        "https://user@h.org",
        "ftp://h.org",
        "h.org",
        "https://",
        "https://[::1]:5000",
        "https://h.org:99999",
        "https://h.org:port",
        "https://h.org/a//b",
        "https://h.org/a b",
        "https://h.org/a/../b",
        "https://h.org/a:b",
    ],
)
def test_did_web_refuses_a_bad_base_url(base_url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        did.did_web_from_base_url(base_url)
    assert raised.value.code == "base_url_invalid"
    assert "secret" not in raised.value.message


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (member name, value) pair anywhere in a JSON value."""
    if isinstance(value, dict):
        for name, member in value.items():
            yield name, member
            yield from walk(member)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def test_did_document_lists_every_key_under_assertion_method(ring: keyring.Keyring) -> None:
    document = did.did_document(DID, ring.public_keys())
    # did/v1 first (Digital Bazaar reads a DID document without JSON-LD framing only then);
    # multikey/v1 because its Ed25519 Multikey suite refuses a key without that context.
    assert document["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://www.w3.org/ns/cid/v1",
        "https://w3id.org/security/multikey/v1",
    ]
    assert document["id"] == DID
    methods = document["verificationMethod"]
    assert [method["id"] for method in methods] == [key.kid for key in ring.public_keys()]
    assert len(methods) == 4
    assert document["assertionMethod"] == [method["id"] for method in methods]
    assert "authentication" not in document
    for method in methods:
        assert method["controller"] == DID
        assert method["id"].startswith(f"{DID}#")


def test_did_document_method_shapes(ring: keyring.Keyring) -> None:
    methods = {m["id"]: m for m in did.did_document(DID, ring.public_keys())["verificationMethod"]}
    eddsa = methods[ring.signing_key("EdDSA").kid]
    assert eddsa.keys() == {"id", "type", "controller", "publicKeyMultibase"}
    assert eddsa["type"] == "Multikey"
    assert eddsa["publicKeyMultibase"] == eddsa["id"].split("#")[1]
    assert decode_ed25519_multikey(eddsa["publicKeyMultibase"]) == (
        ring.signing_key("EdDSA").public_key.public_bytes_raw()
    )
    rs256 = methods[ring.signing_key("RS256").kid]
    assert rs256.keys() == {"id", "type", "controller", "publicKeyJwk"}
    assert rs256["type"] == "JsonWebKey"
    assert rs256["publicKeyJwk"].keys() == {"kty", "n", "e"}
    es256 = methods[ring.signing_key("ES256").kid]
    assert es256["publicKeyJwk"].keys() == {"kty", "crv", "x", "y"}
    assert es256["publicKeyJwk"]["crv"] == "P-256"


def test_did_document_has_no_private_members(ring: keyring.Keyring) -> None:
    document = did.did_document(DID, ring.public_keys())
    assert not {name for name, _ in walk(document)} & PRIVATE_JWK_MEMBERS
    assert "PRIVATE" not in json.dumps(document)


def test_did_document_is_deterministic(ring: keyring.Keyring) -> None:
    first = json.dumps(did.did_document(DID, ring.public_keys()))
    assert json.dumps(did.did_document(DID, ring.public_keys())) == first


def test_did_document_refuses_a_key_of_another_controller(ring: keyring.Keyring) -> None:
    with pytest.raises(KeyringError) as raised:
        did.did_document("did:web:other.example", ring.public_keys())
    assert raised.value.code == "key_controller_mismatch"


def public_pem(key: Any) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_openbadgeslib_finds_every_key_in_our_did_document(ring: keyring.Keyring) -> None:
    document = did.did_document(DID, ring.public_keys())
    for key in ring.public_keys():
        assert pem_for_kid(document, DID, key.kid) == public_pem(key.public_key)


@pytest.mark.parametrize(
    "contexts",
    [
        list(did.DID_CONTEXTS),
        ["https://www.w3.org/ns/did/v1"],
        ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        ["https://www.w3.org/ns/cid/v1"],
        "https://www.w3.org/ns/did/v1",
    ],
)
def test_our_resolver_reads_documents_with_any_of_these_contexts(
    ring: keyring.Keyring, contexts: Any
) -> None:
    """Our own document (and another issuer's with fewer or other contexts) yields every key."""
    document = {**did.did_document(DID, ring.public_keys()), "@context": contexts}
    resolved = parse_controller_document(json.loads(json.dumps(document)), DID, source="did:web")
    assert sorted(resolved.methods) == sorted(key.kid for key in ring.public_keys())
    for key in ring.public_keys():
        method = resolved.assertion_key(key.kid)
        assert (method.alg, public_pem(method.public_key)) == (key.alg, public_pem(key.public_key))


def test_jwks_shapes(ring: keyring.Keyring) -> None:
    key_set = did.jwks(ring.public_keys())
    assert [jwk["kid"] for jwk in key_set["keys"]] == [key.kid for key in ring.public_keys()]
    for jwk, key in zip(key_set["keys"], ring.public_keys(), strict=True):
        assert jwk["alg"] == key.alg
        assert jwk["use"] == "sig"
        assert not jwk.keys() & PRIVATE_JWK_MEMBERS
        loaded = jwt.PyJWK(jwk)
        assert loaded.algorithm_name == key.alg
        assert public_pem(loaded.key) == public_pem(key.public_key)
    eddsa = key_set["keys"][0]
    assert (eddsa["kty"], eddsa["crv"], eddsa["alg"]) == ("OKP", "Ed25519", "EdDSA")


def test_jwk_thumbprint_matches_rfc_7638() -> None:
    # RFC 7638 §3.1: this RSA key's thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
        "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    modulus = int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big")
    public_key = rsa.RSAPublicNumbers(65537, modulus).public_key()
    assert did.public_jwk(public_key) == {"kty": "RSA", "n": n, "e": "AQAB"}
    assert did.jwk_thumbprint(public_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_key_fragments() -> None:
    ed_key = ed25519.Ed25519PrivateKey.generate().public_key()
    assert did.key_fragment(ed_key) == did.multikey(ed_key)
    assert did.key_fragment(ed_key).startswith("z6Mk")
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert did.key_fragment(p256) == did.jwk_thumbprint(p256)
    assert len(did.key_fragment(p256)) == 43


def test_other_curves_are_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(KeyringError) as raised:
        did.public_jwk(p384)
    assert raised.value.code == "key_type_unsupported"
