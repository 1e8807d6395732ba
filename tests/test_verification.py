"""Verification: the 1EdTech validator samples, credentials other software issued, our own, and
one tampered copy per signed field.

The validator samples name issuers on hosts that cannot exist here (example.com,
example.edu, 1edtech.edu, state.gov, raw.githubusercontent.com). Rather than skip them, the
verifier is given, pinned by URL, the documents those hosts would publish: a controller
document listing the keys each sample's proofs name, the JWK Set holding the key of each
JWT sample, and the status list credential the status samples point at (a copy of the
sample file). Nothing is fetched; a fetch would fail with ``fetch_offline``.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from flask import Flask
from flask.testing import FlaskClient
from openbadgeslib.ob3.credential import Achievement, Issuer, OpenBadgeCredential
from openbadgeslib.ob3.did import did_key_from_pem
from openbadgeslib.ob3.ldp import OB3LdpSigner
from openbadgeslib.ob3.signer import OB3Signer
from support import AWARD, SHARED
from test_baking import small_png
from test_fetch import Answer, DocumentServer

from issuer import baking, status_list
from issuer.did import public_jwk
from issuer.did_resolution import did_web_url
from issuer.fetch import Fetcher, FetchError
from issuer.verification import VerificationReport, VerificationService, build_for
from issuer.verification.status import decode_bitstring

SAMPLES = SHARED / "conformance" / "ob3" / "test-vectors" / "validator-samples"


def samples() -> Path:
    if not SAMPLES.exists():
        pytest.skip(f"{SAMPLES} is absent: the shared conformance data is not checked out here")
    return SAMPLES


def offline(host: str, port: int) -> list[str]:
    raise FetchError("fetch_offline", "Tests do not reach the network.")


def outcomes(report: VerificationReport) -> dict[str, tuple[str, str]]:
    return {outcome.check: (outcome.status, outcome.code) for outcome in report.checks}


def _jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return tuple(  # type: ignore[return-value]
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        for part in (header, payload)
    )


def _sample_tokens(root: Path) -> list[str]:
    tokens = [path.read_text().strip() for path in sorted(root.glob("jwt/*.jwt"))]
    for svg in sorted(root.glob("baked/*.svg")):
        tokens += re.findall(r'verify="([^"]+)"', svg.read_text())
    return tokens


def published_documents(root: Path) -> dict[str, dict[str, Any]]:
    """What the sample issuers' hosts would serve (see the module docstring)."""
    controllers: dict[str, dict[str, Any]] = {}
    documents: list[dict[str, Any]] = [
        json.loads(path.read_text())
        for path in sorted(root.glob("*/*.json"))
        if path.name != "manifest.json"
    ]
    for document in documents:
        issuer = document.get("issuer")
        issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
        proofs = document.get("proof")
        for proof in proofs if isinstance(proofs, list) else [proofs] if proofs else []:
            method = proof.get("verificationMethod", "")
            if not isinstance(issuer_id, str) or not method.startswith(issuer_id + "#"):
                continue
            controller = controllers.setdefault(
                issuer_id,
                {"id": issuer_id, "verificationMethod": [], "assertionMethod": []},
            )
            if method not in controller["assertionMethod"]:
                controller["verificationMethod"].append(
                    {
                        "id": method,
                        "type": "Multikey",
                        "controller": issuer_id,
                        "publicKeyMultibase": method.split("#", 1)[1],
                    }
                )
                controller["assertionMethod"].append(method)
    pinned: dict[str, dict[str, Any]] = {
        did_web_url(issuer_id) if issuer_id.startswith("did:web:") else issuer_id: document
        for issuer_id, document in controllers.items()
    }
    for token in _sample_tokens(root):
        header, payload = _jwt_parts(token)
        origin = re.match(r"https://[^/]+", payload["iss"]).group(0)  # type: ignore[union-attr]
        jwks = pinned.setdefault(f"{origin}/.well-known/jwks.json", {"keys": []})
        jwks["keys"].append(header["jwk"])
    status_list = json.loads(
        (root / "bitstring-status-list" / "status-list-credential.json").read_text()
    )
    entry = json.loads(
        (root / "bitstring-status-list" / "credential-status-revoked.json").read_text()
    )
    pinned[entry["credentialStatus"]["statusListCredential"]] = status_list
    return pinned


