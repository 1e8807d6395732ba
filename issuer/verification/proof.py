"""The proof check: the signature is right AND the key speaks for the issuer.

A valid signature proves only that someone holding the key signed; the credential is the
issuer's only when the key is one the issuer published for assertions. So:

- Data Integrity: the verification method must be a DID URL or URL of the issuer itself
  (the controller of the key is ``issuer.id``), listed under ``assertionMethod`` of the
  issuer's DID or controller document; a ``did:key`` method counts only when the issuer
  *is* that did:key. The suites are ``eddsa-rdfc-2022``, ``ecdsa-rdfc-2019`` (P-256,
  P-384) and ``ecdsa-sd-2023`` (a holder's derived proof; the issuer's base proof is
  refused), chosen by ``issuer.proofs.cryptosuites``; two older forms that sign the same
  bytes as eddsa-rdfc-2022 are accepted with a warning: ``eddsa-2022`` (its earlier name)
  and the ``Ed25519Signature2020`` proof type (common on VC 1.1 credentials). Contexts come
  only from the pinned set and canonicalization that would drop a term fails
  (``issuer.proofs.data_integrity``), whatever the suite.
- A proof set (``proof`` as a list, up to ``MAX_PROOFS``) verifies when every proof does,
  each by a key of the issuer; the report names every proof, and a failure says which.
- VC-JWT: ``issuer.proofs.vc_jwt`` with the key looked up by ``kid`` among the issuer's
  keys; a ``jwk`` header is accepted only when it equals one of them. The algorithm is
  the key's.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from issuer.caching import BoundedCache
from issuer.did_resolution import (
    ControllerDocument,
    IssuerKeyResolver,
    KeyResolutionError,
    VerificationMethod,
    did_key_document,
    same_key,
)
from issuer.errors import InvalidInput, IssuerError, ProofError
from issuer.multibase import decode_base58btc
from issuer.proofs import cryptosuites, data_integrity, plain_form, vc_jwt
from issuer.verification.checks import VerificationContext

LEGACY_CRYPTOSUITE = "eddsa-2022"
LEGACY_PROOF_TYPE = "Ed25519Signature2020"
# What each older form is told, as a warning, when its signature is good.
_LEGACY_WARNINGS = {
    LEGACY_CRYPTOSUITE: (
        "cryptosuite_legacy",
        "The signature uses eddsa-2022, the earlier name of eddsa-rdfc-2022; it is valid, but "
        "the issuer should move to eddsa-rdfc-2022.",
    ),
    LEGACY_PROOF_TYPE: (
        "proof_type_legacy",
        "The signature uses Ed25519Signature2020, the format that preceded Data Integrity "
        "proofs; it is valid, but the issuer should move to eddsa-rdfc-2022.",
    ),
}
MAX_PROOFS = 4
# Good proofs of our own credentials remembered per process (ProofCheck), for this long.
REMEMBERED_OWN_PROOFS = 4096
OWN_PROOF_SECONDS = 300.0
# Identifiers that are their own key: a JWT kid may name such an issuer's one key by the DID.
_SELF_CERTIFYING = ("did:key:", "did:jwk:")
# The expiry of a JWT is the validity check's to report, once the signature is known good.
_TIME_CODES = ("jwt_expired", "jwt_not_yet_valid")


class ProofCheck:
    """Checks every proof of the credential (see the module docstring).

    Our own Data Integrity credentials are verified again and again (their pages, employers
    checking the same file), and canonicalizing one costs far more than its signature. So
    a good proof of a credential that names us as issuer is remembered by the credential's
    digest (``VerificationContext.content_digest``) for ``OWN_PROOF_SECONDS``: the same
    value, checked against the same keys of ours (which are never withdrawn, only retired
    and still published), has the same proof. What failed is checked anew each time, and
    status and dates are always checked live by their own checks.
    """

    name = "proof"

    def __init__(self, resolver: IssuerKeyResolver) -> None:
        self._resolver = resolver
        # By digest: the sentence and the warnings a good proof of ours was reported with.
        self._own_proven: BoundedCache[str, tuple[str | None, tuple[tuple[str, str], ...]]] = (
            BoundedCache(REMEMBERED_OWN_PROOFS, seconds=OWN_PROOF_SECONDS)
        )

    def verify(self, context: VerificationContext) -> None:
        """Raises ProofError / CheckFailed / KeyResolutionError with the failing step's code."""
        if context.presented.jwt is not None:
            self._verify_jwt(context)
            return
        remember = context.own_issuer and issuer_id_of(context.credential) == (
            self._resolver.own_did
        )
        if not remember:
            self._verify_data_integrity(context)
            return
        digest = context.content_digest()
        proven = self._own_proven.get(digest)
        if proven is None:
            self._verify_data_integrity(context)
            proven = (context.passed_message, tuple(context.notes))
            self._own_proven.put(digest, proven)
            return
        message, notes = proven
        context.notes.extend(notes)
        if message is not None:
            context.say(message)

    def _verify_data_integrity(self, context: VerificationContext) -> None:
        credential = context.credential
        proofs = credential.get("proof")
        proof_list = proofs if isinstance(proofs, list) else [proofs] if proofs else []
        if not proof_list:
            raise ProofError(
                "proof_missing", "The credential carries no signature (no proof and no JWT)."
            )
        if len(proof_list) > MAX_PROOFS:
            raise ProofError("proof_malformed", f"More than {MAX_PROOFS} proofs; not checked.")
        signed = []
        for number, proof in enumerate(proof_list, start=1):
            try:
                signer = verify_data_integrity_proof(credential, proof, self._resolver, context)
            except IssuerError as error:
                if len(proof_list) == 1:
                    raise
                raise type(error)(
                    error.code,
                    f"Proof {number} of {len(proof_list)} ({_suite_name(proof)}): {error.message}",
                    error.details,
                ) from error
            signed.append(
                f"{_suite_name(proof)} by the issuer's key {signer.id} ({_source(signer)})"
            )
        if len(signed) == 1:
            context.say(f"Signed with {signed[0]}.")
        else:
            listed = "; ".join(f"{number}. {text}" for number, text in enumerate(signed, start=1))
            context.say(f"All {len(signed)} proofs verify: {listed}.")

    def _verify_jwt(self, context: VerificationContext) -> None:
        issuer_id = verify_jwt_credential(
            context.presented.jwt or "", context.credential, self._resolver, now=context.now
        )
        context.say(f"The VC-JWT is signed by a key the issuer publishes ({issuer_id}).")


