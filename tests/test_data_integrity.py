"""Data Integrity proofs (eddsa-rdfc-2022), JSON-LD contexts and multibase.

Known answers come from two places: the 1EdTech Implementation Guide vectors in
/work/shared (read there, never copied; skipped when absent) and our own golden vector
in tests/vectors/eddsa-rdfc-2022/ (see tests/vectors/README.md).
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld
from support import SHARED

from issuer.errors import CanonicalizationError, InvalidInput, ProofError
from issuer.multibase import (
    decode_base58btc,
    decode_ed25519_multikey,
    encode_base58btc,
    encode_ed25519_multikey,
)
from issuer.proofs import contexts
from issuer.proofs.contexts import ALLOWED_CONTEXTS, PinnedContext, document_loader, load_context
from issuer.proofs.data_integrity import (
    PYLD_LOCK,
    add_proof,
    canonicalize,
    read_proof,
    signing_input,
    verify_proof,
)

ONEEDTECH_VECTORS = SHARED / "conformance" / "ob3" / "test-vectors" / "eddsa-rdfc-2022"
SHARED_CONTEXTS = SHARED / "conformance" / "ob3" / "contexts"
OUR_VECTORS = Path(__file__).resolve().parent / "vectors" / "eddsa-rdfc-2022"

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_3_0_3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


def _shared(path: Path) -> Path:
    """Return a path under /work/shared, or skip the test if that folder is absent."""
    if not path.exists():
        pytest.skip(f"{path} is absent: the 1EdTech conformance data is not available here")
    return path


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _test_key() -> Ed25519PrivateKey:
    """The TEST key of our golden vector (its seed is public; see tests/vectors/README.md)."""
    seed = _read_json(OUR_VECTORS / "test-key.json")["testPrivateKeySeedHex"]
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed))


def _our_signed() -> dict[str, Any]:
    return _read_json(OUR_VECTORS / "signed-credential.json")


def _proof_options(secured: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in read_proof(secured).items() if key != "proofValue"}


CREATED = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


# Contexts.


@pytest.mark.parametrize("url", sorted(ALLOWED_CONTEXTS))
def test_every_allowed_context_loads_and_matches_its_pin(url: str) -> None:
    document = load_context(url)
    assert isinstance(document["@context"], dict)
    remote = document_loader(url)
    assert remote["documentUrl"] == url
    assert remote["contextUrl"] is None
    assert remote["document"] == document


@pytest.mark.parametrize(
    "url",
    [
        "https://imsglobal.github.io/openbadges-specification/ob_v3p0.html",
        "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json",
        "https://w3id.org/security/suites/jws-2020/v1",
        "https://www.w3.org/2018/credentials/v1/",
        "http://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/v2/",
        "HTTPS://WWW.W3.ORG/ns/credentials/v2",
        "https://example.com/contexts/badge.jsonld",
        "",
    ],
)
def test_a_context_outside_the_allowed_set_is_refused(url: str) -> None:
    with pytest.raises(CanonicalizationError) as refused:
        document_loader(url)
    assert refused.value.code == "context_not_allowed"


def test_a_loaded_context_is_a_fresh_copy_each_time() -> None:
    first = load_context(VC_V2)
    first["@context"]["name"] = "https://attacker.example/name"
    assert load_context(VC_V2)["@context"]["name"] == "https://schema.org/name"


def test_a_packaged_context_that_does_not_match_its_pin_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "https://example.test/contexts/mispinned.json"
    monkeypatch.setitem(ALLOWED_CONTEXTS, url, PinnedContext("credentials-v2.json", "0" * 64))
    with pytest.raises(CanonicalizationError) as refused:
        load_context(url)
    assert refused.value.code == "context_hash_mismatch"
    assert url not in contexts._loaded


@pytest.mark.parametrize(
    ("url", "shared_file"),
    [
        (VC_V2, "w3c_credentials_v2.jsonld"),
        (OB_3_0_3, "validator-variant_ob_v3p0_context-3.0.3.json"),
        (
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
            "ob_v3p0_context-3.0.2.json",
        ),
        (
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
            "ob_v3p0_context-3.0.1.json",
        ),
        ("https://purl.imsglobal.org/spec/ob/v3p0/extensions.json", "ob_v3p0_extensions.json"),
        ("https://purl.imsglobal.org/spec/ob/v3p0/context.json", "ob_v3p0_context.json"),
        ("https://www.w3.org/2018/credentials/v1", "w3c_2018_credentials_v1.jsonld"),
        (
            "https://w3id.org/security/data-integrity/v1",
            "w3id_security_data-integrity_v1.jsonld",
        ),
    ],
)
def test_pinned_contexts_hold_the_same_terms_as_the_1edtech_copies(
    url: str, shared_file: str
) -> None:
    assert load_context(url) == _read_json(_shared(SHARED_CONTEXTS / shared_file))


# Multibase and Multikey.


def test_multikey_of_the_1edtech_test_key_is_the_published_one() -> None:
    keypair = _read_json(_shared(ONEEDTECH_VECTORS / "keypair.json"))
    public_key = bytes.fromhex(keypair["publicKeyHex"])
    assert encode_ed25519_multikey(public_key) == keypair["publicKeyMultibase"]
    assert decode_ed25519_multikey(keypair["publicKeyMultibase"]) == public_key


def test_multikey_of_our_test_key_is_recorded_in_the_vector() -> None:
    recorded = _read_json(OUR_VECTORS / "test-key.json")
    public_key = _raw_public_key(_test_key().public_key())
    assert public_key.hex() == recorded["publicKeyHex"]
    assert encode_ed25519_multikey(public_key) == recorded["publicKeyMultibase"]
    assert recorded["publicKeyMultibase"].startswith("z6Mk")


@given(st.binary(max_size=128))
def test_base58btc_round_trip(data: bytes) -> None:
    encoded = encode_base58btc(data)
    assert encoded.startswith("z")
    assert decode_base58btc(encoded) == data


@given(st.binary(min_size=32, max_size=32))
def test_ed25519_multikey_round_trip(public_key: bytes) -> None:
    multikey = encode_ed25519_multikey(public_key)
    assert multikey.startswith("z6Mk")
    assert decode_ed25519_multikey(multikey) == public_key


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "multibase_unsupported"),
        ("uAAAA", "multibase_unsupported"),
        ("Z3mJ", "multibase_unsupported"),
        (b"z3mJ", "multibase_unsupported"),
        (None, "multibase_unsupported"),
        ("z0OIl", "multibase_invalid"),
        ("z3mJ ", "multibase_invalid"),
        (" z3mJ", "multibase_unsupported"),
        ("z3m\nJ", "multibase_invalid"),
        ("z3mJ+/", "multibase_invalid"),
    ],
)
def test_malformed_multibase_is_refused(text: Any, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_base58btc(text)
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("multikey", "code"),
    [
        # secp256k1-pub (0xe7 0x01) is a Multikey, but not an Ed25519 one.
        (encode_base58btc(b"\xe7\x01" + bytes(33)), "multikey_unsupported_codec"),
        (encode_base58btc(b"\xed\x01" + bytes(31)), "multikey_invalid_length"),
        (encode_base58btc(b"\xed\x01" + bytes(33)), "multikey_invalid_length"),
        (encode_base58btc(bytes(32)), "multikey_unsupported_codec"),
        ("6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi", "multibase_unsupported"),
    ],
)
def test_malformed_multikey_is_refused(multikey: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_ed25519_multikey(multikey)
    assert refused.value.code == code


def test_multikey_encoding_refuses_a_key_of_the_wrong_length() -> None:
    with pytest.raises(InvalidInput) as refused:
        encode_ed25519_multikey(bytes(33))
    assert refused.value.code == "multikey_invalid_length"


# Known answers.


def _vector_folder(name: str) -> Path:
    """A 1EdTech vector folder (skipped only when ../shared is absent)."""
    return _shared(ONEEDTECH_VECTORS / name)


# The CLR 2.0 vector names the CLR context, which an Open Badges issuer does not load;
# test_1edtech_clr_vector_is_refused_for_its_context checks that refusal instead.
@pytest.mark.parametrize("name", ["ob3"])
def test_1edtech_vector_canonical_forms_hashes_and_signature(name: str) -> None:
    folder = _vector_folder(name)
    keypair = _read_json(ONEEDTECH_VECTORS / "keypair.json")
    expected = _read_json(folder / "expected.json")
    unsigned = _read_json(folder / "unsigned-credential.json")
    proof_options = _read_json(folder / "proof-options.json")

    document_nquads = canonicalize(unsigned)
    proof_nquads = canonicalize({**proof_options, "@context": unsigned["@context"]})
    assert document_nquads.encode() == (folder / "document-canon.nq").read_bytes()
    assert proof_nquads.encode() == (folder / "proof-canon.nq").read_bytes()
    assert hashlib.sha256(document_nquads.encode()).hexdigest() == expected["documentHashHex"]
    assert hashlib.sha256(proof_nquads.encode()).hexdigest() == expected["proofConfigHashHex"]
    assert signing_input(unsigned, proof_options).hex() == expected["hashDataHex"]

    private_key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(keypair["privateKeySeedHex"]))
    assert _raw_public_key(private_key.public_key()).hex() == keypair["publicKeyHex"]
    secured = add_proof(
        unsigned,
        private_key=private_key,
        verification_method=proof_options["verificationMethod"],
        created=datetime.fromisoformat(proof_options["created"]),
    )
    signature = decode_base58btc(read_proof(secured)["proofValue"])
    assert signature.hex() == expected["signatureHex"]
    assert read_proof(secured)["proofValue"] == expected["proofValue"]
    # 1EdTech writes the proof as a lone object, we write a one-element list.
    assert {**secured, "proof": read_proof(secured)} == _read_json(
        folder / "signed-credential.json"
    )


@pytest.mark.parametrize("name", ["ob3"])
def test_1edtech_signed_credential_verifies(name: str) -> None:
    folder = _vector_folder(name)
    keypair = _read_json(ONEEDTECH_VECTORS / "keypair.json")
    public_key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(keypair["publicKeyHex"]))
    verify_proof(_read_json(folder / "signed-credential.json"), public_key)


def test_1edtech_clr_vector_is_refused_for_its_context() -> None:
    folder = _shared(ONEEDTECH_VECTORS / "clr2")
    keypair = _read_json(ONEEDTECH_VECTORS / "keypair.json")
    public_key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(keypair["publicKeyHex"]))
    with pytest.raises(CanonicalizationError) as refused:
        verify_proof(_read_json(folder / "signed-credential.json"), public_key)
    assert refused.value.code == "context_not_allowed"


def test_our_golden_vector_is_reproduced_byte_for_byte() -> None:
    expected = _read_json(OUR_VECTORS / "expected.json")
    unsigned = _read_json(OUR_VECTORS / "unsigned-credential.json")
    signed = _our_signed()
    proof_options = _proof_options(signed)

    document_nquads = canonicalize(unsigned)
    proof_nquads = canonicalize({**proof_options, "@context": unsigned["@context"]})
    assert document_nquads.encode() == (OUR_VECTORS / "document-canon.nq").read_bytes()
    assert proof_nquads.encode() == (OUR_VECTORS / "proof-canon.nq").read_bytes()
    assert hashlib.sha256(document_nquads.encode()).hexdigest() == expected["documentHashHex"]
    assert hashlib.sha256(proof_nquads.encode()).hexdigest() == expected["proofConfigHashHex"]

    secured = add_proof(
        unsigned,
        private_key=_test_key(),
        verification_method=proof_options["verificationMethod"],
        created=datetime.fromisoformat(expected["created"]),
    )
    assert decode_base58btc(read_proof(secured)["proofValue"]).hex() == expected["signatureHex"]
    assert secured == signed
    verify_proof(signed, _test_key().public_key())


# Signing.


def test_a_signed_credential_satisfies_the_ob3_json_schema() -> None:
    schema_path = SHARED / "conformance" / "ob3" / "schemas"
    schema = _read_json(_shared(schema_path / "ob_v3p0_achievementcredential-jsonschema1.json"))
    errors = jsonschema.Draft201909Validator(schema).iter_errors(_our_signed())
    assert [f"{error.json_path}: {error.message}" for error in errors] == []


def test_add_proof_returns_a_new_document_and_leaves_the_input_alone() -> None:
    unsigned = _read_json(OUR_VECTORS / "unsigned-credential.json")
    before = copy.deepcopy(unsigned)
    secured = add_proof(
        unsigned,
        private_key=_test_key(),
        verification_method=_proof_options(_our_signed())["verificationMethod"],
        created=CREATED,
    )
    assert unsigned == before
    assert secured is not unsigned
    assert secured["credentialSubject"] is not unsigned["credentialSubject"]
    assert isinstance(secured["proof"], list)
    assert len(secured["proof"]) == 1
    proof = read_proof(secured)
    assert list(proof) == [
        "type",
        "created",
        "verificationMethod",
        "cryptosuite",
        "proofPurpose",
        "proofValue",
    ]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["proofPurpose"] == "assertionMethod"


def test_created_is_written_in_utc_whole_seconds() -> None:
    unsigned = _read_json(OUR_VECTORS / "unsigned-credential.json")
    created = datetime(2026, 11, 28, 11, 30, 5, 987654, tzinfo=timezone(timedelta(hours=2)))
    secured = add_proof(
        unsigned,
        private_key=_test_key(),
        verification_method="did:web:badges.example.org#key-1",
        created=created,
    )
    assert read_proof(secured)["created"] == "2026-11-28T09:30:05Z"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda unsigned: unsigned.update(proof={"type": "DataIntegrityProof"}), "proof_present"),
        (lambda unsigned: unsigned.pop("@context"), "context_missing"),
        (lambda unsigned: unsigned.update(nickname="Ana"), "undefined_term"),
    ],
    ids=["proof already present", "no @context", "undefined term"],
)
def test_add_proof_refuses(change: Callable[[dict[str, Any]], Any], code: str) -> None:
    unsigned = _read_json(OUR_VECTORS / "unsigned-credential.json")
    change(unsigned)
    with pytest.raises(ProofError) as refused:
        add_proof(
            unsigned,
            private_key=_test_key(),
            verification_method="did:web:badges.example.org#key-1",
            created=CREATED,
        )
    assert refused.value.code == code


def test_add_proof_refuses_a_naive_creation_time() -> None:
    with pytest.raises(ProofError) as refused:
        add_proof(
            _read_json(OUR_VECTORS / "unsigned-credential.json"),
            private_key=_test_key(),
            verification_method="did:web:badges.example.org#key-1",
            created=datetime(2026, 11, 28, 9, 30),
        )
    assert refused.value.code == "created_without_timezone"


def test_add_proof_refuses_a_relative_verification_method() -> None:
    with pytest.raises(CanonicalizationError) as refused:
        add_proof(
            _read_json(OUR_VECTORS / "unsigned-credential.json"),
            private_key=_test_key(),
            verification_method="#key-1",
            created=CREATED,
        )
    assert refused.value.code == "relative_iri"


# Verifying: a negative test for every class of bad input.


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change that sets the value at a dotted path (list indexes as numbers)."""

    def change(secured: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = secured
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _append_context(url: str) -> Callable[[dict[str, Any]], None]:
    return lambda secured: secured["@context"].append(url)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_append_context("https://example.com/contexts/badge.jsonld"), "context_not_allowed"),
        (
            _set("@context.1", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.9.json"),
            "context_not_allowed",
        ),
        (_set("favouriteColour", "blue"), "undefined_term"),
        (_set("credentialSubject.type", ["AchievementSubject", "GoldStar"]), "undefined_term"),
        (_set("name", "Developing\u0007"), "control_character"),
        (_set("credentialSubject.identifier.1.identityHash", "Ana\u007f"), "control_character"),
        (_set("credentialSubject.id", "earner-42"), "relative_iri"),
        (_set("credentialStatus.statusListCredential", "status/1"), "relative_iri"),
        (_set("proof.0.proofPurpose", "authentication"), "proof_purpose_invalid"),
        (_set("proof.0.cryptosuite", "ecdsa-rdfc-2019"), "cryptosuite_unsupported"),
        (_set("proof.0.cryptosuite", "eddsa-2022"), "cryptosuite_unsupported"),
        (_set("proof.0.type", "Ed25519Signature2020"), "proof_type_unsupported"),
        (_set("proof.0.proofValue", "uAAAA"), "proof_value_malformed"),
        (_set("proof.0.proofValue", "z0OIl"), "proof_value_malformed"),
        (_set("proof.0.proofValue", encode_base58btc(bytes(63))), "proof_value_malformed"),
        (_set("proof.0.proofValue", None), "proof_value_malformed"),
        (lambda secured: secured.pop("proof"), "proof_missing"),
        (lambda secured: secured.update(proof=secured["proof"] * 2), "proof_malformed"),
        (lambda secured: secured.update(proof="z5x9aCBY"), "proof_malformed"),
        (
            lambda secured: secured["proof"][0].pop("verificationMethod"),
            "verification_method_missing",
        ),
        (
            _set("proof.0.@context", ["https://w3id.org/security/data-integrity/v2"]),
            "proof_context_mismatch",
        ),
        (_set("proof.0.created", "2026-11-28T09:30:01Z"), "signature_invalid"),
        (_set("credentialSubject.achievement.name", "Advanced"), "signature_invalid"),
        (
            _set("@context.1", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json"),
            "protected_term_redefinition",
        ),
    ],
    ids=[
        "unknown remote @context",
        "unpinned OB context version",
        "undefined term added after signing",
        "undefined type added after signing",
        "control character in a string",
        "DEL in a string",
        "relative id",
        "relative IRI in an IRI-valued term",
        "wrong proofPurpose",
        "wrong cryptosuite",
        "old eddsa cryptosuite name",
        "wrong proof type",
        "proofValue not base58btc multibase",
        "proofValue outside the alphabet",
        "proofValue too short",
        "proofValue missing",
        "proof missing",
        "two proofs",
        "proof not an object",
        "verificationMethod missing",
        "proof @context not a prefix",
        "proof created changed",
        "signed field changed",
        "OB 3.0.1 redefines protected VC 2.0 terms",
    ],
)
def test_verify_proof_refuses(change: Callable[[dict[str, Any]], Any], code: str) -> None:
    secured = _our_signed()
    change(secured)
    with pytest.raises(ProofError) as refused:
        verify_proof(secured, _test_key().public_key())
    assert refused.value.code == code


