"""DIDAuth: a verifiable presentation by which a wallet proves it controls a DID.

The Learner Credential Wallet and other VC-API wallets answer a ``DIDAuthentication``
request with a presentation whose ``holder`` is their ``did:key`` (or ``did:jwk``), signed
by that DID's key with ``proofPurpose: authentication`` over our ``challenge`` (and
``domain`` when the request named one). The proof is ``eddsa-rdfc-2022`` or the older
``Ed25519Signature2020``, which signs the same bytes (SHA-256 of the canonical proof
options with the presentation's ``@context``, then of the canonical presentation), so both
are checked with ``data_integrity.signing_input``; canonicalization refuses what it
refuses for credentials (undefined terms, relative IRIs, unpinned contexts).

The challenge is returned for the caller to match against the one it stored: whether it is
ours, fresh and unused is a question for the database, not for this module.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from issuer.did_resolution import (
    ControllerDocument,
    KeyResolutionError,
    did_jwk_document,
    did_key_document,
)
from issuer.errors import InvalidInput, ProofError
from issuer.multibase import decode_base58btc
from issuer.proofs import data_integrity

PROOF_PURPOSE = "authentication"
LEGACY_PROOF_TYPE = "Ed25519Signature2020"
# What a DIDAuth request may say it accepts: the proof forms checked here.
ACCEPTED_CRYPTOSUITES = ("eddsa-rdfc-2022", LEGACY_PROOF_TYPE)


@dataclass(frozen=True)
class Authentication:
    """A verified DIDAuth presentation: who signed it, and for which challenge and domain."""

    holder: str
    challenge: str
    domain: str | None


def verify_authentication(presentation: Any, *, domain: str) -> Authentication:
    """Check a DIDAuth presentation's proof and that it was made for ``domain`` (if it names
    one), by the key of its ``holder``.

    Raises ProofError ``presentation_malformed``, ``holder_unsupported``, ``proof_missing``,
    ``proof_malformed``, ``proof_type_unsupported``, ``proof_purpose_invalid``,
    ``challenge_missing``, ``domain_mismatch``, ``verification_method_not_holders``,
    ``key_type_invalid``, ``proof_value_malformed`` and ``signature_invalid``;
    CanonicalizationError as ``data_integrity.canonicalize``.
    """
    if not isinstance(presentation, dict):
        raise ProofError("presentation_malformed", "The presentation is not a JSON object.")
    types = presentation.get("type")
    types = types if isinstance(types, list) else [types]
    if "VerifiablePresentation" not in types:
        raise ProofError(
            "presentation_malformed", "The presentation's type must include VerifiablePresentation."
        )
    holder = _holder(presentation.get("holder"))
    document = _holder_document(holder)
    proof = data_integrity.read_proof(presentation)
    _check_proof_form(proof)
    challenge = proof.get("challenge")
    if not isinstance(challenge, str) or not challenge:
        raise ProofError("challenge_missing", "The presentation's proof carries no challenge.")
    proof_domain = proof.get("domain")
    if proof_domain is not None and proof_domain != domain:
        raise ProofError(
            "domain_mismatch", f"The presentation was made for another domain, not {domain}."
        )
    method = document.methods.get(str(proof.get("verificationMethod")))
    if method is None:
        raise ProofError(
            "verification_method_not_holders",
            "The presentation is not signed by a key of its holder.",
        )
    if not isinstance(method.public_key, ed25519.Ed25519PublicKey):
        raise ProofError("key_type_invalid", "A DIDAuth proof needs an Ed25519 key.")
    _verify_signature(presentation, proof, method.public_key)
    return Authentication(holder, challenge, proof_domain)


def _holder(value: Any) -> str:
    holder = value.get("id") if isinstance(value, dict) else value
    if not isinstance(holder, str) or not holder.startswith(("did:key:", "did:jwk:")):
        raise ProofError(
            "holder_unsupported", "The presentation's holder must be a did:key or did:jwk."
        )
    return holder


def _holder_document(holder: str) -> ControllerDocument:
    try:
        if holder.startswith("did:key:"):
            return did_key_document(holder)
        return did_jwk_document(holder)
    except KeyResolutionError as error:
        raise ProofError("holder_unsupported", error.message) from None


def _check_proof_form(proof: dict[str, Any]) -> None:
    if proof.get("type") == data_integrity.PROOF_TYPE:
        if proof.get("cryptosuite") != data_integrity.CRYPTOSUITE:
            raise ProofError(
                "proof_type_unsupported",
                f"A DIDAuth proof must be {' or '.join(ACCEPTED_CRYPTOSUITES)}.",
            )
    elif proof.get("type") != LEGACY_PROOF_TYPE:
        raise ProofError(
            "proof_type_unsupported",
            f"A DIDAuth proof must be {' or '.join(ACCEPTED_CRYPTOSUITES)}.",
        )
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        raise ProofError(
            "proof_purpose_invalid", f"A DIDAuth proof's purpose must be {PROOF_PURPOSE}."
        )


def _verify_signature(
    presentation: dict[str, Any], proof: dict[str, Any], public_key: ed25519.Ed25519PublicKey
) -> None:
    unsecured = {key: value for key, value in presentation.items() if key != "proof"}
    options = {key: copy.deepcopy(value) for key, value in proof.items() if key != "proofValue"}
    data_integrity.drop_proof_context(options, unsecured.get("@context"))
    try:
        signature = decode_base58btc(proof.get("proofValue"))  # type: ignore[arg-type]
    except InvalidInput:
        raise ProofError("proof_value_malformed", "The proofValue is not base58btc.") from None
    if len(signature) != data_integrity.ED25519_SIGNATURE_LENGTH:
        raise ProofError("proof_value_malformed", "The proofValue is not an Ed25519 signature.")
    try:
        public_key.verify(signature, data_integrity.signing_input(unsecured, options))
    except InvalidSignature:
        raise ProofError(
            "signature_invalid", "The presentation's signature does not match it."
        ) from None