@pytest.fixture(scope="module")
def sample_verifier() -> VerificationService:
    root = samples()
    return VerificationService.build(
        own_did="did:web:badges.example.test",
        own_keys=lambda: [],
        base_url="https://badges.example.test",
        documents=published_documents(root),
        fetcher=Fetcher(resolver=offline),
    )


# file → (verified, {check: code} that must be reported; a code of "ok" means it passed).
SAMPLE_OUTCOMES: dict[str, tuple[bool, dict[str, str]]] = {
    "json/simple.json": (True, {"proof": "ok"}),
    "json/simple-context-version.json": (True, {"structure": "context_version_old"}),
    "json/simple-context-alias.json": (True, {}),
    "json/simple-did-web-method.json": (True, {}),
    "json/endorsement-valid.json": (True, {}),
    "json/simple-multiple-proofs.json": (False, {"proof": "proof_type_unsupported"}),
    "json/complete.json": (False, {"proof": "ok", "status": "status_not_checked"}),
    "json/credential-status-revoked.json": (
        False,
        {"proof": "proof_type_legacy", "status": "status_not_checked"},
    ),
    "json/simple_v1.json": (True, {"structure": "vc_1_1", "proof": "proof_type_legacy"}),
    "json/simple-eddsa-2022.json": (True, {"structure": "vc_1_1", "proof": "cryptosuite_legacy"}),
    "json/simple-noproof.json": (False, {"proof": "proof_missing"}),
    "json/simple-err-type.json": (False, {"structure": "type_invalid"}),
    "json/simple-err-context.json": (False, {"structure": "context_invalid"}),
    "json/simple-err-issuer.json": (False, {"structure": "issuer_missing"}),
    "json/simple-err-issuer-type.json": (False, {"schema": "schema_invalid"}),
    "json/simple-err-issuer-parentorg-type.json": (False, {"schema": "schema_invalid"}),
    "json/simple-err-issuer-otheridentifier-type.json": (False, {"schema": "schema_invalid"}),
    "json/simple-err-issued.json": (False, {"validity": "not_yet_valid"}),
    "json/simple-err-expired.json": (False, {"validity": "expired", "proof": "ok"}),
    "json/simple-err-proof-value.json": (False, {"proof": "signature_invalid"}),
    "json/simple-err-proof-method.json": (False, {"proof": "verification_method_not_listed"}),
    "json/simple-err-proof-method-no-scheme.json": (
        False,
        {"proof": "verification_method_not_issuers"},
    ),
    "json/simple-err-proof-method-unknown-scheme.json": (
        False,
        {"proof": "verification_method_not_issuers"},
    ),
    "json/simple-err-proof-method-unknown-did-method.json": (
        False,
        {"proof": "verification_method_not_issuers"},
    ),
    "json/simple-err-credential-subject-type.json": (False, {"schema": "schema_invalid"}),
    "json/simple-err-credential-subject-identifier-type.json": (
        False,
        {"schema": "schema_invalid"},
    ),
    "json/simple-err-credential-subject-result-type.json": (False, {"schema": "schema_invalid"}),
    "json/simple-err-credential-subject-achievement-result-description-type.json": (
        False,
        {"schema": "schema_invalid"},
    ),
    "json/simple-err-credential-subject-profile-type.json": (False, {"schema": "schema_invalid"}),
    "json/simple-err-evidence-type.json": (False, {"schema": "schema_invalid"}),
    "baked/simple-json.png": (True, {"read": "ok"}),
    "baked/simple-jwt.png": (True, {"proof": "ok"}),
    "baked/simple-json.svg": (True, {}),
    "baked/simple-jwt.svg": (True, {}),
    "baked/simple-jwt_v1.svg": (True, {"structure": "vc_1_1"}),
    "jwt/simple-jwt-vcdm2.jwt": (True, {}),
    "jwt/simple-jwt-vcdm1-vc-claim.jwt": (True, {"structure": "vc_1_1"}),
    "bitstring-status-list/credential-status-revoked.json": (False, {"status": "revoked"}),
    "bitstring-status-list/credential-status-revoked-blank-nodes.json": (
        False,
        {"status": "revoked", "proof": "ok"},
    ),
}

