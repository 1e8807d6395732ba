"""The OpenID4VCI 1.0 key proof: a JWT by which a wallet shows it holds the key a credential
is to be bound to (OpenID4VCI 1.0 §8.2.1.1, proof type ``jwt``).

What is checked, in order, before anything in the token is believed:

- the header: ``typ`` is ``openid4vci-proof+jwt``; ``alg`` is one we accept (``EdDSA``,
  ``ES256``); the key is named by exactly one of ``kid`` (a ``did:key`` or ``did:jwk`` DID
  URL, decoded locally by ``issuer.did_resolution``) or ``jwk`` (a public JWK; one holding
  private members is refused, ``jwk_private_key``); ``x5c`` and key attestations are not
  accepted. The key's own algorithm must be the header's, so the token cannot choose it.
- the signature, with that key and that algorithm only;
- the claims: ``aud`` is our credential issuer identifier, ``iat`` is recent (not older
  than ``MAX_AGE``, not later than ``LEEWAY`` ahead) and ``nonce`` is present (its
  freshness and single use are the caller's: it is a row in the database).

The holder is a DID: the ``did:key``/``did:jwk`` of the ``kid``, or the ``did:jwk`` of a
bare ``jwk``, so a credential's ``credentialSubject.id`` always names the key that proved.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from issuer import strict_json
from issuer.did import PublicKeyObject, public_jwk
from issuer.did_resolution import (
    ControllerDocument,
    KeyResolutionError,
    did_jwk_document,
    did_key_document,
    key_from_jwk,
)
from issuer.errors import InvalidInput, ProofError

PROOF_JWT_TYPE = "openid4vci-proof+jwt"
ALGORITHMS = ("EdDSA", "ES256")
MAX_AGE = timedelta(minutes=5)
LEEWAY = timedelta(seconds=60)
MAX_TOKEN_BYTES = 16 * 1024
_HEADER_KEY_MEMBERS = ("kid", "jwk", "x5c", "trust_chain", "key_attestation")
_JWS = jwt.PyJWS()


@dataclass(frozen=True)
class HolderKey:
    """The wallet's key: the DID that names it and the public key itself."""

    did: str
    public_key: PublicKeyObject


@dataclass(frozen=True)
class KeyProof:
    """A verified key proof: whose key, the nonce it carries and when it was made."""

    holder: HolderKey
    nonce: str
    issued_at: datetime