def test_verify_proof_refuses_a_signature_by_another_key() -> None:
    other_key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"another TEST key").digest())
    with pytest.raises(ProofError) as refused:
        verify_proof(_our_signed(), other_key.public_key())
    assert refused.value.code == "signature_invalid"


def test_verify_proof_accepts_a_lone_proof_object() -> None:
    secured = _our_signed()
    secured["proof"] = read_proof(secured)
    verify_proof(secured, _test_key().public_key())


def test_verify_proof_accepts_a_proof_context_that_prefixes_the_document_context() -> None:
    secured = _our_signed()
    secured["proof"][0]["@context"] = [VC_V2]
    verify_proof(secured, _test_key().public_key())


# Canonicalization refusals.


def _our_unsigned() -> dict[str, Any]:
    return _read_json(OUR_VECTORS / "unsigned-credential.json")


@pytest.mark.parametrize(
    ("change", "code", "path"),
    [
        (_set("name", "tab\there"), "control_character", "$.name"),
        (
            _set("credentialSubject.achievement.description", "\x00"),
            "control_character",
            "$.credentialSubject.achievement.description",
        ),
        (
            _set("evidence.0.narrative", "page\x0cbreak"),
            "control_character",
            "$.evidence[0].narrative",
        ),
        (
            lambda unsigned: unsigned.update({"na\nme": "x"}),
            "control_character",
            "$.na\nme (key)",
        ),
        (_set("issuer.id", "/issuer"), "relative_iri", "$.issuer.id"),
        (
            _set("credentialSubject.achievement.@id", "achievements/1"),
            "relative_iri",
            "$.credentialSubject.achievement.@id",
        ),
        (_set("issuer.id", "//badges.example.org"), "relative_iri", "$.issuer.id"),
        (_set("issuer.id", "https://badges.example.org/a b"), "invalid_iri", "$.issuer.id"),
        (_set("issuer.id", "https://badges.example.org/<x>"), "invalid_iri", "$.issuer.id"),
        (_set("validFrom", float("nan")), "not_json", "$.validFrom"),
        (_set("credentialSubject.result", {1, 2}), "not_json", "$.credentialSubject.result"),
        (lambda unsigned: unsigned.update({1: "x"}), "not_json", "$"),
    ],
    ids=[
        "tab",
        "NUL",
        "form feed in a list item",
        "line feed in a key",
        "path-relative id",
        "relative @id",
        "scheme-relative id",
        "space in an IRI",
        "angle brackets in an IRI",
        "NaN",
        "a set",
        "a non-string key",
    ],
)
def test_canonicalize_refuses_input_canonicalizers_disagree_on(
    change: Callable[[dict[str, Any]], Any], code: str, path: str
) -> None:
    unsigned = _our_unsigned()
    change(unsigned)
    with pytest.raises(CanonicalizationError) as refused:
        canonicalize(unsigned)
    assert refused.value.code == code
    assert refused.value.details["path"] == path


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param(
            lambda unsigned: unsigned.pop("@context"), "context_missing", id="no @context"
        ),
        pytest.param(_set("@context", VC_V2), "undefined_term", id="OB context missing"),
        pytest.param(
            _append_context({"name": "https://attacker.example/name"}),
            "protected_term_redefinition",
            id="protected term redefined",
        ),
        pytest.param(
            _append_context({"@vocab": None}),
            "canonicalization_failed",
            id="pyld KeyError is wrapped",
        ),
        pytest.param(
            _append_context({"nickname": "nick"}), "invalid_jsonld", id="relative term mapping"
        ),
        pytest.param(
            lambda unsigned: unsigned.update({"_:nickname": "Ana"}),
            "undefined_term",
            id="blank node property",
        ),
        pytest.param(
            _set("credentialSubject.type", "AchievementSubject Extra"),
            "undefined_term",
            id="type with a space",
        ),
        pytest.param(
            _set("issuer", {"@id": "https://badges.example.org", "@type": "Issuer"}),
            "undefined_term",
            id="@type keyword with an undefined type",
        ),
        pytest.param(
            _set("validFrom", {"@value": "2026", "@type": "date"}),
            "invalid_jsonld",
            id="relative datatype",
        ),
        pytest.param(
            _set("credentialSubject.id", {"nested": "object"}), "invalid_jsonld", id="object as id"
        ),
        pytest.param(
            _set("name", {"@value": "Badge", "@language": "en US"}),
            "invalid_language_tag",
            id="language tag with a space",
        ),
        pytest.param(
            _set("name", {"@value": "شارة", "@language": "ar", "@direction": "rtl"}),
            "direction_unsupported",
            id="base direction",
        ),
        pytest.param(
            _set("credentialSubject.@reverse", {"https://badges.example.org/v#p": {"@id": "y"}}),
            "relative_iri",
            id="relative IRI under @reverse",
        ),
    ],
)
def test_canonicalize_refuses_what_json_ld_would_drop_or_reject(
    change: Callable[[dict[str, Any]], Any], code: str
) -> None:
    unsigned = _our_unsigned()
    change(unsigned)
    with pytest.raises(CanonicalizationError) as refused:
        canonicalize(unsigned)
    assert refused.value.code == code


