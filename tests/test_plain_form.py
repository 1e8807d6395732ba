"""What the checks read is what the proof covers (issuer.proofs.plain_form).

A Data Integrity proof signs RDF, so JSON-LD-equivalent rewrites of a credential keep its
signature valid. Every rewrite here is first shown to be equivalent (same canonical N-Quads,
so the signature still holds); then the verifier must not read it otherwise than the
original: a rewritten revoked or expired credential never verifies, and a rewrite that
verifies reads exactly like the original.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openbadgeslib.ob3.did import did_key_from_pem
from support import AWARD
from test_verification import _service_at, outcomes

from issuer.proofs import contexts
from issuer.proofs.data_integrity import add_proof, canonicalize
from issuer.proofs.plain_form import refuse_unplain_form

VC = "https://www.w3.org/2018/credentials#"
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"
Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


def same_meaning(original: dict[str, Any], rewritten: dict[str, Any]) -> bool:
    """Whether the rewrite signs the same: its proof would still verify."""

    def unsecured(document: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in document.items() if key != "proof"}

    return canonicalize(unsecured(original)) == canonicalize(unsecured(rewritten))


def nested(key: str) -> Rewrite:
    def rewrite(credential: dict[str, Any]) -> dict[str, Any]:
        copied = copy.deepcopy(credential)
        copied["@nest"] = {key: copied.pop(key)}
        return copied

    return rewrite


def as_iri(key: str) -> Rewrite:
    def rewrite(credential: dict[str, Any]) -> dict[str, Any]:
        copied = copy.deepcopy(credential)
        copied[VC + key] = copied.pop(key)
        return copied

    return rewrite


def aliased(key: str, definition: dict[str, Any]) -> Rewrite:
    """The key renamed to a term of an inline context that maps to the same IRI."""

    def rewrite(credential: dict[str, Any]) -> dict[str, Any]:
        copied = copy.deepcopy(credential)
        copied["@context"] = [*copied["@context"], {"st": definition}]
        copied["st"] = copied.pop(key)
        return copied

    return rewrite


def as_value_object(credential: dict[str, Any]) -> dict[str, Any]:
    copied = copy.deepcopy(credential)
    copied["validUntil"] = {"@value": copied["validUntil"], "@type": XSD_DATETIME}
    return copied


def with_keyword_type(credential: dict[str, Any]) -> dict[str, Any]:
    copied = copy.deepcopy(credential)
    copied["@type"] = copied.pop("type")
    return copied


STATUS_REWRITES: dict[str, Rewrite] = {
    "@nest": nested("credentialStatus"),
    "full IRI": as_iri("credentialStatus"),
    "inline alias": aliased("credentialStatus", {"@id": VC + "credentialStatus", "@type": "@id"}),
    "@type keyword": lambda credential: with_keyword_type(nested("credentialStatus")(credential)),
}
VALIDITY_REWRITES: dict[str, Rewrite] = {
    "@nest": nested("validUntil"),
    "full IRI": lambda credential: {
        **as_iri("validUntil")(credential),
        VC + "validUntil": {"@value": credential["validUntil"], "@type": XSD_DATETIME},
    },
    "inline alias": aliased("validUntil", {"@id": VC + "validUntil", "@type": XSD_DATETIME}),
    "value object": as_value_object,
}


def verify(client: FlaskClient, credential: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/verify", json=credential)
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def codes(body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {check["check"]: (check["status"], check["code"]) for check in body["checks"]}


@pytest.fixture
def revoked(client: FlaskClient, issued: dict[str, Any], assessor_token: str) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/credentials/{issued['id']}/revoke",
        headers={"Authorization": f"Bearer {assessor_token}"},
        json={"reason": "Awarded by mistake"},
    )
    assert response.status_code == 200
    credential: dict[str, Any] = issued["credential"]
    return credential


@pytest.mark.parametrize("name", STATUS_REWRITES)
def test_a_revoked_credential_rewritten_is_not_verified(
    client: FlaskClient, revoked: dict[str, Any], name: str
) -> None:
    rewritten = STATUS_REWRITES[name](revoked)
    assert same_meaning(revoked, rewritten)
    body = verify(client, rewritten)
    assert body["verified"] is False
    assert codes(body)["proof"] == ("fail", "document_not_compacted")


@pytest.mark.parametrize("name", VALIDITY_REWRITES)
def test_an_expired_credential_rewritten_is_not_verified(
    app: Flask, client: FlaskClient, assessor_token: str, name: str
) -> None:
    valid_until = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    credential = client.post(
        "/api/v1/awards",
        headers={"Authorization": f"Bearer {assessor_token}"},
        json={**AWARD, "validUntil": valid_until},
    ).json["credential"]  # type: ignore[index]
    rewritten = VALIDITY_REWRITES[name](credential)
    assert same_meaning(credential, rewritten)
    with app.app_context():
        report = _service_at(app, datetime.now(UTC) + timedelta(days=3650)).verify_document(
            rewritten
        )
    assert not report.verified
    assert outcomes(report)["proof"] == ("fail", "document_not_compacted")


def _did_key_credential(self_reference: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """An expired credential signed with a did:key, whose refresh service names the
    credential's own node."""
    private_key = ed25519.Ed25519PrivateKey.generate()
    did = did_key_from_pem(
        private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    credential_id = "urn:uuid:2f1f4f3a-3d43-4c8e-9c52-7b6f8c3f6a10"
    unsigned = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": did, "type": ["Profile"], "name": "Somebody"},
        "validFrom": "2020-01-01T00:00:00Z",
        "validUntil": "2021-01-01T00:00:00Z",
        "refreshService": {"id": credential_id, **self_reference},
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "https://example.org/achievements/1",
                "type": ["Achievement"],
                "name": "Something",
                "criteria": {"narrative": "Did it."},
            },
        },
    }
    method = f"{did}#{did.removeprefix('did:key:')}"
    signed = add_proof(
        unsigned, private_key=private_key, verification_method=method, created=datetime.now(UTC)
    )
    return signed, credential_id


