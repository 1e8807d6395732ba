"""VC-JWT signing and verification, and the attacks verification must refuse."""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import hmac
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from openbadgeslib.ob3.did import pem_for_kid
from openbadgeslib.ob3.verifier import OB3Verifier

from issuer import did, keyring
from issuer.errors import KeyringError, ProofError
from issuer.proofs import vc_jwt
from issuer.proofs.vc_jwt import MAX_TOKEN_BYTES, read_unverified, sign_vc_jwt, verify_vc_jwt

PASSPHRASE = b"vc-jwt test passphrase"
ISSUER_DID = "did:web:127.0.0.1%3A5000"
FOREIGN_DID = "did:web:evil.example"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vc-jwt") / "keys"
    keyring.generate_missing(path, PASSPHRASE)
    return path


@pytest.fixture(scope="module")
def ring(keys_dir: Path) -> keyring.Keyring:
    return keyring.Keyring.load(
        keys_dir, PASSPHRASE, controller=ISSUER_DID, allow_unencrypted=False
    )


@pytest.fixture(scope="module")
def foreign_ring(tmp_path_factory: pytest.TempPathFactory) -> keyring.Keyring:
    """Another issuer's keys: valid signatures, but nothing our issuer published."""
    path = tmp_path_factory.mktemp("foreign") / "keys"
    keyring.generate_missing(path, PASSPHRASE)
    return keyring.Keyring.load(path, PASSPHRASE, controller=FOREIGN_DID, allow_unencrypted=False)


def make_credential(**changes: Any) -> dict[str, Any]:
    credential: dict[str, Any] = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": "urn:uuid:5b9c1c9e-7a40-4b8e-9a0a-2f7e3c1d0a11",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": ISSUER_DID, "type": ["Profile"], "name": "Example Issuer"},
        "validFrom": "2024-01-01T00:00:00Z",
        "validUntil": "2099-01-01T00:00:00Z",
        "name": "Computer User Support Specialist, level 1",
        "credentialSubject": {
            "id": "urn:uuid:0e7d8c3e-2f61-4f0b-8d3f-5a6b7c8d9e0f",
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "http://127.0.0.1:5000/achievements/cuss/1",
                "type": ["Achievement"],
                "name": "Level 1 — première étape",
                "description": "Helps users with everyday computer problems.",
                "criteria": {"narrative": "Demonstrated every level 1 statement."},
            },
        },
        "proof": [{"type": "DataIntegrityProof", "proofValue": "z123"}],
    }
    credential.update(changes)
    return {name: value for name, value in credential.items() if value is not None}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "==")),
        json.loads(base64.urlsafe_b64decode(payload + "==")),
    )