def verify_key_proof(token: Any, *, audience: str, now: datetime) -> KeyProof:
    """Check a key proof JWT for ``audience`` (our credential issuer identifier) at ``now``.

    Raises ProofError ``key_proof_malformed``, ``key_proof_type_invalid``,
    ``key_proof_alg_unsupported``, ``key_proof_key_missing``, ``key_proof_kid_unsupported``,
    ``jwk_private_key``, ``key_invalid``, ``key_proof_alg_mismatch``,
    ``key_proof_signature_invalid``, ``key_proof_audience_invalid``,
    ``key_proof_iat_invalid`` or ``key_proof_nonce_missing``.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise ProofError("key_proof_malformed", "The proof is not a compact JWT.")
    header = _header(token)
    if header.get("typ") != PROOF_JWT_TYPE:
        raise ProofError("key_proof_type_invalid", f"The proof JWT's typ must be {PROOF_JWT_TYPE}.")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise ProofError(
            "key_proof_alg_unsupported",
            f"The proof JWT must be signed with one of {', '.join(ALGORITHMS)}.",
        )
    holder = _holder_key(header)
    if _alg_of(holder.public_key) != alg:
        raise ProofError("key_proof_alg_mismatch", f"The proof's key is not a key for {alg}.")
    try:
        signed = _JWS.decode_complete(token, key=holder.public_key, algorithms=[alg])
    except jwt.InvalidSignatureError:
        raise ProofError(
            "key_proof_signature_invalid", "The proof JWT is not signed by the key it names."
        ) from None
    except jwt.PyJWTError:
        raise ProofError("key_proof_malformed", "The proof JWT cannot be read.") from None
    claims = _json(signed["payload"], "payload")
    _check_audience(claims.get("aud"), audience)
    issued_at = _issued_at(claims.get("iat"), now)
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise ProofError(
            "key_proof_nonce_missing", "The proof JWT must carry a nonce from the nonce endpoint."
        )
    return KeyProof(holder, nonce, issued_at)


def did_jwk_of(public_key: PublicKeyObject) -> str:
    """The ``did:jwk`` of a public key (its public JWK members, base64url JSON)."""
    members = json.dumps(public_jwk(public_key), separators=(",", ":"), sort_keys=True)
    return "did:jwk:" + base64.urlsafe_b64encode(members.encode()).rstrip(b"=").decode()


def _holder_key(header: dict[str, Any]) -> HolderKey:
    named = [member for member in _HEADER_KEY_MEMBERS if member in header]
    if named not in (["kid"], ["jwk"]):
        raise ProofError(
            "key_proof_key_missing",
            "The proof JWT header must name its key by exactly one of kid (a did:key or "
            "did:jwk DID URL) or jwk.",
        )
    if "jwk" in header:
        jwk_value = header["jwk"]
        if not isinstance(jwk_value, dict):
            raise ProofError("key_invalid", "The proof JWT's jwk is not a JSON object.")
        try:
            public_key, _ = key_from_jwk(jwk_value)
        except KeyResolutionError as error:
            raise ProofError(error.code, error.message) from None
        return HolderKey(did_jwk_of(public_key), public_key)
    kid = header["kid"]
    if not isinstance(kid, str):
        raise ProofError("key_proof_kid_unsupported", "The proof JWT's kid is not a string.")
    document = _self_certifying_document(kid)
    method = document.methods.get(kid)
    if method is None and "#" not in kid and len(document.methods) == 1:
        method = next(iter(document.methods.values()))
    if method is None:
        raise ProofError(
            "key_proof_kid_unsupported", "The proof JWT's kid names no key of its DID."
        )
    return HolderKey(document.id, method.public_key)


def _self_certifying_document(kid: str) -> ControllerDocument:
    try:
        if kid.startswith("did:key:"):
            return did_key_document(kid)
        if kid.startswith("did:jwk:"):
            return did_jwk_document(kid)
    except KeyResolutionError as error:
        code = error.code if error.code == "jwk_private_key" else "key_proof_kid_unsupported"
        raise ProofError(code, error.message) from None
    raise ProofError(
        "key_proof_kid_unsupported", "The proof JWT's kid must be a did:key or did:jwk DID URL."
    )


def _alg_of(public_key: PublicKeyObject) -> str:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == "secp256r1":
        return "ES256"
    return ""


def _check_audience(aud: Any, audience: str) -> None:
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise ProofError(
            "key_proof_audience_invalid",
            f"The proof JWT's aud must be this credential issuer, {audience}.",
        )


def _issued_at(iat: Any, now: datetime) -> datetime:
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise ProofError("key_proof_iat_invalid", "The proof JWT has no numeric iat.")
    try:
        issued_at = datetime.fromtimestamp(iat, UTC)
    except (OverflowError, OSError, ValueError):
        raise ProofError("key_proof_iat_invalid", "The proof JWT's iat is out of range.") from None
    if issued_at > now + LEEWAY or issued_at < now - MAX_AGE:
        raise ProofError(
            "key_proof_iat_invalid",
            f"The proof JWT must be made within the last {int(MAX_AGE.total_seconds())} s.",
        )
    return issued_at


def _header(token: str) -> dict[str, Any]:
    segment = token.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except ValueError:
        raise ProofError("key_proof_malformed", "The proof JWT header is not base64url.") from None
    return _json(raw, "header")


def _json(raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = strict_json.parse(raw, max_bytes=MAX_TOKEN_BYTES, max_depth=8)
    except InvalidInput:
        raise ProofError("key_proof_malformed", f"The proof JWT {name} is not JSON.") from None
    result: dict[str, Any] = value
    return result