def test_the_credential_node_split_across_two_objects_is_refused(
    app: Flask, client: FlaskClient
) -> None:
    signed, _ = _did_key_credential({"type": ["https://example.org/ManualRefresh"]})
    assert codes(verify(client, signed))["validity"] == ("fail", "expired")
    # The same node described in the refresh service: its end date moves there.
    rewritten = copy.deepcopy(signed)
    rewritten["refreshService"] = {
        **rewritten["refreshService"],
        "type": ["https://example.org/ManualRefresh", "VerifiableCredential"],
        "validUntil": rewritten.pop("validUntil"),
    }
    assert same_meaning(signed, rewritten)
    body = verify(client, rewritten)
    assert body["verified"] is False
    assert codes(body)["proof"] == ("fail", "document_not_compacted")


@pytest.mark.parametrize(
    "path",
    [
        ("credentialSubject", "achievement", "creator", "url"),  # the issuer's url is kept
        ("credentialSubject", "achievement", "creator", "name"),
        ("evidence",),
    ],
)
@pytest.mark.parametrize("empty", [None, []])
def test_a_null_or_empty_value_is_refused(
    client: FlaskClient, issued: dict[str, Any], path: tuple[str, ...], empty: Any
) -> None:
    """JSON-LD drops a null or an empty array, so the proof still held (found by the
    hostile-input test): the achievement's creator is the issuer's node described again,
    which keeps its url."""
    rewritten = copy.deepcopy(issued["credential"])
    node = rewritten
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = empty
    body = verify(client, rewritten)
    assert body["verified"] is False
    assert codes(body)["proof"] == ("fail", "document_not_compacted")


def test_a_bare_reference_to_the_credential_node_is_plain(client: FlaskClient) -> None:
    signed, _ = _did_key_credential({"type": ["https://example.org/ManualRefresh"]})
    refuse_unplain_form(signed)
    assert codes(verify(client, signed))["proof"][0] == "pass"