def raw_sign(private_key: Any, alg: str, signing_input: bytes) -> bytes:
    """A JWS signature made without PyJWT, so tests control every byte of the token."""
    if alg == "RS256":
        return private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    if alg == "ES256":
        r, s = decode_dss_signature(private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return private_key.sign(signing_input)


def forge(
    header: dict[str, Any] | str,
    payload: dict[str, Any] | str,
    private_key: Any,
    alg: str,
) -> str:
    """A compact JWS over any header and payload, signed with ``private_key`` as ``alg``."""
    header_part = header if isinstance(header, str) else b64url_json(header)
    payload_part = payload if isinstance(payload, str) else b64url_json(payload)
    signing_input = f"{header_part}.{payload_part}".encode()
    return f"{header_part}.{payload_part}.{b64url(raw_sign(private_key, alg, signing_input))}"


def payload_for(credential: dict[str, Any]) -> dict[str, Any]:
    """The payload sign_vc_jwt would make, for tests that forge a variant of it."""
    payload = {name: value for name, value in credential.items() if name != "proof"}
    payload.update(
        iss=credential["issuer"]["id"],
        sub=credential["credentialSubject"]["id"],
        jti=credential["id"],
        nbf=1704067200,
        exp=4070908800,
    )
    return payload


def verify(token: str, ring: keyring.Keyring, now: datetime = NOW) -> dict[str, Any]:
    return verify_vc_jwt(token, ring.find, now=now)


@pytest.mark.parametrize("alg", keyring.ALGORITHMS)
def test_round_trip(ring: keyring.Keyring, alg: str) -> None:
    credential = make_credential()
    token = sign_vc_jwt(credential, ring.signing_key(alg))
    header, payload = segments(token)
    assert header == {"alg": alg, "kid": ring.signing_key(alg).kid, "typ": "JWT"}
    assert "proof" not in payload
    assert payload["iss"] == ISSUER_DID
    assert payload["sub"] == credential["credentialSubject"]["id"]
    assert payload["jti"] == credential["id"]
    assert payload["nbf"] == 1704067200
    assert payload["exp"] == 4070908800
    expected = {name: value for name, value in credential.items() if name != "proof"}
    assert verify(token, ring) == expected


def test_signing_leaves_the_credential_alone(ring: keyring.Keyring) -> None:
    credential = make_credential()
    before = copy.deepcopy(credential)
    sign_vc_jwt(credential, ring.signing_key("RS256"))
    assert credential == before


def test_optional_claims_follow_the_credential(ring: keyring.Keyring) -> None:
    credential = make_credential(validUntil=None, issuer=ISSUER_DID)
    del credential["credentialSubject"]["id"]
    token = sign_vc_jwt(credential, ring.signing_key("ES256"))
    _, payload = segments(token)
    assert payload["iss"] == ISSUER_DID
    assert "exp" not in payload
    assert "sub" not in payload
    assert verify(token, ring)["issuer"] == ISSUER_DID


@pytest.mark.parametrize("alg", ["RS256", "EdDSA"])
def test_deterministic_algorithms_give_the_same_token(ring: keyring.Keyring, alg: str) -> None:
    credential = make_credential()
    key = ring.signing_key(alg)
    assert sign_vc_jwt(credential, key) == sign_vc_jwt(credential, key)


@pytest.mark.parametrize("alg", keyring.ALGORITHMS)
def test_openbadgeslib_verifies_our_token(ring: keyring.Keyring, alg: str) -> None:
    # openbadgeslib picks the key by kid from our DID document (given to it here rather
    # than fetched over HTTP) and pins the algorithm to that key's type.
    document = did.did_document(ISSUER_DID, ring.public_keys())
    token = sign_vc_jwt(make_credential(), ring.signing_key(alg))
    public_key_pem = pem_for_kid(document, ISSUER_DID, ring.signing_key(alg).kid)
    verified = OB3Verifier(public_key_pem, issuer_did=ISSUER_DID).verify(token)
    assert verified.issuer.id == ISSUER_DID
    assert verified.achievement.name == "Level 1 — première étape"


def test_a_token_signed_before_rotation_still_verifies(keys_dir: Path, tmp_path: Path) -> None:
    copy_dir = tmp_path / "keys"
    shutil.copytree(keys_dir, copy_dir)
    before = keyring.Keyring.load(
        copy_dir, PASSPHRASE, controller=ISSUER_DID, allow_unencrypted=False
    )
    token = sign_vc_jwt(make_credential(), before.signing_key("ES256"))
    keyring.rotate(copy_dir, PASSPHRASE, "ES256")
    after = keyring.Keyring.load(
        copy_dir, PASSPHRASE, controller=ISSUER_DID, allow_unencrypted=False
    )
    assert after.signing_key("ES256").kid != before.signing_key("ES256").kid
    assert verify(token, after)["id"] == make_credential()["id"]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"issuer": None}, "jwt_credential_invalid"),
        ({"issuer": {"type": ["Profile"]}}, "jwt_credential_invalid"),
        ({"validFrom": None}, "jwt_credential_invalid"),
        ({"validFrom": "2024-01-01T00:00:00"}, "jwt_credential_invalid"),
        ({"validUntil": "tomorrow"}, "jwt_credential_invalid"),
    ],
)
def test_signing_refuses_an_incomplete_credential(
    ring: keyring.Keyring, changes: dict[str, Any], code: str
) -> None:
    with pytest.raises(ProofError) as raised:
        sign_vc_jwt(make_credential(**changes), ring.signing_key("RS256"))
    assert raised.value.code == code


@dataclass(frozen=True)
class Rings:
    ours: keyring.Keyring
    foreign: keyring.Keyring

    def key(self, alg: str) -> Any:
        return self.ours.signing_key(alg)


def header(rings: Rings, alg: str, /, **extra: Any) -> dict[str, Any]:
    """The header our key of ``alg`` makes, with ``extra`` members (None removes one)."""
    members = {"alg": alg, "kid": rings.key(alg).kid, "typ": "JWT", **extra}
    return {name: value for name, value in members.items() if value is not None}