def verify_jwt_credential(
    token: str,
    credential: dict[str, Any],
    resolver: IssuerKeyResolver,
    *,
    now: datetime,
    claims_optional: bool = False,
) -> str:
    """Check that ``token`` is a VC-JWT signed by a key of its issuer and carries exactly
    ``credential`` (read from it beforehand, unverified); return the issuer id.

    An expired or not yet valid token passes: the validity check reports that. Another
    issuer's token may leave out ``sub``; with ``claims_optional`` (a status list, which
    VC-JOSE-COSE lets carry no JWT claims) it may leave out any registered claim, and those
    present must still match. Raises KeyResolutionError (``issuer_missing``,
    ``verification_method_not_issuers``, ``jwks_not_issuers``, ``unknown_key``,
    ``fetch_*``, ...) and ProofError (``jwt_*``).
    """
    issuer_id = issuer_id_of(credential)
    if issuer_id is None:
        raise KeyResolutionError("issuer_missing", "The credential names no issuer.")
    own = issuer_id == resolver.own_did
    # The header is read unverified only to learn where the key is. The issuer's keys are
    # looked up once, before the signature is checked, so that a key document that cannot
    # be fetched is reported as such and not as an unknown key, and a kid that names
    # someone else's key keeps its own code.
    header = vc_jwt.read_header(token)
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    keys = _issuer_keys(resolver, issuer_id, kid)
    if kid and vc_jwt.JWK_HEADER_MEMBER not in header:
        keys = [_key_for_kid(issuer_id, keys, kid)]
    try:
        verified = vc_jwt.verify_vc_jwt(
            token,
            lambda kid: _key_for_kid(issuer_id, keys, kid),
            now=now,
            resolve_jwk=lambda jwk, kid: _key_for_jwk(issuer_id, keys, jwk, kid),
            allow_missing_sub=not own,
            claims_optional=claims_optional and not own,
        )
    except ProofError as error:
        if error.code not in _TIME_CODES:
            raise
        verified = error.details["credential"]
    if verified != credential:
        raise ProofError("jwt_payload_mismatch", "The signed payload is not what was read.")
    return issuer_id


