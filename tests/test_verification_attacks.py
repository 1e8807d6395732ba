"""Every class of bad input the verification issue lists: a clear code, never a 500, quickly.

A credential that was read gets ``200`` with ``verified: false`` and the failing check's code;
a request that cannot be read at all gets a 4xx problem with a code.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_baking import chunk, itxt, small_png
from test_fetch import Answer, DocumentServer

from issuer import baking
from issuer.fetch import Fetcher
from issuer.verification import VerificationService
from issuer.verification.status import StatusUnavailable, decode_bitstring


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_jwt(issued: dict[str, Any], header: dict[str, Any], key: bytes | None = None) -> str:
    payload = issued["jwt"].split(".")[1]
    signing_input = f"{b64(json.dumps(header).encode())}.{payload}"
    signature = (
        b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{b64(signature)}"


def our_kid(issued: dict[str, Any]) -> str:
    header = issued["jwt"].split(".")[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


def public_pem(app: Flask) -> bytes:
    from cryptography.hazmat.primitives import serialization

    with app.app_context():
        key = next(
            key for key in app.extensions["issuer"].keyring().public_keys() if key.alg == "RS256"
        )
    return key.public_key.public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def proof_of(credential: dict[str, Any]) -> dict[str, Any]:
    proof: dict[str, Any] = credential["proof"][0]
    return proof


Change = Callable[[dict[str, Any]], None]


def _set(path: tuple[Any, ...], value: Any) -> Change:
    def change(credential: dict[str, Any]) -> None:
        target = credential
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


ALIGNMENT = {
    "type": ["Alignment"],
    "targetName": "Help desk",
    "targetUrl": "https://example.org/help-desk",
    "targetType": "ext:Skill",
}
CREDENTIAL_ATTACKS: list[tuple[str, Change, str, str]] = [
    (
        "unknown @context",
        lambda c: c["@context"].append("https://evil.example/context.json"),
        "proof",
        "context_not_allowed",
    ),
    (
        "remote @context instead of OB",
        _set(("@context", 1), "https://evil.example/ob.json"),
        "structure",
        "context_invalid",
    ),
    ("undefined term added", _set(("favouriteColour",), "blue"), "proof", "undefined_term"),
    (
        "undefined nested term",
        _set(("credentialSubject", "achievement", "secretLevel"), "Expert"),
        "proof",
        "undefined_term",
    ),
    (
        "wrong proofPurpose",
        lambda c: proof_of(c).update(proofPurpose="authentication"),
        "proof",
        "proof_purpose_invalid",
    ),
    (
        "wrong cryptosuite",
        lambda c: proof_of(c).update(cryptosuite="ecdsa-jcs-2019"),
        "proof",
        "cryptosuite_unsupported",
    ),
    (
        "an ECDSA cryptosuite for our Ed25519 key",
        lambda c: proof_of(c).update(cryptosuite="ecdsa-rdfc-2019"),
        "proof",
        "key_type_invalid",
    ),
    (
        "wrong proof type",
        lambda c: proof_of(c).update(type="Ed25519Signature2018"),
        "proof",
        "proof_type_unsupported",
    ),
    (
        "method of another DID",
        lambda c: proof_of(c).update(verificationMethod="did:web:evil.example#key-1"),
        "proof",
        "verification_method_not_issuers",
    ),
    (
        "method not published",
        lambda c: proof_of(c).update(verificationMethod=c["issuer"]["id"] + "#not-a-key"),
        "proof",
        "verification_method_not_listed",
    ),
    ("proof removed", lambda c: c.pop("proof"), "proof", "proof_missing"),
    (
        "proof value garbage",
        lambda c: proof_of(c).update(proofValue="zzz"),
        "proof",
        "proof_value_malformed",
    ),
    (
        "control character",
        _set(("name",), "Proficient\u0007"),
        "proof",
        "control_character",
    ),
    (
        "blank nodes that look alike (a poison graph)",
        _set(
            ("credentialSubject", "result"),
            [{"type": ["Result"], "alignment": [ALIGNMENT] * 8}] * 2,
        ),
        "proof",
        "canonicalization_too_complex",
    ),
    (
        "five thousand evidence items",
        _set(("evidence",), [{"type": ["Evidence"], "narrative": "x"}] * 5000),
        "proof",
        "document_too_complex",
    ),
    (
        "status index out of range",
        _set(("credentialStatus", "statusListIndex"), "99999999"),
        "status",
        "status_index_out_of_range",
    ),
    (
        "status purpose unknown",
        _set(("credentialStatus", "statusPurpose"), "message"),
        "status",
        "status_not_checked",
    ),
    (
        "status list elsewhere, unreachable",
        _set(("credentialStatus", "statusListCredential"), "https://10.0.0.1/status/1"),
        "status",
        "fetch_address_refused",
    ),
    (
        "expiry far in the past",
        _set(("validUntil",), "2001-01-01T00:00:00Z"),
        "validity",
        "expired",
    ),
    ("not valid yet", _set(("validFrom",), "2999-01-01T00:00:00Z"), "validity", "not_yet_valid"),
]


@pytest.mark.parametrize(
    ("change", "check", "code"),
    [attack[1:] for attack in CREDENTIAL_ATTACKS],
    ids=[attack[0] for attack in CREDENTIAL_ATTACKS],
)
def test_changed_credentials_fail_with_a_code(
    client: FlaskClient, issued: dict[str, Any], change: Change, check: str, code: str
) -> None:
    credential = copy.deepcopy(issued["credential"])
    change(credential)
    response = client.post("/api/v1/verify", json=credential)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["verified"] is False
    found = {item["check"]: (item["status"], item["code"]) for item in body["checks"]}
    assert found[check] == ("fail", code), found


@pytest.mark.parametrize(
    "issuer_did",
    [
        "did:web:localhost%3A8443",
        "did:web:10.0.0.1",
        "did:web:169.254.169.254",
        "did:web:127.0.0.1",
    ],
)
def test_did_web_pointing_at_private_addresses_is_not_fetched(
    client: FlaskClient, issued: dict[str, Any], issuer_did: str
) -> None:
    credential = copy.deepcopy(issued["credential"])
    credential["issuer"]["id"] = issuer_did
    proof_of(credential)["verificationMethod"] = f"{issuer_did}#key-1"
    body = client.post("/api/v1/verify", json=credential).json
    found = {item["check"]: item["code"] for item in body["checks"]}
    assert found["proof"] == "fetch_address_refused"


@pytest.fixture
def hostile_host(app: Flask) -> Iterator[tuple[DocumentServer, VerificationService]]:
    server = DocumentServer().start()
    with app.app_context():
        services = app.extensions["issuer"]
        service = VerificationService.build(
            own_did=services.issuer_profile.id,
            own_keys=lambda: services.keyring().public_keys(),
            base_url=services.base_url,
            fetcher=Fetcher({("127.0.0.1", server.port)}, timeout=0.5),
        )
    yield server, service
    server.stop()


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (
            Answer(status=302, headers={"Location": "http://169.254.169.254/"}),
            "fetch_redirect_refused",
        ),
        (Answer(b"{" + b" " * (300 * 1024) + b"}"), "fetch_too_large"),
        (Answer(delay=1.0), "fetch_timeout"),
        (Answer(b'{"id": "did:web:someone-else"}'), "controller_document_mismatch"),
        (Answer(b'{"id": 1, "id": 2}'), "controller_document_invalid"),
    ],
    ids=["redirect", "huge", "slow", "describes someone else", "duplicate keys"],
)
def test_hostile_did_documents_are_refused(
    hostile_host: tuple[DocumentServer, VerificationService],
    issued: dict[str, Any],
    answer: Answer,
    code: str,
) -> None:
    server, service = hostile_host
    did = f"did:web:127.0.0.1%3A{server.port}"
    server.routes["/.well-known/did.json"] = answer
    credential = copy.deepcopy(issued["credential"])
    credential["issuer"]["id"] = did
    proof_of(credential)["verificationMethod"] = f"{did}#key-1"
    report = service.verify_document(credential)
    assert {item.check: item.code for item in report.checks}["proof"] == code


def test_a_status_list_signed_by_someone_else_cannot_vouch(
    hostile_host: tuple[DocumentServer, VerificationService], issued: dict[str, Any], app: Flask
) -> None:
    """A list at another URL that claims our issuer but carries no proof of ours."""
    server, service = hostile_host
    with app.app_context():
        ours = app.extensions["issuer"].revocation.list_credential("1")
    forged = copy.deepcopy(ours)
    forged["credentialSubject"]["encodedList"] = "u" + b64(gzip.compress(bytes(16384)))
    server.routes["/list"] = Answer(json.dumps(forged).encode())
    credential = copy.deepcopy(issued["credential"])
    credential["credentialStatus"]["statusListCredential"] = server.url("/list")
    report = service.verify_document(credential)
    status = report.outcome("status")
    assert status is not None and status.status == "fail"
    assert status.code == "status_list_unverified"
    assert "could not be checked" in status.message


@pytest.mark.parametrize(
    ("encoded", "code"),
    [
        ("u" + b64(gzip.compress(bytes(64 * 1024 * 1024))), "status_list_too_large"),
        ("u" + b64(b"not gzip"), "status_list_invalid"),
        ("u!!!", "status_list_invalid"),
        ("u" + b64(gzip.compress(bytes(100))[:-10]), "status_list_invalid"),
    ],
    ids=["gzip bomb", "not gzip", "not base64url", "cut short"],
)
def test_bad_encoded_lists_are_refused(encoded: str, code: str) -> None:
    with pytest.raises(StatusUnavailable) as raised:
        decode_bitstring(encoded)
    assert raised.value.code == code


def test_a_well_formed_list_decodes_msb_first() -> None:
    bits = bytearray(16384)
    bits[2] = 0x10
    assert decode_bitstring("u" + b64(gzip.compress(bytes(bits)))) == bytes(bits)


def _jwt_attacks() -> list[tuple[str, Callable[[dict[str, Any], Flask], str], str]]:
    return [
        (
            "alg none",
            lambda i, a: forged_jwt(i, {"alg": "none", "kid": our_kid(i)}),
            "jwt_alg_not_allowed",
        ),
        (
            "HS256 keyed with the public key",
            lambda i, a: forged_jwt(i, {"alg": "HS256", "kid": our_kid(i)}, public_pem(a)),
            "jwt_alg_not_allowed",
        ),
        (
            "unknown crit",
            lambda i, a: forged_jwt(i, {"alg": "RS256", "kid": our_kid(i), "crit": ["x"], "x": 1}),
            "jwt_header_not_allowed",
        ),
        (
            "jku",
            lambda i, a: forged_jwt(
                i, {"alg": "RS256", "kid": our_kid(i), "jku": "https://evil.example/k"}
            ),
            "jwt_header_not_allowed",
        ),
        (
            "x5u",
            lambda i, a: forged_jwt(
                i, {"alg": "RS256", "kid": our_kid(i), "x5u": "https://evil.example/c"}
            ),
            "jwt_header_not_allowed",
        ),
        (
            "x5c",
            lambda i, a: forged_jwt(i, {"alg": "RS256", "kid": our_kid(i), "x5c": ["MIIB"]}),
            "jwt_header_not_allowed",
        ),
        (
            "algorithm of another key",
            lambda i, a: forged_jwt(i, {"alg": "ES256", "kid": our_kid(i)}),
            "jwt_alg_not_allowed",
        ),
        (
            "unpublished jwk",
            lambda i, a: forged_jwt(
                i, {"alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(bytes(32))}}
            ),
            "jwt_jwk_not_published",
        ),
        (
            "kid of another DID",
            lambda i, a: forged_jwt(i, {"alg": "RS256", "kid": "did:web:evil.example#k"}),
            "verification_method_not_issuers",
        ),
    ]


@pytest.mark.parametrize(
    ("make", "code"),
    [attack[1:] for attack in _jwt_attacks()],
    ids=[attack[0] for attack in _jwt_attacks()],
)
def test_forged_jwts_fail_with_a_code(
    app: Flask, client: FlaskClient, issued: dict[str, Any], make: Any, code: str
) -> None:
    token = make(issued, app)
    body = client.post("/api/v1/verify", data=token, content_type="application/vc+jwt").json
    assert body["verified"] is False
    proof = next(item for item in body["checks"] if item["check"] == "proof")
    assert proof["code"] == code or code in proof["message"], proof


UNREADABLE: list[tuple[str, dict[str, Any], int, str]] = [
    ("JSON too deep", {"data": b'{"a":' * 40 + b"1" + b"}" * 40}, 400, "json_too_deep"),
    ("duplicate keys", {"data": b'{"id": "a", "id": "b"}'}, 400, "json_duplicate_key"),
    ("NaN", {"data": b'{"a": NaN}'}, 400, "json_constant_not_allowed"),
    ("lone surrogate", {"data": b'{"a": "\\ud800"}'}, 400, "json_lone_surrogate"),
    ("not UTF-8 JSON", {"data": b'{"a": "\xff"}'}, 400, "json_not_utf8"),
    ("5,000-digit integer", {"data": b'{"a": ' + b"9" * 5000 + b"}"}, 400, "json_number_too_large"),
    ("number past a double", {"data": b'{"a": [1e400]}'}, 400, "json_number_too_large"),
    (
        "batch with a long integer",
        {"data": b'[{"a": -' + b"1" * 4400 + b"}]"},
        400,
        "json_number_too_large",
    ),
    (
        "PNG with a long integer",
        {"data": small_png(itxt(b'{"a": ' + b"7" * 4400 + b"}"))},
        400,
        "json_number_too_large",
    ),
    ("garbage", {"data": b"\x00\x01\x02 hello"}, 422, "input_unrecognised"),
    ("plain words", {"data": b"this is my badge"}, 422, "input_unrecognised"),
    ("oversized token", {"data": b"a" * 300_000 + b".b.c"}, 413, "payload_too_large"),
    (
        "over the body limit",
        {"data": b"{" + b" " * (2 * 1024 * 1024) + b"}"},
        413,
        "payload_too_large",
    ),
    ("empty", {"data": b""}, 422, "body_empty"),
    (
        "SVG with an entity",
        {
            "data": b'<!DOCTYPE svg [<!ENTITY a "x">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>'
        },
        422,
        "svg_forbidden_construct",
    ),
    (
        "PNG with two credentials",
        {"data": small_png(itxt(b"a.b.c"), itxt(b"a.b.c"))},
        422,
        "baked_credential_duplicate",
    ),
    (
        "PNG compressed chunk",
        {"data": small_png(itxt(b"x", flag=1))},
        422,
        "baked_credential_compressed",
    ),
    ("PNG bad CRC", {"data": small_png(chunk(b"tEXt", b"a\x00b", crc=7))}, 422, "png_crc_mismatch"),
    (
        "PNG lying length",
        {"data": small_png()[:33] + b"\x7f\xff\xff\xffIDAT"},
        422,
        "png_truncated",
    ),
    (
        "non-image named badge.png",
        {"data": {"file": (b"GIF89a...", "badge.png")}},
        422,
        "input_unrecognised",
    ),
    (
        "a credential that is not an object",
        {"json": {"credential": [1]}},
        422,
        "credential_not_object",
    ),
    (
        "url not https",
        {"json": {"url": "http://example.org/badge.json"}},
        422,
        "fetch_scheme_refused",
    ),
    (
        "url to a private address",
        {"json": {"url": "https://127.0.0.1/badge.json"}},
        422,
        "fetch_address_refused",
    ),
    ("batch too large", {"json": [{}] * 51}, 422, "batch_too_large"),
]


@pytest.mark.parametrize(
    ("request_args", "status", "code"),
    [item[1:] for item in UNREADABLE],
    ids=[item[0] for item in UNREADABLE],
)
def test_requests_that_cannot_be_read_get_a_problem(
    client: FlaskClient, request_args: dict[str, Any], status: int, code: str
) -> None:
    # Uploads are given as bytes and opened here: a file object would be read (and
    # closed) by the first database's run of the same parameters.
    if "data" in request_args and isinstance(request_args["data"], dict):
        request_args = {
            **request_args,
            "data": {
                name: (io.BytesIO(value[0]), value[1]) if isinstance(value, tuple) else value
                for name, value in request_args["data"].items()
            },
        }
    response = client.post("/api/v1/verify", **request_args)
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code


def test_a_json_file_named_png_is_read_as_json(client: FlaskClient, issued: dict[str, Any]) -> None:
    upload = io.BytesIO(json.dumps(issued["credential"]).encode())
    body = client.post("/api/v1/verify", data={"file": (upload, "badge.png")}).json
    assert body["verified"] is True


def test_several_uploads_get_one_report_each(client: FlaskClient, issued: dict[str, Any]) -> None:
    files = [
        (io.BytesIO(baking.bake_png(small_png(), issued["jwt"])), "a.png"),
        (io.BytesIO(b"junk"), "b.png"),
    ]
    body = client.post("/api/v1/verify", data={"file": files}).json
    assert [report["verified"] for report in body] == [True, False]
    assert body[1]["checks"][0]["code"] == "input_unrecognised"


def test_the_page_shows_the_verdict_in_plain_words(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    page = client.get("/verify")
    assert page.status_code == 200
    assert b'<label for="verify-file">' in page.data
    good = client.post(
        "/verify",
        data={
            "file": (io.BytesIO(baking.bake_png(small_png(), issued["jwt"])), "badge.png"),
            "email": "grace.hopper@example.org",
        },
    )
    assert good.status_code == 200
    assert b'data-verdict="verified"' in good.data
    assert b"Grace Hopper" in good.data
    tampered = copy.deepcopy(issued["credential"])
    tampered["name"] = "<script>alert(1)</script>"
    bad = client.post("/verify", data={"credential": json.dumps(tampered)})
    assert b'data-verdict="not-verified"' in bad.data
    assert b"<script>alert(1)</script>" not in bad.data
    junk = client.post("/verify", data={"credential": "hello"})
    assert junk.status_code == 200
    assert b"input_unrecognised" in junk.data
    huge = client.post("/verify", data={"credential": '{"a": ' + "9" * 5000 + "}"})
    assert huge.status_code == 200
    assert b"json_number_too_large" in huge.data


def test_a_jwt_payload_with_a_long_integer_is_refused_with_a_code(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    header, _, signature = issued["jwt"].split(".")
    payload = b64(b'{"nbf": ' + b"9" * 5000 + b"}")
    response = client.post(
        "/api/v1/verify", data=f"{header}.{payload}.{signature}", content_type="application/vc+jwt"
    )
    assert response.status_code == 422
    assert response.json["code"] == "jwt_malformed" and "digits" in response.json["detail"]