def test_canonicalize_wraps_deep_nesting_instead_of_crashing() -> None:
    unsigned = _our_unsigned()
    nested: Any = "deep"
    for _ in range(5000):
        nested = [nested]
    unsigned["evidence"] = nested
    with pytest.raises(CanonicalizationError):
        canonicalize(unsigned)


def test_line_breaks_in_values_are_signed_escaped() -> None:
    """LF and CR are escaped alike by every canonicalizer, and Markdown needs them."""
    unsigned = _our_unsigned()
    unsigned["evidence"][0]["narrative"] = "Reviewed:\r\n- ticket 1\n- ticket 2"
    assert '"Reviewed:\\r\\n- ticket 1\\n- ticket 2"' in canonicalize(unsigned)


def test_canonicalize_accepts_blank_node_identifiers() -> None:
    unsigned = _our_unsigned()
    unsigned["credentialSubject"]["id"] = "_:earner"
    assert "_:c14n" in canonicalize(unsigned)


def test_canonicalize_leaves_its_input_alone() -> None:
    unsigned = _our_unsigned()
    unsigned["@context"].append({"nickname": "https://badges.example.org/vocab#nickname"})
    unsigned["nickname"] = "Ana"
    before = copy.deepcopy(unsigned)
    assert '#nickname> "Ana"' in canonicalize(unsigned)
    assert unsigned == before