def _issuer_keys(
    resolver: IssuerKeyResolver, issuer_id: str, kid: str | None
) -> list[VerificationMethod]:
    """The keys that may have signed: a DID issuer's assertion keys; for an https issuer,
    the JWK Set a ``kid`` URL names (on the issuer's origin) or else its
    ``/.well-known/jwks.json``.

    Raises KeyResolutionError (``jwks_not_issuers``, ``unknown_key``, ``fetch_*``, ...).
    """
    if issuer_id.startswith("did:"):
        return resolver.controller_document(issuer_id).assertion_keys()
    if kid is not None and _is_url(kid) and kid.split("#", 1)[0] != issuer_id:
        return [resolver.jwk_set_key(issuer_id, kid)]
    return resolver.published_jwks(issuer_id)


def _key_for_kid(issuer_id: str, keys: list[VerificationMethod], kid: str) -> VerificationMethod:
    """The issuer key a JWT ``kid`` names: a DID URL or URL naming the key itself, a bare
    ``kid`` of the issuer's JWK Set, or a did:key / did:jwk issuer's DID for its one key.
    The key's controller must be the issuer.

    Raises KeyResolutionError ``verification_method_not_issuers`` or ``unknown_key``.
    """
    reference = kid.startswith("did:") or _is_url(kid)
    sole = kid == issuer_id and issuer_id.startswith(_SELF_CERTIFYING) and len(keys) == 1
    for method in keys:
        if kid == method.id or sole or (not reference and method.id == f"{issuer_id}#{kid}"):
            if method.controller != issuer_id:
                raise KeyResolutionError(
                    "verification_method_not_issuers", "The key's controller is not the issuer."
                )
            return method
    if reference and kid.split("#", 1)[0] != issuer_id:
        raise KeyResolutionError(
            "verification_method_not_issuers",
            f"The JWT was signed with a key of {kid.split('#', 1)[0][:200]}, not of the issuer "
            f"{issuer_id[:200]}.",
        )
    raise KeyResolutionError("unknown_key", "The issuer publishes no key with this kid.")


def _is_url(kid: str) -> bool:
    return kid.startswith("https://") or kid.startswith("http://")


def _key_for_jwk(
    issuer_id: str, keys: list[VerificationMethod], jwk: dict[str, Any], kid: str | None
) -> VerificationMethod:
    """The issuer key equal to a JWT header ``jwk``. Raises KeyResolutionError."""
    for method in keys:
        if method.controller != issuer_id:
            continue
        named = kid is None or kid in (method.id, method.id.split("#")[-1])
        if named and same_key(jwk, method):
            return method
    raise KeyResolutionError(
        "jwt_jwk_not_published", "The key in the JWT header is not one the issuer publishes."
    )


def verify_data_integrity_proof(
    credential: dict[str, Any],
    proof: Any,
    resolver: IssuerKeyResolver,
    context: VerificationContext | None = None,
) -> VerificationMethod:
    """Check one Data Integrity ``proof`` of ``credential``; return the issuer key that made it.

    Raises ProofError (``proof_malformed``, ``proof_type_unsupported``,
    ``cryptosuite_unsupported``, ``proof_purpose_invalid``, ``verification_method_missing``,
    ``signature_invalid``, ...), CanonicalizationError (``document_not_compacted``, ...),
    KeyResolutionError
    (``verification_method_not_issuers``, ``verification_method_not_listed``, ``fetch_*``...).
    """
    if not isinstance(proof, dict):
        raise ProofError("proof_malformed", "A proof is not a JSON object.")
    # The checks read JSON; the proof covers RDF. Only a document in plain form reads as
    # it is signed (issuer.proofs.plain_form).
    plain_form.refuse_unplain_form(credential)
    proof_type = proof.get("type")
    suite: Any
    if proof_type == LEGACY_PROOF_TYPE:
        suite = LEGACY_PROOF_TYPE
    elif proof_type == data_integrity.PROOF_TYPE:
        suite = proof.get("cryptosuite")
        if suite != LEGACY_CRYPTOSUITE:
            cryptosuites.suite_named(suite)
    else:
        raise ProofError(
            "proof_type_unsupported",
            f"The proof type {str(proof_type)[:60]!r} is not one this service can check.",
        )
    if proof.get("proofPurpose") != data_integrity.PROOF_PURPOSE:
        raise ProofError(
            "proof_purpose_invalid",
            "The proof was not made for asserting credentials (proofPurpose is not "
            "assertionMethod).",
        )
    method = issuer_method(credential, proof.get("verificationMethod"), resolver)
    if suite in cryptosuites.SUITES:
        cryptosuites.verify_proof(credential, proof, method.public_key)
        return method
    if not isinstance(method.public_key, ed25519.Ed25519PublicKey):
        raise ProofError("key_type_invalid", "The issuer key is not an Ed25519 key.")
    _verify_legacy_proof(credential, proof, method.public_key)
    if context is not None:
        context.warn(*_LEGACY_WARNINGS[suite])
    return method