def with_payload(alg: str, /, **changes: Any) -> Callable[[Rings], str]:
    """A correctly signed token whose payload differs from the credential as given."""

    def build(rings: Rings) -> str:
        payload = {**payload_for(make_credential()), **changes}
        payload = {name: value for name, value in payload.items() if value is not None}
        return forge(header(rings, alg), payload, rings.key(alg).private_key, alg)

    return build


def with_header(alg: str, /, **extra: Any) -> Callable[[Rings], str]:
    """A correctly signed token whose header carries ``extra`` members."""

    def build(rings: Rings) -> str:
        payload = payload_for(make_credential())
        return forge(header(rings, alg, **extra), payload, rings.key(alg).private_key, alg)

    return build


def tampered_payload(rings: Rings) -> str:
    token = sign_vc_jwt(make_credential(), rings.key("RS256"))
    header_part, _, signature = token.split(".")
    forged = payload_for(make_credential(name="Level 5 — expert"))
    return f"{header_part}.{b64url_json(forged)}.{signature}"


def tampered_signature(rings: Rings) -> str:
    token = sign_vc_jwt(make_credential(), rings.key("EdDSA"))
    head, payload, signature = token.split(".")
    flipped = bytearray(base64.urlsafe_b64decode(signature + "=="))
    flipped[0] ^= 1
    return f"{head}.{payload}.{b64url(bytes(flipped))}"


def alg_none(rings: Rings) -> str:
    head = b64url_json({"alg": "none", "kid": rings.key("RS256").kid, "typ": "JWT"})
    return f"{head}.{b64url_json(payload_for(make_credential()))}."


def hs256_with_public_key(rings: Rings) -> str:
    # The classic confusion: HMAC keyed with the issuer's public key PEM, which anyone has.
    secret = rings.key("RS256").public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = b64url_json({"alg": "HS256", "kid": rings.key("RS256").kid, "typ": "JWT"})
    body = b64url_json(payload_for(make_credential()))
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


def header_alg_swapped(rings: Rings) -> str:
    # Signed by the P-256 key, but the header claims RS256 for it.
    head = {"alg": "RS256", "kid": rings.key("ES256").kid, "typ": "JWT"}
    return forge(head, payload_for(make_credential()), rings.key("ES256").private_key, "ES256")


def rsa_key_under_ed25519_kid(rings: Rings) -> str:
    head = {"alg": "RS256", "kid": rings.key("EdDSA").kid, "typ": "JWT"}
    return forge(head, payload_for(make_credential()), rings.key("RS256").private_key, "RS256")


def unknown_kid(rings: Rings) -> str:
    head = {"alg": "ES256", "kid": f"{ISSUER_DID}#not-a-key", "typ": "JWT"}
    return forge(head, payload_for(make_credential()), rings.key("ES256").private_key, "ES256")


def kid_of_another_issuer(rings: Rings) -> str:
    return sign_vc_jwt(make_credential(), rings.foreign.signing_key("RS256"))


def our_key_for_another_issuer(rings: Rings) -> str:
    credential = make_credential(issuer={"id": FOREIGN_DID, "type": ["Profile"]})
    return sign_vc_jwt(credential, rings.key("RS256"))


def missing_kid(rings: Rings) -> str:
    head = {"alg": "ES256", "typ": "JWT"}
    return forge(head, payload_for(make_credential()), rings.key("ES256").private_key, "ES256")


def oversized(rings: Rings) -> str:
    credential = make_credential(description="x" * MAX_TOKEN_BYTES)
    return sign_vc_jwt(credential, rings.key("EdDSA"))


def signed(credential_changes: dict[str, Any], alg: str = "EdDSA") -> Callable[[Rings], str]:
    def build(rings: Rings) -> str:
        return sign_vc_jwt(make_credential(**credential_changes), rings.key(alg))

    return build


def raw(text: str) -> Callable[[Rings], str]:
    return lambda rings: text


def duplicate_alg_header(rings: Rings) -> str:
    kid = rings.key("ES256").kid
    head = b64url(f'{{"alg":"HS256","kid":"{kid}","typ":"JWT","alg":"ES256"}}'.encode())
    return forge(head, payload_for(make_credential()), rings.key("ES256").private_key, "ES256")


def header_is_array(rings: Rings) -> str:
    return forge(
        b64url_json(["ES256"]),
        payload_for(make_credential()),
        rings.key("ES256").private_key,
        "ES256",
    )