# Where we deliberately differ from the 1EdTech validator, and why.
DELIBERATE_DIFFERENCES: dict[str, tuple[dict[str, str], str]] = {
    "json/simple-did-key-method.json": (
        {"proof": "verification_method_not_issuers"},
        "signed with a did:key while the issuer is a urn:uuid: nothing ties the key to the "
        "issuer, so anyone could have made it (the validator accepts it)",
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLE_OUTCOMES))
def test_validator_samples_give_the_recorded_outcome(
    sample_verifier: VerificationService, name: str
) -> None:
    verified, expected = SAMPLE_OUTCOMES[name]
    report = sample_verifier.verify_bytes((samples() / name).read_bytes())
    found = outcomes(report)
    assert report.verified is verified, found
    for check, code in expected.items():
        assert found[check][1] == code, found


@pytest.mark.parametrize("name", sorted(DELIBERATE_DIFFERENCES))
def test_validator_samples_we_refuse_on_purpose(
    sample_verifier: VerificationService, name: str
) -> None:
    expected, _reason = DELIBERATE_DIFFERENCES[name]
    report = sample_verifier.verify_bytes((samples() / name).read_bytes())
    assert not report.verified
    found = outcomes(report)
    for check, code in expected.items():
        assert found[check] == ("fail", code), found


def test_every_sample_is_covered() -> None:
    root = samples()
    manifest = json.loads((root / "manifest.json").read_text())
    listed = {sample["file"] for sample in manifest["samples"]}
    covered = set(SAMPLE_OUTCOMES) | set(DELIBERATE_DIFFERENCES)
    # The status list itself is exercised as the list of the two status samples.
    assert listed - covered == {"bitstring-status-list/status-list-credential.json"}


def test_a_sample_whose_keys_cannot_be_fetched_is_not_verified() -> None:
    verifier = VerificationService.build(
        own_did="did:web:badges.example.test",
        own_keys=lambda: [],
        base_url="https://badges.example.test",
        fetcher=Fetcher(resolver=offline),
    )
    report = verifier.verify_bytes((samples() / "json/simple.json").read_bytes())
    assert not report.verified
    assert outcomes(report)["proof"] == ("fail", "fetch_offline")


@pytest.mark.parametrize("name", ["json/simple_v1.json", "json/simple-eddsa-2022.json"])
@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda credential: credential.update(name="Leadership Badge"), "signature_invalid"),
        (
            lambda credential: credential["proof"][0].update(created="2023-01-01T00:00:00Z"),
            "signature_invalid",
        ),
        (
            lambda credential: credential["proof"][0].update(proofPurpose="authentication"),
            "proof_purpose_invalid",
        ),
        (lambda credential: credential["@context"].pop(), "undefined_term"),
    ],
    ids=["document", "proof-options", "purpose", "context"],
)
def test_an_older_proof_form_that_was_tampered_with_fails(
    sample_verifier: VerificationService, name: str, change: Any, code: str
) -> None:
    """The older forms (Ed25519Signature2020, eddsa-2022) verify with a warning; changing the
    document or the proof options breaks them, and a context taken away leaves a term
    undefined, as with the current form."""
    credential = json.loads((samples() / name).read_text())
    change(credential)
    report = sample_verifier.verify_document(credential)
    assert not report.verified
    assert outcomes(report)["proof"] == ("fail", code)


def verify(client: FlaskClient, **kwargs: Any) -> dict[str, Any]:
    response = client.post("/api/v1/verify", **kwargs)
    assert response.status_code == 200, response.data
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def test_our_credential_verifies_in_every_form(client: FlaskClient, issued: dict[str, Any]) -> None:
    credential, token = issued["credential"], issued["jwt"]
    png = baking.bake_png(small_png(), json.dumps(credential))
    svg = baking.bake_svg('<svg xmlns="http://www.w3.org/2000/svg"/>', token)
    forms = [
        {"json": credential},
        {"json": {"credential": credential}},
        {"json": {"jwt": token}},
        {"data": token, "content_type": "application/vc+jwt"},
        {"data": token, "content_type": "text/plain"},
        {"data": png, "content_type": "image/png"},
        {"data": png, "content_type": "application/octet-stream"},
        {"data": svg, "content_type": "image/svg+xml"},
        {"data": {"file": (__import__("io").BytesIO(png), "badge.png")}},
    ]
    for form in forms:
        body = verify(client, **form)
        assert body["verified"] is True, (form.keys(), body["checks"])
        assert [check["check"] for check in body["checks"]] == [
            "read",
            "structure",
            "schema",
            "proof",
            "status",
            "validity",
        ]
        assert all(check["status"] == "pass" for check in body["checks"]), body["checks"]
        summary = body["credential"]
        assert summary["issuer"] == {
            "id": "did:web:badges.example.test",
            "name": "Example Training Board",
            "url": "https://badges.example.test",
        }
        assert summary["recipient"]["name"] == "Grace Hopper"
        assert summary["achievement"]["name"] == credential["name"]
        assert len(summary["statements"]) == 10
        assert summary["evidence"][0]["url"] == "https://example.org/e/1"