# pyld: the lock and the cache.


def _numbered_credential(number: int) -> dict[str, Any]:
    credential = _our_unsigned()
    credential["id"] = f"https://badges.example.org/credentials/{number}"
    credential["credentialSubject"]["id"] = f"urn:uuid:00000000-0000-4000-8000-{number:012d}"
    credential["name"] = f"Award number {number}"
    return credential


def test_canonicalize_is_safe_from_many_threads() -> None:
    credentials = [_numbered_credential(number) for number in range(200)]
    expected = [canonicalize(credential) for credential in credentials]
    results: list[str | None] = [None] * len(credentials)
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def work(worker: int) -> None:
        start.wait()
        for index in range(worker, len(credentials), 8):
            try:
                results[index] = canonicalize(credentials[index])
            except BaseException as error:  # a failure must fail the test, not the thread
                failures.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert results == expected
    assert len(set(expected)) == len(expected)


def test_our_contexts_stay_out_of_pylds_process_wide_cache() -> None:
    canonicalize(_our_unsigned())
    with PYLD_LOCK:
        assert not set(ALLOWED_CONTEXTS) & set(jsonld._resolved_context_cache.keys())


def test_a_context_another_loader_tags_static_does_not_reach_us() -> None:
    """Another pyld user caching a different document under our URL must not change our output."""
    unsigned = _read_json(OUR_VECTORS / "unsigned-credential.json")
    expected = (OUR_VECTORS / "document-canon.nq").read_text(encoding="utf-8")
    forged = load_context(VC_V2)
    scoped = forged["@context"]["VerifiableCredential"]["@context"]
    scoped["validFrom"]["@id"] = "https://attacker.example/validFrom"

    def forging_loader(url: str, options: Any = None) -> dict[str, Any]:
        document = forged if url == VC_V2 else load_context(url)
        return {"contextUrl": None, "documentUrl": url, "document": document, "tag": "static"}

    try:
        with PYLD_LOCK:
            forged_nquads = jsonld.normalize(
                unsigned,
                {
                    "algorithm": "URDNA2015",
                    "format": "application/n-quads",
                    "documentLoader": forging_loader,
                },
            )
        assert "https://attacker.example/validFrom" in forged_nquads
        assert canonicalize(unsigned) == expected
    finally:
        with PYLD_LOCK:
            for url in ALLOWED_CONTEXTS:
                jsonld._resolved_context_cache.pop(url, None)