def payload_is_array(rings: Rings) -> str:
    head = header(rings, "ES256")
    return forge(head, b64url_json([1, 2]), rings.key("ES256").private_key, "ES256")


def payload_with_infinite_exp(rings: Rings) -> str:
    body = json.dumps(payload_for(make_credential())).replace("4070908800", "1e999")
    return forge(
        header(rings, "ES256"), b64url(body.encode()), rings.key("ES256").private_key, "ES256"
    )


def payload_with_nan(rings: Rings) -> str:
    body = b64url(b'{"iss":NaN}')
    return forge(header(rings, "ES256"), body, rings.key("ES256").private_key, "ES256")


HOUR_AGO = "2025-06-01T11:00:00Z"
IN_AN_HOUR = "2025-06-01T13:00:00Z"

ATTACKS: list[tuple[str, Callable[[Rings], str], str]] = [
    ("tampered payload", tampered_payload, "jwt_bad_signature"),
    ("tampered signature", tampered_signature, "jwt_bad_signature"),
    ("alg none", alg_none, "jwt_alg_not_allowed"),
    ("HS256 keyed with the public key", hs256_with_public_key, "jwt_alg_not_allowed"),
    ("header alg swapped", header_alg_swapped, "jwt_alg_not_allowed"),
    ("RSA signature under the Ed25519 kid", rsa_key_under_ed25519_kid, "jwt_alg_not_allowed"),
    ("alg RS512", with_header("RS256", alg="RS512"), "jwt_alg_not_allowed"),
    ("alg a list", with_header("RS256", alg=["RS256"]), "jwt_alg_not_allowed"),
    ("alg missing", with_header("RS256", alg=None), "jwt_alg_not_allowed"),
    ("unknown kid", unknown_kid, "unknown_key"),
    ("kid of another issuer", kid_of_another_issuer, "unknown_key"),
    ("our key vouching for another issuer", our_key_for_another_issuer, "jwt_kid_issuer_mismatch"),
    ("missing kid", missing_kid, "jwt_kid_missing"),
    ("empty kid", with_header("ES256", kid=""), "jwt_kid_missing"),
    ("crit header", with_header("ES256", crit=["exp"]), "jwt_header_not_allowed"),
    ("jku header", with_header("ES256", jku="https://evil.example/jwks"), "jwt_header_not_allowed"),
    ("x5u header", with_header("ES256", x5u="https://evil.example/cert"), "jwt_header_not_allowed"),
    ("x5c header", with_header("ES256", x5c=["MIIB"]), "jwt_header_not_allowed"),
    ("jwk header", with_header("ES256", jwk={"kty": "EC"}), "jwt_header_not_allowed"),
    ("b64 header", with_header("ES256", b64=False), "jwt_header_not_allowed"),
    ("typ at+jwt", with_header("ES256", typ="at+jwt"), "jwt_header_not_allowed"),
    ("typ an object", with_header("ES256", typ={"a": 1}), "jwt_header_not_allowed"),
    ("oversized token", oversized, "jwt_too_large"),
    ("iss differs", with_payload("ES256", iss=FOREIGN_DID), "jwt_claims_mismatch"),
    ("iss missing", with_payload("ES256", iss=None), "jwt_claims_mismatch"),
    ("sub differs", with_payload("ES256", sub="urn:uuid:someone-else"), "jwt_claims_mismatch"),
    ("sub missing", with_payload("ES256", sub=None), "jwt_claims_mismatch"),
    ("jti differs", with_payload("ES256", jti="urn:uuid:another"), "jwt_claims_mismatch"),
    ("nbf differs", with_payload("ES256", nbf=1704067200 - 3600), "jwt_claims_mismatch"),
    ("nbf missing", with_payload("ES256", nbf=None), "jwt_claims_mismatch"),
    ("nbf a string", with_payload("ES256", nbf="1704067200"), "jwt_claims_mismatch"),
    ("nbf a boolean", with_payload("ES256", nbf=True), "jwt_claims_mismatch"),
    ("exp differs", with_payload("ES256", exp=4102444800), "jwt_claims_mismatch"),
    ("exp missing", with_payload("ES256", exp=None), "jwt_claims_mismatch"),
    ("exp infinite", payload_with_infinite_exp, "jwt_malformed"),  # 1e999: json_number_too_large
    ("exp without validUntil", with_payload("ES256", validUntil=None), "jwt_claims_mismatch"),
    ("expired", signed({"validUntil": HOUR_AGO}), "jwt_expired"),
    ("not yet valid", signed({"validFrom": IN_AN_HOUR}), "jwt_not_yet_valid"),
    ("not a JWS", raw("not-a-token"), "jwt_malformed"),
    ("four segments", raw("a.b.c.d"), "jwt_malformed"),
    ("spaces inside", raw("eyJh bGc.e30.AA"), "jwt_malformed"),
    ("header not base64", raw("@@@.e30.AA"), "jwt_malformed"),
    ("header not JSON", raw(f"{b64url(b'alg')}.e30.AA"), "jwt_malformed"),
    ("header an array", header_is_array, "jwt_malformed"),
    ("duplicate alg in header", duplicate_alg_header, "jwt_malformed"),
    ("payload an array", payload_is_array, "jwt_malformed"),
    ("payload with NaN", payload_with_nan, "jwt_malformed"),
]


