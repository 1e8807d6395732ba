"""Data Integrity proofs with the ``ecdsa-sd-2023`` cryptosuite (W3C vc-di-ecdsa), verify only.

``ecdsa-sd-2023`` lets a holder show part of a credential. The issuer signs a *base proof*
(kept by the holder, never shown); the holder *derives* from it a proof over the statements
it chooses to show, and only a derived proof is verified. Its ``proofValue`` is ``u`` +
base64url (no padding) of the header ``0xd9 0x5d 0x01`` and a CBOR array of five items:

- ``baseSignature``: the issuer's P-256 signature (IEEE P1363) over
  ``SHA-256(canonical proof configuration) || publicKey || SHA-256(mandatory statements)``;
- ``publicKey``: a P-256 key made for this one credential (multicodec ``0x1200`` and a
  compressed point, 35 bytes) whose signatures cover each non-mandatory statement;
- ``signatures``: one 64-byte P1363 signature per non-mandatory statement shown, in order;
- ``compressedLabelMap``: canonical blank node label number → the 32-byte HMAC the issuer
  gave that blank node (the HMAC key stays with the holder, so labels leak nothing);
- ``mandatoryIndexes``: which of the statements shown the issuer made mandatory.

Verifying canonicalizes the document as shown (``data_integrity.canonicalize``: pinned
contexts, input checks, bounds), replaces each canonical blank node label by its HMAC label
(``u`` + base64url), sorts the statements, splits them into mandatory and not by
``mandatoryIndexes``, and checks every signature. A base proof (header ``0xd9 0x5d 0x00``)
is refused with ``sd_base_proof``: the spec requires it, and it carries the HMAC key.

Two choices follow the reference implementation (Digital Bazaar's
ecdsa-sd-2023-cryptosuite 3.4, di-sd-primitives 3.3), since that is what holders' wallets
sign with: the statements are sorted by UTF-16 code units, and the issuer's key is P-256
(the suite's required algorithm). Blank node labels are replaced only where N-Quads hold
blank nodes, never inside a literal or an IRI, so text that looks like a label is compared
as it is (a stricter reading than the reference's, which can only refuse more).
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.errors import InvalidInput, ProofError
from issuer.multibase import decode_base64url, encode_base64url
from issuer.proofs import data_integrity
from issuer.proofs.ecdsa_rdfc_2019 import verify_signature

CRYPTOSUITE = "ecdsa-sd-2023"
BASE_PROOF_HEADER = b"\xd9\x5d\x00"
DERIVED_PROOF_HEADER = b"\xd9\x5d\x01"
P256_PUB_MULTICODEC = b"\x80\x24"
SIGNATURE_LENGTH = 64
PROOF_KEY_LENGTH = 35
HMAC_LABEL_LENGTH = 32
# A proofValue far larger than any credential's statements could need is not decoded.
MAX_PROOF_VALUE_LENGTH = 512 * 1024

# One N-Quads term at a time: a literal (with escapes) or an IRI is kept as it is; only a
# canonical blank node label outside them is replaced.
_TERM = re.compile(r'"(?:[^"\\]|\\.)*"|<[^>]*>|_:(c14n[0-9]+)')


@dataclass(frozen=True)
class DerivedProofValue:
    """The five parts of a derived proofValue (see the module docstring)."""

    base_signature: bytes
    public_key: bytes
    signatures: tuple[bytes, ...]
    label_map: dict[str, str]
    mandatory_indexes: tuple[int, ...]


def verify_proof(secured: dict[str, Any], public_key: ec.EllipticCurvePublicKey) -> None:
    """Verify the single ``ecdsa-sd-2023`` derived proof of ``secured`` with the issuer's key.

    The caller has established that ``public_key`` may speak for the issuer.

    Raises:
        ProofError: ``proof_missing``, ``proof_malformed``, ``proof_type_unsupported``,
            ``cryptosuite_unsupported``, ``proof_purpose_invalid``,
            ``verification_method_missing``, ``key_type_invalid`` (not P-256),
            ``proof_context_mismatch``, ``sd_base_proof``, ``proof_value_malformed``,
            ``sd_label_map_mismatch``, ``signature_invalid``.
        CanonicalizationError: as ``data_integrity.canonicalize``.
    """
    proof = data_integrity.read_proof(secured)
    data_integrity.check_proof_parameters(proof, CRYPTOSUITE)
    if (
        not isinstance(public_key, ec.EllipticCurvePublicKey)
        or public_key.curve.name != "secp256r1"
    ):
        raise ProofError("key_type_invalid", "An ecdsa-sd-2023 issuer key must be a P-256 key.")
    derived = parse_derived_proof_value(proof.get("proofValue"))
    unsecured = {key: value for key, value in secured.items() if key != "proof"}
    proof_options = {key: value for key, value in proof.items() if key != "proofValue"}
    data_integrity.drop_proof_context(proof_options, unsecured.get("@context"))
    proof_configuration = {**proof_options, "@context": unsecured.get("@context")}
    proof_hash = hashlib.sha256(
        data_integrity.canonicalize(proof_configuration).encode("utf-8")
    ).digest()
    statements = relabel(data_integrity.canonicalize(unsecured), derived.label_map)
    verify_statements(derived, proof_hash, statements, public_key)


def parse_derived_proof_value(proof_value: Any) -> DerivedProofValue:
    """Decode a derived ``proofValue`` strictly (sizes, types, nothing after the CBOR).

    Raises:
        ProofError: ``sd_base_proof`` for a base proof; ``proof_value_malformed`` for
            anything else that is not a derived proof value.
    """
    if isinstance(proof_value, str) and len(proof_value) > MAX_PROOF_VALUE_LENGTH:
        raise ProofError("proof_value_malformed", "The proofValue is too long.")
    try:
        decoded = decode_base64url(proof_value)
    except InvalidInput as error:
        raise ProofError(
            "proof_value_malformed",
            "An ecdsa-sd-2023 proofValue must be multibase base64url without padding.",
        ) from error
    if decoded.startswith(BASE_PROOF_HEADER):
        raise ProofError(
            "sd_base_proof",
            "This is the issuer's base ecdsa-sd-2023 proof, which only the holder keeps; a "
            "verifier checks a proof derived from it (the holder's selective disclosure).",
        )
    if not decoded.startswith(DERIVED_PROOF_HEADER):
        raise ProofError(
            "proof_value_malformed", "The proofValue is not an ecdsa-sd-2023 derived proof."
        )
    parts = _decode_cbor(decoded[len(DERIVED_PROOF_HEADER) :])
    if not isinstance(parts, list) or len(parts) != 5:
        raise _malformed("it is not an array of five items")
    base_signature, proof_key, signatures, compressed_labels, mandatory = parts
    if not _is_bytes(base_signature, SIGNATURE_LENGTH):
        raise _malformed("the base signature is not 64 bytes")
    if not _is_bytes(proof_key, PROOF_KEY_LENGTH) or not proof_key.startswith(P256_PUB_MULTICODEC):
        raise _malformed("the proof key is not a compressed P-256 Multikey")
    if not isinstance(signatures, list) or not all(
        _is_bytes(signature, SIGNATURE_LENGTH) for signature in signatures
    ):
        raise _malformed("the signatures are not 64 bytes each")
    if not isinstance(compressed_labels, dict) or not all(
        _is_index(number) and _is_bytes(label, HMAC_LABEL_LENGTH)
        for number, label in compressed_labels.items()
    ):
        raise _malformed("the label map is not numbers to 32-byte labels")
    if not isinstance(mandatory, list) or not all(_is_index(index) for index in mandatory):
        raise _malformed("the mandatory indexes are not numbers")
    return DerivedProofValue(
        base_signature=bytes(base_signature),
        public_key=bytes(proof_key),
        signatures=tuple(bytes(signature) for signature in signatures),
        label_map={
            f"c14n{number}": encode_base64url(bytes(label))
            for number, label in compressed_labels.items()
        },
        mandatory_indexes=tuple(mandatory),
    )


def relabel(canonical_nquads: str, label_map: dict[str, str]) -> list[str]:
    """The canonical statements with each blank node labelled as the issuer labelled it,
    sorted (by UTF-16 code units, as the reference implementation sorts).

    Raises:
        ProofError: ``sd_label_map_mismatch`` if a blank node of the document has no label
            in the map, or the map labels blank nodes the document does not hold.
    """
    used: set[str] = set()

    def replace(term: re.Match[str]) -> str:
        canonical = term.group(1)
        if canonical is None:
            return term.group(0)
        label = label_map.get(canonical)
        if label is None:
            raise ProofError(
                "sd_label_map_mismatch",
                "The document holds a blank node the derived proof gives no label for.",
            )
        used.add(canonical)
        return f"_:{label}"

    statements = [_TERM.sub(replace, line) + "\n" for line in canonical_nquads.splitlines()]
    if used != set(label_map):
        raise ProofError(
            "sd_label_map_mismatch",
            "The derived proof labels blank nodes the document does not hold.",
        )
    return sorted(statements, key=lambda statement: statement.encode("utf-16-be"))


def verify_statements(
    derived: DerivedProofValue,
    proof_hash: bytes,
    statements: list[str],
    issuer_key: ec.EllipticCurvePublicKey,
) -> None:
    """Check the base signature (issuer key) and one signature per non-mandatory statement
    (the proof's own key).

    Raises:
        ProofError: ``proof_value_malformed`` (an index past the statements, or the proof
            key is not a P-256 point); ``signature_invalid``.
    """
    mandatory_indexes = set(derived.mandatory_indexes)
    if any(index >= len(statements) for index in mandatory_indexes):
        raise _malformed("a mandatory index is past the statements shown")
    mandatory = [s for index, s in enumerate(statements) if index in mandatory_indexes]
    shown = [s for index, s in enumerate(statements) if index not in mandatory_indexes]
    if len(shown) != len(derived.signatures):
        raise ProofError(
            "signature_invalid",
            f"The credential shows {len(shown)} statements the holder chose, but the proof "
            f"signs {len(derived.signatures)}: it is not what was disclosed.",
        )
    try:
        proof_key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), derived.public_key[len(P256_PUB_MULTICODEC) :]
        )
    except ValueError as error:
        raise _malformed("the proof key is not a P-256 point") from error
    for signature, statement in zip(derived.signatures, shown, strict=True):
        verify_signature(proof_key, signature, statement.encode("utf-8"))
    mandatory_hash = hashlib.sha256("".join(mandatory).encode("utf-8")).digest()
    verify_signature(
        issuer_key, derived.base_signature, proof_hash + derived.public_key + mandatory_hash
    )


def _decode_cbor(payload: bytes) -> Any:
    """CBOR-decode ``payload``, which must hold exactly one item and no tags.

    Raises:
        ProofError: ``proof_value_malformed``.
    """
    stream = io.BytesIO(payload)
    try:
        value = cbor2.CBORDecoder(stream, tag_hook=_refuse_tag).decode()
    except ProofError:
        raise
    except Exception as error:
        # cbor2 raises its own errors, and ValueError/OverflowError/RecursionError on
        # odd input; any of them means the value is not a derived proof.
        raise _malformed("it is not CBOR") from error
    if stream.tell() != len(payload):
        raise _malformed("bytes follow the CBOR value")
    return value


def _refuse_tag(decoder: Any, tag: Any) -> Any:
    raise _malformed("CBOR tags are not allowed in it")


def _is_bytes(value: Any, length: int) -> bool:
    return isinstance(value, bytes) and len(value) == length


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31


def _malformed(reason: str) -> ProofError:
    return ProofError(
        "proof_value_malformed", f"The ecdsa-sd-2023 derived proofValue is malformed: {reason}."
    )