def test_embedded_credentials_that_repeat_the_contexts_are_plain(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    """A nested @context that says what the top one says changes nothing (endorsements
    embed whole credentials with their contexts)."""
    credential = issued["credential"]
    rewritten = copy.deepcopy(credential)
    rewritten["credentialSubject"]["achievement"]["@context"] = credential["@context"]
    assert same_meaning(credential, rewritten)
    body = verify(client, rewritten)
    assert body["verified"] is True, codes(body)
    assert body["credential"] == verify(client, credential)["credential"]


@pytest.mark.parametrize(
    "key", ["@id", "@graph", "@included", "@reverse", "@type", "@nest", "@value"]
)
def test_every_keyword_but_context_is_refused_as_a_key(key: str) -> None:
    with pytest.raises(Exception) as raised:
        refuse_unplain_form({"@context": [], "credentialSubject": {key: {}}})
    assert getattr(raised.value, "code", None) == "document_not_compacted"
    assert raised.value.details["path"] == f"$.credentialSubject.{key}"  # type: ignore[attr-defined]


def test_keys_inside_json_literals_are_data() -> None:
    refuse_unplain_form({"@context": [], "jsonSchema": {"@id": 1, "a:b": 2}})


def test_the_pinned_contexts_alias_no_keyword_but_id_and_type() -> None:
    """The keyword rule is complete only while no pinned context aliases another keyword:
    with, say, ``"nest": "@nest"`` a property could hide under an innocent term."""
    aliases = set()
    for url in contexts.ALLOWED_CONTEXTS:
        definitions: list[Any] = [contexts.load_context(url)["@context"]]
        while definitions:
            context = definitions.pop()
            if isinstance(context, list):
                definitions.extend(context)
            elif isinstance(context, dict):
                for term, definition in context.items():
                    target = definition.get("@id") if isinstance(definition, dict) else definition
                    if not term.startswith("@") and str(target).startswith("@"):
                        aliases.add((term, target))
                    if isinstance(definition, dict):
                        definitions.append(definition.get("@context"))
                        assert "@reverse" not in definition, (url, term)
    assert aliases == {("id", "@id"), ("type", "@type")}


def _objects(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every JSON object below the top, proofs and contexts aside."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in ("@context", "proof"):
                if isinstance(value, dict):
                    found.append((*path, key))
                found.extend(_objects(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, dict):
                found.append((*path, index))
            found.extend(_objects(value, (*path, index)))
    return found


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


@st.composite
def rewrites(draw: st.DrawFn, credential: dict[str, Any]) -> dict[str, Any]:
    """One to three JSON-LD rewrites of ``credential`` at objects drawn from it."""
    rewritten = copy.deepcopy(credential)
    for _ in range(draw(st.integers(1, 3))):
        paths = [(), *_objects(rewritten)]
        target = _at(rewritten, draw(st.sampled_from(paths)))
        keys = [key for key in target if not key.startswith("@")]
        if not keys:
            continue
        key = draw(st.sampled_from(sorted(keys)))
        how = draw(st.sampled_from(["nest", "iri", "alias", "keyword", "context", "reorder"]))
        if how == "nest":
            target.setdefault("@nest", {})[key] = target.pop(key)
        elif how == "iri":
            target[f"https://purl.imsglobal.org/spec/vc/ob/vocab.html#{key}"] = target.pop(key)
        elif how == "alias":
            rewritten["@context"] = [*rewritten["@context"], {f"x{key}": {"@id": key}}]
            target[f"x{key}"] = target.pop(key)
        elif how == "keyword" and key in ("id", "type"):
            target[f"@{key}"] = target.pop(key)
        elif how == "context":
            target["@context"] = credential["@context"]
        else:
            target[key] = target.pop(key)
    return rewritten


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_rewrite_verifies_differently(
    client: FlaskClient, assessor_token: str, revoked: dict[str, Any], data: st.DataObject
) -> None:
    """Whatever JSON-LD rewrite is made of a genuine or a revoked credential, it is refused
    or it reads exactly as the original."""
    genuine = client.post(
        "/api/v1/awards", headers={"Authorization": f"Bearer {assessor_token}"}, json=AWARD
    ).json["credential"]  # type: ignore[index]
    credential = data.draw(st.sampled_from([genuine, revoked]))
    original = verify(client, credential)
    assert original["verified"] is (credential is genuine)
    rewritten = data.draw(rewrites(credential))
    body = verify(client, rewritten)
    if body["verified"] or codes(body)["proof"][0] == "pass":
        # The JSON Schema reads the JSON, not its meaning: a rewrite it refuses (an
        # embedded @context where the schema admits none) is refused, which is safe.
        # Every other check reads the meaning, so it must read as for the original.
        read, was = codes(body), codes(original)
        assert read.pop("schema") in (was.pop("schema"), ("fail", "schema_invalid"))
        assert read == was, json.dumps(rewritten)[:2000]
        assert body["verified"] is (original["verified"] and codes(body)["schema"][0] == "pass")
        assert body["credential"] == original["credential"]