@pytest.mark.parametrize(
    ("build", "code"),
    [(build, code) for _, build, code in ATTACKS],
    ids=[name for name, _, _ in ATTACKS],
)
def test_verification_refuses(
    ring: keyring.Keyring, foreign_ring: keyring.Keyring, build: Callable[[Rings], str], code: str
) -> None:
    token = build(Rings(ring, foreign_ring))
    with pytest.raises(ProofError) as raised:
        verify(token, ring)
    assert raised.value.code == code


def test_a_token_that_is_not_a_string_is_malformed(ring: keyring.Keyring) -> None:
    with pytest.raises(ProofError) as raised:
        verify_vc_jwt(b"a.b.c", ring.find)  # type: ignore[arg-type]
    assert raised.value.code == "jwt_malformed"


def test_the_forging_helper_makes_valid_tokens(
    ring: keyring.Keyring, foreign_ring: keyring.Keyring
) -> None:
    # Guards the attack table: its tokens fail for the reason named, not a broken helper.
    rings = Rings(ring, foreign_ring)
    for alg in keyring.ALGORITHMS:
        assert verify(with_payload(alg)(rings), ring)["id"] == make_credential()["id"]


def test_time_errors_carry_the_verified_credential(ring: keyring.Keyring) -> None:
    token = sign_vc_jwt(make_credential(validUntil=HOUR_AGO), ring.signing_key("RS256"))
    with pytest.raises(ProofError) as raised:
        verify(token, ring)
    assert raised.value.details["credential"]["validUntil"] == HOUR_AGO


@pytest.mark.parametrize(
    ("now", "passes"),
    [
        (NOW + timedelta(seconds=59), True),
        (NOW + timedelta(seconds=61), False),
    ],
)
def test_expiry_has_sixty_seconds_of_leeway(
    ring: keyring.Keyring, now: datetime, passes: bool
) -> None:
    token = sign_vc_jwt(
        make_credential(validUntil="2025-06-01T12:00:00Z"), ring.signing_key("EdDSA")
    )
    if passes:
        verify(token, ring, now=now)
    else:
        with pytest.raises(ProofError, match="jwt_expired"):
            verify(token, ring, now=now)


@pytest.mark.parametrize(
    ("now", "passes"),
    [
        (NOW - timedelta(seconds=59), True),
        (NOW - timedelta(seconds=61), False),
    ],
)
def test_not_before_has_sixty_seconds_of_leeway(
    ring: keyring.Keyring, now: datetime, passes: bool
) -> None:
    token = sign_vc_jwt(
        make_credential(validFrom="2025-06-01T12:00:00Z"), ring.signing_key("EdDSA")
    )
    if passes:
        verify(token, ring, now=now)
    else:
        with pytest.raises(ProofError, match="jwt_not_yet_valid"):
            verify(token, ring, now=now)


def test_a_resolver_key_of_the_wrong_type_is_refused(ring: keyring.Keyring) -> None:
    token = sign_vc_jwt(make_credential(), ring.signing_key("RS256"))

    @dataclass
    class Confused:
        kid: str
        alg: str
        public_key: Any

    wrong = Confused(ring.signing_key("RS256").kid, "RS256", ring.signing_key("EdDSA").public_key)
    with pytest.raises(ProofError) as raised:
        verify_vc_jwt(token, lambda kid: wrong, now=NOW)
    assert raised.value.code == "jwt_key_invalid"