# Properties.

_PRINTABLE = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30
)


@st.composite
def credentials(draw: st.DrawFn) -> dict[str, Any]:
    """Unsigned OpenBadgeCredentials in the shape the awarding module builds."""
    credential = _our_unsigned()
    credential["id"] = f"https://badges.example.org/credentials/{draw(st.uuids())}"
    credential["name"] = draw(_PRINTABLE)
    credential["validFrom"] = draw(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = credential["credentialSubject"]
    subject["id"] = f"urn:uuid:{draw(st.uuids())}"
    subject["identifier"][1]["identityHash"] = draw(_PRINTABLE)
    subject["achievement"]["description"] = draw(_PRINTABLE)
    subject["achievement"]["criteria"]["narrative"] = draw(_PRINTABLE)
    subject["result"] = subject["result"][: draw(st.integers(min_value=0, max_value=2))]
    if draw(st.booleans()):
        del credential["validUntil"]
    credential["credentialStatus"]["statusListIndex"] = str(
        draw(st.integers(min_value=0, max_value=131071))
    )
    credential["evidence"][0]["narrative"] = draw(_PRINTABLE)
    return credential


def _leaves(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Paths of every string, number and boolean in a JSON value."""
    if isinstance(value, dict):
        return [leaf for key, child in value.items() for leaf in _leaves(child, (*path, key))]
    if isinstance(value, list):
        return [
            leaf for index, child in enumerate(value) for leaf in _leaves(child, (*path, index))
        ]
    return [path]


def _replace(document: Any, path: tuple[str | int, ...], value: Any) -> None:
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _lookup(document: Any, path: tuple[str | int, ...]) -> Any:
    node = document
    for part in path:
        node = node[part]
    return node


_PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@_PROPERTY_SETTINGS
@given(credentials())
def test_a_signed_credential_verifies(credential: dict[str, Any]) -> None:
    secured = add_proof(
        credential,
        private_key=_test_key(),
        verification_method="did:web:badges.example.org#key-1",
        created=CREATED,
    )
    verify_proof(secured, _test_key().public_key())


@_PROPERTY_SETTINGS
@given(credentials(), st.data())
def test_changing_any_signed_field_breaks_the_proof(
    credential: dict[str, Any], data: st.DataObject
) -> None:
    secured = add_proof(
        credential,
        private_key=_test_key(),
        verification_method="did:web:badges.example.org#key-1",
        created=CREATED,
    )
    signed_leaves = [path for path in _leaves(secured) if path != ("proof", 0, "proofValue")]
    path = data.draw(st.sampled_from(signed_leaves), label="path")
    old = _lookup(secured, path)
    if isinstance(old, bool):
        new: Any = not old
    elif isinstance(old, int | float):
        new = old + 1
    else:
        new = data.draw(
            st.one_of(
                _PRINTABLE.map(lambda suffix: old + suffix),
                _PRINTABLE.filter(lambda text: text != old),
            ),
            label="new value",
        )
    _replace(secured, path, new)
    with pytest.raises(ProofError):
        verify_proof(secured, _test_key().public_key())


# Poison graphs (RDFC-1.0 §4.9): blank nodes that look alike.


def _alike_results(unsigned: dict[str, Any], results: int, alignments: int) -> dict[str, Any]:
    """``results`` identical results, each with ``alignments`` identical alignments: every
    ordering of them must be tried by N-degree hashing."""
    alignment = {
        "type": ["Alignment"],
        "targetName": "Help desk",
        "targetUrl": "https://example.org/help-desk",
        "targetType": "ext:Skill",
    }
    unsigned["credentialSubject"]["result"] = [
        {"type": ["Result"], "alignment": [alignment] * alignments}
    ] * results
    return unsigned


def test_alike_blank_nodes_within_the_budget_canonicalize_as_pyld_does() -> None:
    """The budgeted canonicalizer differs from pyld's only in stopping: below the budget
    its N-Quads are pyld's, though hundreds of N-degree hashing steps were taken."""
    unsigned = _alike_results(_our_unsigned(), results=2, alignments=4)
    with PYLD_LOCK:
        expected = jsonld.normalize(
            copy.deepcopy(unsigned),
            {
                "algorithm": "URDNA2015",
                "format": "application/n-quads",
                "documentLoader": document_loader,
            },
        )
    assert canonicalize(unsigned) == expected


def test_a_poison_graph_is_refused_instead_of_canonicalized_for_minutes() -> None:
    # Two results of eight alike alignments: about 20 s of pyld's time without the budget.
    unsigned = _alike_results(_our_unsigned(), results=2, alignments=8)
    with pytest.raises(CanonicalizationError) as refused:
        canonicalize(unsigned)
    assert refused.value.code == "canonicalization_too_complex"


@pytest.mark.parametrize(
    "change",
    [
        lambda unsigned: unsigned.update(
            evidence=[{"type": ["Evidence"], "narrative": f"Item {n}"} for n in range(800)]
        ),
        lambda unsigned: unsigned["credentialSubject"].update(
            result=[
                {
                    "type": ["Result"],
                    "alignment": [
                        {"type": ["Alignment"], "targetName": f"A{n}", "targetUrl": "urn:x:a"}
                        for n in range(28)
                    ],
                }
                for _ in range(70)
            ]
        ),
    ],
    ids=["one long list", "many objects"],
)
def test_a_document_too_big_to_canonicalize_quickly_is_refused_before_the_work(
    change: Callable[[dict[str, Any]], Any],
) -> None:
    """800 items in one list (pyld compares every pair of them), or 2,030 objects in short
    lists."""
    unsigned = _our_unsigned()
    change(unsigned)
    with pytest.raises(CanonicalizationError) as refused:
        canonicalize(unsigned)
    assert refused.value.code == "document_too_complex"
