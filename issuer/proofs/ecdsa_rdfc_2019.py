"""Data Integrity proofs with the ``ecdsa-rdfc-2019`` cryptosuite (W3C vc-di-ecdsa), verify only.

The steps are those of ``eddsa-rdfc-2022`` (``issuer.proofs.data_integrity``) with ECDSA in
place of Ed25519, at the security level of the key's curve:

- P-256: RDFC-1.0 with SHA-256, ``SHA-256(proof configuration) || SHA-256(document)``
  signed with ECDSA P-256 / SHA-256;
- P-384: RDFC-1.0 with SHA-384 (the spec asks for a canonicalization hash of the curve's
  level, and the reference implementation labels blank nodes with it), 48-byte SHA-384
  hashes, ECDSA P-384 / SHA-384.

The signature is IEEE P1363 (``r || s``, each as long as the curve's order) in a multibase
base58btc ``proofValue``. The curve comes from the issuer's key, never from the proof.
Canonicalization is ``data_integrity.canonicalize``: the same pinned contexts, input checks
and work bounds as every other suite. Verifying raises, it never returns ``False``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from issuer.errors import InvalidInput, ProofError
from issuer.multibase import decode_base58btc
from issuer.proofs import data_integrity
from issuer.proofs.data_integrity import RdfcEngine

CRYPTOSUITE = "ecdsa-rdfc-2019"


@dataclass(frozen=True)
class CurveSuite:
    """What one curve fixes: its name, the hash at its level, the length of ``r`` and ``s``."""

    name: str
    hash_name: str
    hash_algorithm: type[hashes.HashAlgorithm]
    scalar_length: int
    canonicalizer: RdfcEngine


CURVES: dict[str, CurveSuite] = {
    "secp256r1": CurveSuite("P-256", "sha256", hashes.SHA256, 32, data_integrity.pyld_rdfc),
    "secp384r1": CurveSuite("P-384", "sha384", hashes.SHA384, 48, data_integrity.pyld_rdfc_sha384),
}


def verify_proof(secured: dict[str, Any], public_key: ec.EllipticCurvePublicKey) -> None:
    """Verify the single ``ecdsa-rdfc-2019`` proof of ``secured`` with ``public_key``.

    The caller has established that ``public_key`` may speak for the issuer.

    Raises:
        ProofError: ``proof_missing``, ``proof_malformed``, ``proof_type_unsupported``,
            ``cryptosuite_unsupported``, ``proof_purpose_invalid``,
            ``verification_method_missing``, ``key_type_invalid`` (not P-256 or P-384),
            ``proof_context_mismatch``, ``proof_value_malformed``, ``signature_invalid``.
        CanonicalizationError: as ``data_integrity.canonicalize``.
    """
    proof = data_integrity.read_proof(secured)
    data_integrity.check_proof_parameters(proof, CRYPTOSUITE)
    curve = curve_of(public_key)
    signature = decode_signature(proof.get("proofValue"), curve)
    unsecured = {key: value for key, value in secured.items() if key != "proof"}
    proof_options = {key: value for key, value in proof.items() if key != "proofValue"}
    data_integrity.drop_proof_context(proof_options, unsecured.get("@context"))
    proof_configuration = {**proof_options, "@context": unsecured.get("@context")}
    canonical_proof = data_integrity.canonicalize(proof_configuration, engine=curve.canonicalizer)
    canonical_document = data_integrity.canonicalize(unsecured, engine=curve.canonicalizer)
    verify_signature(public_key, signature, hash_data(canonical_proof, canonical_document, curve))


def curve_of(public_key: Any) -> CurveSuite:
    """The curve suite of an EC public key.

    Raises:
        ProofError: ``key_type_invalid`` for anything but a P-256 or P-384 key.
    """
    curve = (
        CURVES.get(public_key.curve.name)
        if isinstance(public_key, ec.EllipticCurvePublicKey)
        else None
    )
    if curve is None:
        raise ProofError("key_type_invalid", "The issuer key is not a P-256 or P-384 key.")
    return curve


def hash_data(
    canonical_proof_configuration: str, canonical_document: str, curve: CurveSuite
) -> bytes:
    """``H(canonical proof configuration) || H(canonical document)``, H the curve's hash."""
    proof_hash = hashlib.new(curve.hash_name, canonical_proof_configuration.encode("utf-8"))
    document_hash = hashlib.new(curve.hash_name, canonical_document.encode("utf-8"))
    return proof_hash.digest() + document_hash.digest()


def decode_signature(proof_value: Any, curve: CurveSuite) -> bytes:
    """The P1363 signature held in a multibase base58btc ``proofValue``.

    Raises:
        ProofError: ``proof_value_malformed`` (not base58btc, or not two scalars long).
    """
    try:
        signature = decode_base58btc(proof_value)
    except InvalidInput as error:
        raise ProofError(
            "proof_value_malformed", "The proofValue is not a multibase base58btc string."
        ) from error
    if len(signature) != 2 * curve.scalar_length:
        raise ProofError(
            "proof_value_malformed",
            f"The proofValue holds {len(signature)} bytes, not a {curve.name} signature.",
        )
    return signature


def verify_signature(
    public_key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes
) -> None:
    """Verify an IEEE P1363 (``r || s``) ECDSA signature over ``message`` at the key's level.

    Raises:
        ProofError: ``key_type_invalid``; ``signature_invalid``.
    """
    curve = curve_of(public_key)
    if len(signature) != 2 * curve.scalar_length:
        raise ProofError("signature_invalid", f"The signature is not a {curve.name} signature.")
    r = int.from_bytes(signature[: curve.scalar_length], "big")
    s = int.from_bytes(signature[curve.scalar_length :], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), message, ec.ECDSA(curve.hash_algorithm()))
    except InvalidSignature as error:
        raise ProofError(
            "signature_invalid", "The Data Integrity signature does not match the credential."
        ) from error