def test_a_short_rsa_key_is_refused(ring: keyring.Keyring) -> None:
    # A weak key on purpose: verification must refuse it.
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505

    @dataclass
    class Published:
        kid: str
        alg: str
        public_key: Any

    published = Published(f"{ISSUER_DID}#short", "RS256", short.public_key())
    head = {"alg": "RS256", "kid": published.kid, "typ": "JWT"}
    token = forge(head, payload_for(make_credential()), short, "RS256")
    with pytest.raises(ProofError) as raised:
        verify_vc_jwt(token, lambda kid: published, now=NOW)
    assert raised.value.code == "jwt_key_invalid"


@settings(max_examples=25, deadline=None)
@given(name=st.text(max_size=40), position=st.integers(min_value=0))
def test_any_change_to_the_signed_bytes_fails(
    ring: keyring.Keyring, name: str, position: int
) -> None:
    token = sign_vc_jwt(make_credential(name=name), ring.signing_key("EdDSA"))
    assert verify(token, ring)["name"] == name
    head, payload, signature = token.split(".")
    body = bytearray(base64.urlsafe_b64decode(payload + "=="))
    body[position % len(body)] ^= 0x01
    with pytest.raises(ProofError):
        verify(f"{head}.{b64url(bytes(body))}.{signature}", ring)


def _resigned(token: str, signature: bytes) -> str:
    head, payload, _ = token.split(".")
    return f"{head}.{payload}.{b64url(signature)}"


def test_the_compact_jws_reader_keeps_the_rules_of_the_jws_library(
    ring: keyring.Keyring,
) -> None:
    """The strict reader that replaced PyJWT's decode refuses what it refused."""
    es256 = ring.signing_key("ES256")
    token = sign_vc_jwt(make_credential(), es256)
    head, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    half = len(raw) // 2
    der = encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
    cases = {
        "DER instead of r || s": (_resigned(token, der), "jwt_bad_signature"),
        "signature cut short": (_resigned(token, raw[:-1]), "jwt_bad_signature"),
        "signature one byte long": (_resigned(token, raw + b"\0"), "jwt_bad_signature"),
        "empty signature": (f"{head}.{payload}.", "jwt_bad_signature"),
        # As with PyJWT: a dangling character decodes to other bytes, which do not match.
        "signature of 4k+1 characters": (f"{head}.{payload}.{signature}A", "jwt_bad_signature"),
        "padded signature": (f"{token}=", "jwt_malformed"),
        "payload re-encoded with padding": (f"{head}.{payload}==.{signature}", "jwt_malformed"),
    }
    for name, (forged, code) in cases.items():
        with pytest.raises(ProofError) as raised:
            verify(forged, ring)
        assert raised.value.code == code, name
    assert verify(token, ring)["id"] == make_credential()["id"]


def test_an_ec_key_of_another_curve_than_its_algorithm_is_key_invalid(
    ring: keyring.Keyring,
) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())

    @dataclass
    class Published:
        kid: str
        alg: str
        public_key: Any

    published = Published(f"{ISSUER_DID}#p256-as-es384", "ES384", p256.public_key())
    head = {"alg": "ES384", "kid": published.kid, "typ": "JWT"}
    token = forge(head, payload_for(make_credential()), p256, "ES256")
    with pytest.raises(ProofError) as raised:
        verify_vc_jwt(token, lambda kid: published, now=NOW)
    assert raised.value.code == "jwt_key_invalid"


# What the strict reader made of a token's signed part (header.payload) is remembered by
# its digest, and a token whose signed part was read before skips reading it again
# (vc_jwt._Jws). The tests below feed tampered tokens through that path.


def _remembered(token: str) -> bool:
    signed = token.strip().rsplit(".", 1)[0].encode("ascii")
    return vc_jwt._STRICTLY_READ.get(hashlib.sha256(signed).digest()) is not None


@pytest.mark.parametrize(
    ("build", "code"),
    [(build, code) for _, build, code in ATTACKS],
    ids=[name for name, _, _ in ATTACKS],
)
def test_verification_refuses_alike_when_the_signed_part_was_read_before(
    ring: keyring.Keyring, foreign_ring: keyring.Keyring, build: Callable[[Rings], str], code: str
) -> None:
    token = build(Rings(ring, foreign_ring))
    # The verification service reads a token unverified before it verifies it: a tampered
    # payload that reads as JSON is remembered as read, never as verified.
    with contextlib.suppress(ProofError):
        read_unverified(token)
    for _ in range(2):
        with pytest.raises(ProofError) as raised:
            verify(token, ring)
        assert raised.value.code == code