def test_a_link_to_our_own_credential_is_read_from_storage(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    """An employer pastes the earner's page link: nothing is fetched (our own host is not
    reachable from these tests, as it may not be from the server itself)."""
    page = issued["links"]["page"]
    for link, read_as in [
        (page, "JSON"),
        (f"{page}?utm_source=linkedin", "JSON"),
        (issued["links"]["png"], "JSON"),
        (issued["links"]["jwt"], "VC-JWT"),
    ]:
        body = verify(client, json={"url": link})
        assert body["verified"] is True, (link, body["checks"])
        assert read_as in body["checks"][0]["message"], body["checks"][0]
    for missing in [f"{page[:-4]}0000", f"{page}.html"]:
        response = client.post("/api/v1/verify", json={"url": missing})
        assert response.status_code == 404, missing
        assert response.json["code"] == "credential_not_found"  # type: ignore[index]
    form = client.post("/verify", data={"url": page})
    assert form.status_code == 200
    assert "genuine" in form.get_data(as_text=True).lower()


def test_a_batch_gets_one_report_each(client: FlaskClient, issued: dict[str, Any]) -> None:
    tampered = copy.deepcopy(issued["credential"])
    tampered["name"] = "Something else"
    body = client.post(
        "/api/v1/verify",
        json=[issued["credential"], issued["jwt"], {"credential": tampered}, "not a credential"],
    ).json
    assert [report["verified"] for report in body] == [True, True, False, False]
    assert body[3]["checks"] == [
        {
            "check": "read",
            "status": "fail",
            "code": "jwt_malformed",
            "message": body[3]["checks"][0]["message"],
        }
    ]


@pytest.mark.parametrize(
    ("email", "status", "code"),
    [
        ("Grace.Hopper@Example.org", "pass", "ok"),
        ("grace.hopper@example.org", "pass", "ok"),
        ("  GRACE.HOPPER@EXAMPLE.ORG ", "pass", "ok"),
        ("someone.else@example.org", "fail", "recipient_mismatch"),
    ],
)
def test_the_recipient_email_is_checked_against_the_hash(
    client: FlaskClient, issued: dict[str, Any], email: str, status: str, code: str
) -> None:
    body = verify(client, json={"jwt": issued["jwt"], "recipient": email})
    recipient = next(check for check in body["checks"] if check["check"] == "recipient")
    assert (recipient["status"], recipient["code"]) == (status, code)
    assert body["verified"] is (status == "pass")


def test_a_revoked_credential_is_reported_revoked(
    client: FlaskClient, issued: dict[str, Any], assessor_token: str
) -> None:
    response = client.post(
        f"/api/v1/credentials/{issued['id']}/revoke",
        headers={"Authorization": f"Bearer {assessor_token}"},
        json={"reason": "Awarded by mistake"},
    )
    assert response.status_code == 200
    for form in ({"json": issued["credential"]}, {"json": {"jwt": issued["jwt"]}}):
        body = verify(client, **form)
        assert body["verified"] is False
        status = next(check for check in body["checks"] if check["check"] == "status")
        assert (status["status"], status["code"]) == ("fail", "revoked")


def _service_at(app: Flask, now: datetime) -> VerificationService:
    services = app.extensions["issuer"]
    return VerificationService.build(
        own_did=services.issuer_profile.id,
        own_keys=lambda: services.keyring().public_keys(),
        base_url=services.base_url,
        own_status_list=lambda url: services.revocation.list_credential(url.rsplit("/", 1)[1]),
        fetcher=Fetcher(resolver=offline),
        clock=lambda: now,
    )


@pytest.mark.parametrize(
    ("shift", "code"),
    [(timedelta(days=-1), "not_yet_valid"), (timedelta(days=3650), "expired")],
)
def test_the_validity_window_is_checked(
    app: Flask, client: FlaskClient, assessor_token: str, shift: timedelta, code: str
) -> None:
    valid_until = datetime.now(UTC) + timedelta(days=30)
    award = {**AWARD, "validUntil": valid_until.strftime("%Y-%m-%dT%H:%M:%SZ")}
    body = client.post(
        "/api/v1/awards", headers={"Authorization": f"Bearer {assessor_token}"}, json=award
    ).json
    with app.app_context():
        service = _service_at(app, datetime.now(UTC) + shift)
        for report in (
            service.verify_document(body["credential"]),
            service.verify_jwt(body["jwt"]),
        ):
            assert not report.verified
            found = outcomes(report)
            assert found["validity"] == ("fail", code), found
            assert found["proof"][0] == "pass", found


def _flip(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return value[:-1] + ("X" if not value.endswith("X") else "Y")
    if isinstance(value, int):
        return value + 1
    if isinstance(value, list):
        return [*value, value[0]] if value else ["X"]
    if isinstance(value, dict):
        return {**value, "name": "X"}
    raise AssertionError(type(value))


def _signed_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if path == () and key == "proof":
                continue
            yield from _signed_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _signed_paths(value, (*path, index))
    else:
        yield path


def _tampered(document: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = _flip(target[path[-1]])
    return changed


def test_changing_any_signed_field_fails_the_proof(
    app: Flask, client: FlaskClient, issued: dict[str, Any]
) -> None:
    credential = issued["credential"]
    header, payload = issued["jwt"].split(".")[:2]
    signature = issued["jwt"].split(".")[2]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    paths = list(_signed_paths(credential))
    assert len(paths) > 40
    with app.app_context():
        service = _service_at(app, datetime.now(UTC))
        for path in paths:
            report = service.verify_document(_tampered(credential, path))
            assert not report.verified, path
            assert outcomes(report)["proof"][0] == "fail", path
        for path in _signed_paths(claims):
            changed = json.dumps(_tampered(claims, path)).encode()
            token = (
                f"{header}.{base64.urlsafe_b64encode(changed).rstrip(b'=').decode()}.{signature}"
            )
            report = service.verify_jwt(token)
            assert not report.verified, path
            # A changed issuer sends the verifier to the new issuer's keys instead.
            expected = "fetch_offline" if path == ("issuer", "id") else "jwt_bad_signature"
            assert outcomes(report)["proof"] == ("fail", expected), path


def test_the_cli_prints_the_report_and_exits_non_zero_when_not_verified(
    runner: Any, issued: dict[str, Any], tmp_path: Path
) -> None:
    good = tmp_path / "badge.png"
    good.write_bytes(baking.bake_png(small_png(), issued["jwt"]))
    result = runner.invoke(args=["verify", str(good), "--email", "grace.hopper@example.org"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("VERIFIED")
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(_tampered(issued["credential"], ("name",))))
    result = runner.invoke(args=["verify", str(tampered), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["verified"] is False
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x00\x01 not an image")
    assert runner.invoke(args=["verify", str(junk)]).exit_code == 2


@pytest.fixture
def did_web_host(app: Flask) -> Iterator[tuple[DocumentServer, VerificationService]]:
    """A real HTTP server publishing another issuer's did:web documents, reachable through
    ISSUER_FETCH_ALLOW_HOSTS, and the app's verifier configured to allow it."""
    server = DocumentServer().start()
    app.config["FETCH_ALLOW_HOSTS"] = server.host
    app.extensions.pop("issuer_verification", None)
    with app.app_context():
        yield server, build_for(app.extensions["issuer"], app.config)
    server.stop()


def _pem(private_key: Any) -> bytes:
    return private_key.private_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _openbadgeslib_credential(issuer_id: str) -> OpenBadgeCredential:
    return OpenBadgeCredential(
        issuer=Issuer(id=issuer_id, name="Other Academy", url="https://other.example"),
        recipient_id="did:example:learner",
        achievement=Achievement(
            id="https://other.example/achievements/1",
            name="Teamwork",
            description="Works well in a team.",
            criteria_narrative="Peer nominated.",
        ),
        issuance_date=datetime.now(UTC) - timedelta(minutes=5),
    )


def _new_key(alg: str) -> Any:
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_openbadgeslib_jwts_verify_with_the_keys_their_issuer_publishes(
    did_web_host: tuple[DocumentServer, VerificationService], alg: str
) -> None:
    server, service = did_web_host
    private_key = _new_key(alg)
    did = f"did:web:127.0.0.1%3A{server.port}"
    token = OB3Signer(_pem(private_key), algorithm=alg).sign(_openbadgeslib_credential(did))
    document = {
        "id": did,
        "verificationMethod": [
            {
                "id": f"{did}#key-1",
                "type": "JsonWebKey",
                "controller": did,
                "publicKeyJwk": public_jwk(private_key.public_key()),
            }
        ],
        "assertionMethod": [f"{did}#key-1"],
    }
    server.routes["/.well-known/did.json"] = Answer(json.dumps(document).encode())
    report = service.verify_jwt(token)
    assert report.verified, outcomes(report)

    forged = OB3Signer(_pem(_new_key(alg)), algorithm=alg).sign(_openbadgeslib_credential(did))
    assert outcomes(service.verify_jwt(forged))["proof"] == ("fail", "jwt_jwk_not_published")


def test_openbadgeslib_jwt_from_an_https_issuer_uses_its_jwks(
    did_web_host: tuple[DocumentServer, VerificationService],
) -> None:
    server, service = did_web_host
    private_key = ec.generate_private_key(ec.SECP256R1())
    issuer = f"https://{server.host}/issuer"
    token = OB3Signer(_pem(private_key), algorithm="ES256").sign(_openbadgeslib_credential(issuer))
    jwks = {"keys": [{**public_jwk(private_key.public_key()), "kid": "k1", "alg": "ES256"}]}
    server.routes["/.well-known/jwks.json"] = Answer(json.dumps(jwks).encode())
    assert service.verify_jwt(token).verified


def test_openbadgeslib_data_integrity_verifies_with_did_key_and_did_web(
    did_web_host: tuple[DocumentServer, VerificationService],
) -> None:
    server, service = did_web_host
    private_key = ed25519.Ed25519PrivateKey.generate()
    pem = _pem(private_key)
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    did_key = did_key_from_pem(public_pem)
    signed = OB3LdpSigner(pem).sign(_openbadgeslib_credential(did_key))
    report = service.verify_document(signed)
    assert report.verified, outcomes(report)

    did = f"did:web:127.0.0.1%3A{server.port}"
    multikey = did_key.removeprefix("did:key:")
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
    signed = OB3LdpSigner(pem, verification_method=method).sign(_openbadgeslib_credential(did))
    report = service.verify_document(signed)
    assert report.verified, outcomes(report)

    # The same key, signing for an issuer whose document does not list it.
    impostor = f"{did}:impostor"
    server.routes["/impostor/did.json"] = Answer(
        json.dumps({"id": impostor, "verificationMethod": [], "assertionMethod": []}).encode()
    )
    signed = OB3LdpSigner(pem, verification_method=f"{impostor}#{multikey}").sign(
        _openbadgeslib_credential(impostor)
    )
    assert outcomes(service.verify_document(signed))["proof"] == (
        "fail",
        "verification_method_not_listed",
    )


def test_a_remembered_status_list_cannot_be_swapped_for_a_changed_copy(
    app: Flask, issued: dict[str, Any]
) -> None:
    """A list proven once is remembered by its digest: any change is verified afresh."""
    services = app.extensions["issuer"]
    list_url = issued["credential"]["credentialStatus"]["statusListCredential"]
    served = [services.revocation.list_credential(list_url.rsplit("/", 1)[1], "json")]
    service = VerificationService.build(
        own_did=services.issuer_profile.id,
        own_keys=lambda: services.keyring().public_keys(),
        base_url=services.base_url,
        own_status_list=lambda url: served[0],
    )
    checks = {c.check: c for c in service.verify_document(issued["credential"]).checks}
    assert checks["status"].status == "pass"

    index = int(issued["credential"]["credentialStatus"]["statusListIndex"])
    forged = copy.deepcopy(served[0])
    bits = bytearray(decode_bitstring(forged["credentialSubject"]["encodedList"]))
    bits[index // 8] |= 0x80 >> (index % 8)
    forged["credentialSubject"]["encodedList"] = status_list.encode(bytes(bits))
    served[0] = forged

    report = service.verify_document(issued["credential"])
    checks = {c.check: c for c in report.checks}
    assert report.verified is False
    assert checks["status"].code == "status_list_unverified"