def issuer_method(
    credential: dict[str, Any], method_id: Any, resolver: IssuerKeyResolver
) -> VerificationMethod:
    """The issuer's published assertion key named ``method_id``.

    Raises ProofError ``verification_method_missing``; KeyResolutionError
    ``verification_method_not_issuers`` (the key belongs to another identity than
    ``issuer.id``), ``verification_method_not_listed``, ``identifier_unsupported``, ...
    """
    if not isinstance(method_id, str) or not method_id:
        raise ProofError("verification_method_missing", "The proof names no verification method.")
    issuer_id = issuer_id_of(credential)
    if issuer_id is None:
        raise KeyResolutionError("issuer_missing", "The credential names no issuer.")
    controller = method_id.split("#", 1)[0]
    if controller.startswith("did:key:"):
        document: ControllerDocument = did_key_document(controller)
        method_id = next(iter(document.assertion_method)) if "#" not in method_id else method_id
    if controller != issuer_id:
        raise KeyResolutionError(
            "verification_method_not_issuers",
            f"The proof was made with a key of {controller[:200]}, not of the issuer "
            f"{issuer_id[:200]}.",
        )
    document = resolver.controller_document(issuer_id)
    method = document.assertion_key(method_id)
    if method.controller != issuer_id:
        raise KeyResolutionError(
            "verification_method_not_issuers",
            "The key's controller is not the issuer.",
        )
    return method


def issuer_id_of(credential: dict[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    return issuer_id if isinstance(issuer_id, str) and issuer_id else None


def _verify_legacy_proof(
    credential: dict[str, Any], proof: dict[str, Any], public_key: ed25519.Ed25519PublicKey
) -> None:
    """eddsa-2022 and Ed25519Signature2020 sign exactly the bytes eddsa-rdfc-2022 signs:
    SHA-256 of the canonical proof options (with the document's @context), then of the
    canonical document, with a base58btc ``proofValue``."""
    unsecured = {key: value for key, value in credential.items() if key != "proof"}
    options = {key: copy.deepcopy(value) for key, value in proof.items() if key != "proofValue"}
    proof_context = options.pop("@context", None)
    if proof_context is not None:
        proof_list = proof_context if isinstance(proof_context, list) else [proof_context]
        document_context = unsecured.get("@context")
        document_list = (
            document_context if isinstance(document_context, list) else [document_context]
        )
        if document_list[: len(proof_list)] != proof_list:
            raise ProofError(
                "proof_context_mismatch",
                "The proof's @context is not the start of the credential's @context.",
            )
    try:
        signature = decode_base58btc(proof.get("proofValue"))  # type: ignore[arg-type]
    except InvalidInput:
        raise ProofError("proof_value_malformed", "The proofValue is not base58btc.") from None
    try:
        public_key.verify(signature, data_integrity.signing_input(unsecured, options))
    except InvalidSignature:
        raise ProofError(
            "signature_invalid", "The Data Integrity signature does not match the credential."
        ) from None


def _suite_name(proof: Any) -> str:
    """A proof's cryptosuite (or its type, for a proof type that names none), for people."""
    if not isinstance(proof, dict):
        return "not a proof"
    name = proof.get("cryptosuite") or proof.get("type")
    return str(name)[:60] if name else "unnamed suite"


def _source(method: VerificationMethod) -> str:
    if method.id.startswith("did:key:"):
        return "the key is the issuer's own did:key"
    return "found in the issuer's published keys"