@pytest.mark.parametrize("alg", keyring.ALGORITHMS)
def test_a_remembered_signed_part_needs_its_own_good_signature(
    ring: keyring.Keyring, foreign_ring: keyring.Keyring, alg: str
) -> None:
    token = sign_vc_jwt(make_credential(), ring.signing_key(alg))
    verify(token, ring)
    assert _remembered(token)
    head, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    flipped = bytes([raw[0] ^ 1]) + raw[1:]
    # The same signed part signed by another issuer's key of the same algorithm.
    foreign = raw_sign(foreign_ring.signing_key(alg).private_key, alg, f"{head}.{payload}".encode())
    cases = {
        "a bit flipped": (f"{head}.{payload}.{b64url(flipped)}", "jwt_bad_signature"),
        "another key's signature": (f"{head}.{payload}.{b64url(foreign)}", "jwt_bad_signature"),
        "no signature": (f"{head}.{payload}.", "jwt_bad_signature"),
        "cut short": (f"{head}.{payload}.{signature[:-4]}", "jwt_bad_signature"),
        "padded": (f"{token}==", "jwt_malformed"),
        "standard base64": (f"{token[:-1]}+", "jwt_malformed"),
        "a fourth segment": (f"{token}.{signature}", "jwt_malformed"),
        "no signature segment": (f"{head}.{payload}", "jwt_malformed"),
        "a space inside": (f"{head}.{payload}.{signature[:5]} {signature[5:]}", "jwt_malformed"),
        "a non-ASCII letter": (f"{head}.{payload}.{signature[:-1]}é", "jwt_malformed"),
    }
    for name, (forged, code) in cases.items():
        with pytest.raises(ProofError) as raised:
            verify(forged, ring)
        assert raised.value.code == code, name
    assert verify(token, ring)["id"] == make_credential()["id"]


def test_a_non_ascii_letter_in_the_signed_part_is_malformed(ring: keyring.Keyring) -> None:
    token = sign_vc_jwt(make_credential(), ring.signing_key("EdDSA"))
    head, payload, signature = token.split(".")
    for forged in (f"{head}é.{payload}.{signature}", f"{head}.{payload[:-1]}é.{signature}"):
        for _ in range(2):
            with pytest.raises(ProofError) as raised:
                verify(forged, ring)
            assert raised.value.code == "jwt_malformed"


def test_a_remembered_token_meets_the_clock_and_the_key_anew(
    ring: keyring.Keyring, foreign_ring: keyring.Keyring
) -> None:
    token = sign_vc_jwt(
        make_credential(validUntil="2025-06-01T12:00:00Z"), ring.signing_key("RS256")
    )
    verify(token, ring)
    assert _remembered(token)
    with pytest.raises(ProofError, match="jwt_expired"):
        verify(token, ring, now=NOW + timedelta(hours=1))

    def withdrawn(kid: str) -> Any:
        raise KeyringError("unknown_key", f"No key {kid}.")

    with pytest.raises(ProofError) as raised:
        verify_vc_jwt(token, withdrawn, now=NOW)
    assert raised.value.code == "unknown_key"
    other = foreign_ring.signing_key("RS256")

    @dataclass
    class Published:
        kid: str
        alg: str
        public_key: Any

    with pytest.raises(ProofError) as raised:
        verify_vc_jwt(token, lambda kid: Published(kid, "RS256", other.public_key), now=NOW)
    assert raised.value.code == "jwt_bad_signature"
    with pytest.raises(ProofError) as raised:
        verify_vc_jwt(token, lambda kid: Published(kid, "ES256", other.public_key), now=NOW)
    assert raised.value.code == "jwt_key_invalid"


def test_each_reader_gets_a_credential_of_its_own(ring: keyring.Keyring) -> None:
    token = sign_vc_jwt(make_credential(), ring.signing_key("ES256"))
    first = verify(token, ring)
    first["credentialSubject"]["achievement"]["name"] = "Changed by a caller"
    first["type"].append("Changed")
    header, unverified = read_unverified(token)
    header["alg"] = "none"
    unverified["issuer"]["id"] = FOREIGN_DID
    expected = {name: value for name, value in make_credential().items() if name != "proof"}
    assert verify(token, ring) == expected
    assert read_unverified(token) == (
        {"alg": "ES256", "kid": ring.signing_key("ES256").kid, "typ": "JWT"},
        expected,
    )
