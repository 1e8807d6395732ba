"""VC-JWT: an Open Badges 3.0 credential secured as a compact JWS (OB 3.0 §8.2).

The JWT payload is the credential itself (no ``vc`` wrapper) plus the registered claims
``iss`` (issuer id), ``sub`` (credentialSubject id), ``jti`` (credential id), ``nbf``
(validFrom) and ``exp`` (validUntil). The header is exactly ``alg``, ``kid`` and ``typ``.

Verification trusts nothing in the token before its signature checks out: the header is
read only to find the ``kid``, the key comes from the caller's resolver, and the
algorithm is the resolved key's, never the header's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import marshal
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from issuer import strict_json
from issuer.caching import BoundedCache
from issuer.did import VerificationKey
from issuer.errors import InvalidInput, KeyringError, ProofError
from issuer.keyring import PrivateKeyObject, SigningKey

# ES384 is verified (other issuers sign with P-384 keys); we sign with the other three.
ALLOWED_ALGORITHMS = frozenset({"RS256", "ES256", "ES384", "EdDSA"})
ALLOWED_HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
# OB 3.0 examples use "JWT"; VC-JOSE-COSE registers "vc+jwt"; both name the same thing.
ALLOWED_TYPES = frozenset({"JWT", "vc+jwt"})
JWT_TYPE = "JWT"
MAX_TOKEN_BYTES = 256 * 1024
MAX_JSON_DEPTH = 64
LEEWAY_SECONDS = 60
REGISTERED_CLAIMS = ("iss", "sub", "jti", "nbf", "exp")
# Claims other issuers add (1EdTech's samples carry both); they are not credential members.
OTHER_CLAIMS = ("iat", "aud")
# A header may carry the key itself, but only for a verifier that checks it against the
# issuer's published keys (``resolve_jwk``); never a URL to fetch a key from.
JWK_HEADER_MEMBER = "jwk"

_COMPACT_JWS = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")

# Each algorithm and the key type that may verify it; the resolver's answer must agree.
_KEY_TYPES: dict[str, type] = {
    "EdDSA": ed25519.Ed25519PublicKey,
    "RS256": rsa.RSAPublicKey,
    "ES256": ec.EllipticCurvePublicKey,
    "ES384": ec.EllipticCurvePublicKey,
}

# Short RSA keys are an error, not a warning (as PyJWT's enforce_minimum_key_length).
_JWS = jwt.PyJWS(options={"enforce_minimum_key_length": True})
MIN_RSA_BITS = 2048
# What the strict reader made of the signed part (header.payload) of tokens it accepted,
# by the SHA-256 of those bytes, per process (_Jws). Only payloads up to
# REMEMBERED_PAYLOAD_BYTES are kept, so the memory stays under about 16 MiB.
_STRICTLY_READ: BoundedCache[bytes, _ReadSegments] = BoundedCache(256)
REMEMBERED_PAYLOAD_BYTES = 64 * 1024
# Each ECDSA algorithm's curve and hash (RFC 7518 §3.4).
_EC_ALGORITHMS: dict[str, tuple[type[ec.EllipticCurve], type[hashes.HashAlgorithm]]] = {
    "ES256": (ec.SECP256R1, hashes.SHA256),
    "ES384": (ec.SECP384R1, hashes.SHA384),
}
# What RS256 and ES256 verify the signed part's SHA-256 with (_Jws.digest).
_RS256_PADDING = padding.PKCS1v15()
_SHA256_PREHASHED = Prehashed(hashes.SHA256())
_ES256_PREHASHED = ec.ECDSA(_SHA256_PREHASHED)


def sign_vc_jwt(credential: dict[str, Any], key: SigningKey[PrivateKeyObject]) -> str:
    """Sign ``credential`` (any ``proof`` member left out) as a VC-JWT with ``key``.

    Raises ProofError with ``jwt_alg_not_allowed`` for a key of another algorithm, and
    ``jwt_credential_invalid`` when the credential has no issuer id or no valid
    ``validFrom`` (or an invalid ``validUntil``).
    """
    if key.alg not in ALLOWED_ALGORITHMS:
        raise ProofError("jwt_alg_not_allowed", f"VC-JWT cannot be signed with {key.alg}.")
    payload = {name: value for name, value in credential.items() if name != "proof"}
    issuer_id = _issuer_id(credential)
    if issuer_id is None:
        raise ProofError("jwt_credential_invalid", "The credential has no issuer id.")
    claims: dict[str, Any] = {"iss": issuer_id, "nbf": _numeric_date(credential, "validFrom")}
    subject_id = _subject_id(credential)
    if subject_id is not None:
        claims["sub"] = subject_id
    if isinstance(credential.get("id"), str):
        claims["jti"] = credential["id"]
    if "validUntil" in credential:
        claims["exp"] = _numeric_date(credential, "validUntil")
    payload.update(claims)
    payload_bytes = json.dumps(
        payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
    # PyJWT puts "alg" and the given "typ" and "kid" in the header and nothing else.
    return _JWS.encode(
        payload_bytes,
        key.private_key,
        algorithm=key.alg,
        headers={"kid": key.kid, "typ": JWT_TYPE},
    )


def verify_vc_jwt(
    token: str,
    resolve_key: Callable[[str], VerificationKey],
    *,
    now: datetime | None = None,
    resolve_jwk: Callable[[dict[str, Any], str | None], VerificationKey] | None = None,
    allow_missing_sub: bool = False,
    claims_optional: bool = False,
) -> dict[str, Any]:
    """Verify a VC-JWT and return the credential it carries (without the JWT claims).

    ``resolve_key`` maps the header's ``kid`` to a trusted public key; it may raise
    KeyringError, which becomes ``unknown_key``. Only when ``resolve_jwk`` is given may the
    header carry a ``jwk`` (with or without ``kid``): ``resolve_jwk(jwk, kid)`` must return
    the issuer's published key equal to it or raise KeyringError (``jwt_jwk_not_published``).
    A VC 1.1 token (the credential under a ``vc`` claim, ``issuanceDate`` and
    ``expirationDate``) is read too. ``allow_missing_sub`` accepts a token without ``sub``
    (other issuers omit it); a ``sub`` that is present must still match. ``claims_optional``
    accepts a token without any of the registered claims (VC-JOSE-COSE requires none); those
    present must still match. Raises ProofError
    with one of
    ``jwt_too_large``, ``jwt_malformed``, ``jwt_header_not_allowed``,
    ``jwt_alg_not_allowed``, ``jwt_kid_missing``, ``unknown_key``, ``jwt_key_invalid``,
    ``jwt_bad_signature``, ``jwt_claims_mismatch``, ``jwt_kid_issuer_mismatch``,
    ``jwt_expired`` or ``jwt_not_yet_valid``. The last two are raised only after the
    signature verified, and carry the credential in ``details["credential"]``.
    """
    jws = _Jws.read(token)
    header = _checked_header(jws.header(), allow_jwk=resolve_jwk is not None)
    if JWK_HEADER_MEMBER in header and resolve_jwk is not None:
        key = _resolve_header_jwk(header[JWK_HEADER_MEMBER], header.get("kid"), resolve_jwk)
    else:
        key = _resolve(header["kid"], resolve_key)
    if header["alg"] != key.alg:
        raise ProofError(
            "jwt_alg_not_allowed", f"The key {key.kid} signs with {key.alg}, not {header['alg']}."
        )
    _verify_signature(key, jws)
    payload = jws.payload()
    credential = credential_of_payload(payload)
    optional = REGISTERED_CLAIMS if claims_optional else ("sub",) if allow_missing_sub else ()
    _check_claims(payload, credential, _owner(key), allow_missing=optional)
    _check_validity_period(payload, credential, now or datetime.now(UTC))
    return credential


def read_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and the credential of a VC-JWT, read WITHOUT checking the signature.

    For showing what a token claims before (or although) it verifies; never trust it.
    Raises ProofError ``jwt_too_large`` or ``jwt_malformed``.
    """
    jws = _Jws.read(token)
    header = jws.header()
    return header, credential_of_payload(jws.payload())


def read_header(token: str) -> dict[str, Any]:
    """The header of a compact JWS, read WITHOUT checking the signature (to find its key).

    Raises ProofError ``jwt_too_large`` or ``jwt_malformed``, as ``read_unverified``.
    """
    return _Jws.read(token).header()


def credential_of_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The credential a JWT payload carries: the payload minus JWT claims (VC 2.0), or its
    ``vc`` claim (VC 1.1). Raises ProofError ``jwt_malformed`` for a ``vc`` that is no object.
    """
    if "vc" in payload and "@context" not in payload:
        if not isinstance(payload["vc"], dict):
            raise ProofError("jwt_malformed", "The JWT vc claim is not an object.")
        return dict(payload["vc"])
    dropped = (*REGISTERED_CLAIMS, *OTHER_CLAIMS)
    return {name: value for name, value in payload.items() if name not in dropped}


@dataclass(frozen=True)
class _ReadSegments:
    """The header and payload the strict reader made of one signed part, as marshal bytes
    of those JSON values: each reader gets a copy of its own (faster to make than reading
    the JSON again), so nobody can change what the next reader gets."""

    header: bytes
    payload: bytes


class _Jws:
    """A compact JWS read strictly: three base64url segments (no padding, no other
    character), header and payload JSON objects read by ``issuer.strict_json``.

    The signed part (``header.payload`` as sent) is hashed once, with SHA-256: the digest
    is what RS256 and ES256 sign (``_verify_signature`` gives it to the key prehashed), and
    it finds what the strict reader made of the same bytes before (``_STRICTLY_READ``).
    Those bytes once matched the segment rules and read as that header and payload, so only
    the signature segment is matched again. The payload is read only when asked for,
    which ``verify_vc_jwt`` does after the signature verified.
    """

    __slots__ = ("_end", "_header", "_header_bytes", "_known", "_token", "digest", "signed")

    def __init__(self, token: str) -> None:
        self._token = token
        # The signed part ends at the second dot; the signature segment follows it.
        self._end = token.find(".", token.find(".") + 1)
        if self._end < 0:
            raise _not_compact()
        try:
            self.signed = token[: self._end].encode("ascii")
        except UnicodeEncodeError:
            raise _not_compact() from None
        self.digest = hashlib.sha256(self.signed).digest()
        self._known = _STRICTLY_READ.get(self.digest)
        if self._known is None:
            if _COMPACT_JWS.fullmatch(token) is None:
                raise _not_compact()
        elif _SEGMENT.fullmatch(token, self._end + 1) is None:
            raise _not_compact()
        self._header: dict[str, Any] | None = None
        self._header_bytes = b""

    @classmethod
    def read(cls, token: Any) -> _Jws:
        """Raises ProofError ``jwt_malformed`` or ``jwt_too_large``."""
        if not isinstance(token, str):
            raise ProofError("jwt_malformed", "A VC-JWT is a string.")
        if len(token) > MAX_TOKEN_BYTES:
            raise ProofError("jwt_too_large", f"The VC-JWT is over {MAX_TOKEN_BYTES} bytes.")
        return cls(token.strip())

    def header(self) -> dict[str, Any]:
        """The header, read unverified. Raises ProofError ``jwt_malformed``."""
        if self._known is not None:
            return _copy(self._known.header)
        if self._header is None:
            segment = self._token[: self._token.find(".")]
            self._header = _parse_json(_base64url_decode(segment), "header")
            self._header_bytes = marshal.dumps(self._header)
        return self._header

    def payload(self) -> dict[str, Any]:
        """The payload (trusted only once the signature verified). Raises ProofError
        ``jwt_malformed``."""
        if self._known is not None:
            return _copy(self._known.payload)
        self.header()
        raw = _base64url_decode(self._token[self._token.find(".") + 1 : self._end])
        payload = _parse_json(raw, "payload")
        if len(raw) <= REMEMBERED_PAYLOAD_BYTES:
            _STRICTLY_READ.put(
                self.digest, _ReadSegments(self._header_bytes, marshal.dumps(payload))
            )
        return payload

    def signature(self) -> bytes:
        return _base64url_decode(self._token[self._end + 1 :])


def _copy(json_value: bytes) -> dict[str, Any]:
    # marshal.loads runs no code: these bytes are marshal.dumps of a JSON value this
    # process read (dicts, lists, strings, numbers, booleans, None), never outside input.
    value: dict[str, Any] = marshal.loads(json_value)  # noqa: S302
    return value


def _not_compact() -> ProofError:
    return ProofError("jwt_malformed", "The VC-JWT is not a compact JWS (three segments).")


def _checked_header(header: dict[str, Any], *, allow_jwk: bool) -> dict[str, Any]:
    allowed = ALLOWED_HEADER_MEMBERS | {JWK_HEADER_MEMBER} if allow_jwk else ALLOWED_HEADER_MEMBERS
    extra = sorted(set(header) - allowed)
    if extra:
        # The names come from the token: quote a few, shortened, never all of them.
        named = ", ".join(name[:32] for name in extra[:4])
        raise ProofError(
            "jwt_header_not_allowed", f"The JWT header may hold only alg, kid and typ, not {named}."
        )
    # Membership tests need hashable values; a list or object here is simply not allowed.
    if not isinstance(header.get("alg"), str) or header["alg"] not in ALLOWED_ALGORITHMS:
        raise ProofError(
            "jwt_alg_not_allowed",
            f"The algorithm must be one of {', '.join(sorted(ALLOWED_ALGORITHMS))}.",
        )
    if "typ" in header and (
        not isinstance(header["typ"], str) or header["typ"] not in ALLOWED_TYPES
    ):
        raise ProofError("jwt_header_not_allowed", "The JWT typ must be JWT or vc+jwt.")
    if JWK_HEADER_MEMBER in header:
        if "kid" in header and (not isinstance(header["kid"], str) or not header["kid"]):
            raise ProofError("jwt_kid_missing", "The JWT header kid is empty.")
        return header
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise ProofError("jwt_kid_missing", "The JWT header names no key (kid).")
    return header


def _resolve_header_jwk(
    jwk: Any,
    kid: str | None,
    resolve_jwk: Callable[[dict[str, Any], str | None], VerificationKey],
) -> VerificationKey:
    if not isinstance(jwk, dict):
        raise ProofError("jwt_malformed", "The JWT header jwk is not an object.")
    try:
        key = resolve_jwk(jwk, kid)
    except KeyringError as error:
        if error.code == "jwk_private_key":  # OB 3.0: the header never holds a private key
            raise ProofError(error.code, error.message) from error
        raise ProofError(
            "jwt_jwk_not_published",
            "The key in the JWT header is not one the issuer publishes.",
        ) from error
    if key.alg not in ALLOWED_ALGORITHMS or not isinstance(key.public_key, _KEY_TYPES[key.alg]):
        raise ProofError("jwt_key_invalid", "The key in the JWT header cannot verify a VC-JWT.")
    return key


def _base64url_decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise ProofError("jwt_malformed", "A JWT segment is not base64url.") from None


def _parse_json(raw: bytes, name: str) -> dict[str, Any]:
    # The strict reader refuses duplicate members, so that nobody can read another "alg"
    # or "iss" in the same bytes than this module did.
    try:
        value: dict[str, Any] = strict_json.parse(
            raw, max_bytes=MAX_TOKEN_BYTES, max_depth=MAX_JSON_DEPTH
        )
    except InvalidInput as error:
        raise ProofError("jwt_malformed", f"The JWT {name}: {error.message}") from None
    return value


def _resolve(kid: str, resolve_key: Callable[[str], VerificationKey]) -> VerificationKey:
    try:
        key = resolve_key(kid)
    except KeyringError:
        raise ProofError("unknown_key", "The key named by the JWT kid is not known.") from None
    if key.alg not in ALLOWED_ALGORITHMS or not isinstance(key.public_key, _KEY_TYPES[key.alg]):
        raise ProofError("jwt_key_invalid", f"The key {kid} cannot verify a VC-JWT.")
    return key


def _verify_signature(key: VerificationKey, jws: _Jws) -> None:
    """Check the signature of ``jws`` with ``key`` (whose algorithm the header was checked
    to name). Raises ProofError ``jwt_bad_signature`` or ``jwt_key_invalid``.

    The rules of PyJWT's decode, which this replaced, are kept: an RSA key of fewer than
    ``MIN_RSA_BITS`` bits and an EC key of another curve than its algorithm's are
    ``jwt_key_invalid``; an ECDSA signature is the fixed-length ``r || s`` of RFC 7518,
    anything else does not match.
    """
    public_key: Any = key.public_key
    signature = jws.signature()
    try:
        if key.alg == "EdDSA":
            public_key.verify(signature, jws.signed)
        elif key.alg == "RS256":
            if public_key.key_size < MIN_RSA_BITS:
                raise ProofError(
                    "jwt_key_invalid", f"The key {key.kid} is shorter than {MIN_RSA_BITS} bits."
                )
            public_key.verify(signature, jws.digest, _RS256_PADDING, _SHA256_PREHASHED)
        else:
            curve, digest = _EC_ALGORITHMS[key.alg]
            if not isinstance(public_key.curve, curve):
                raise ProofError(
                    "jwt_key_invalid", f"The key {key.kid} is not on {key.alg}'s curve."
                )
            size = (public_key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                raise InvalidSignature
            der = encode_dss_signature(
                int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            )
            if digest is hashes.SHA256:
                public_key.verify(der, jws.digest, _ES256_PREHASHED)
            else:
                public_key.verify(der, jws.signed, ec.ECDSA(digest()))
    except InvalidSignature:
        raise ProofError("jwt_bad_signature", "The VC-JWT signature does not match.") from None


def _check_claims(
    payload: dict[str, Any],
    credential: dict[str, Any],
    owner: str,
    *,
    allow_missing: tuple[str, ...],
) -> None:
    expected: dict[str, Any] = {
        "iss": _issuer_id(credential),
        "sub": _subject_id(credential),
        "jti": credential.get("id") if isinstance(credential.get("id"), str) else None,
    }
    for claim, value in expected.items():
        if claim in allow_missing and claim not in payload:
            continue
        if payload.get(claim) != value:
            raise ProofError(
                "jwt_claims_mismatch", f"The JWT claim {claim} does not match the credential."
            )
    # A key of this issuer must not vouch for a credential naming another issuer. A key in
    # a JWK Set is named by the set's URL, so its controller (when the key has one) says
    # whose it is.
    if owner != expected["iss"]:
        raise ProofError(
            "jwt_kid_issuer_mismatch", "The signing key does not belong to the credential issuer."
        )
    vcdm1 = "vc" in payload and "@context" not in payload
    members = (
        (("nbf", "issuanceDate"), ("exp", "expirationDate"))
        if vcdm1
        else (("nbf", "validFrom"), ("exp", "validUntil"))
    )
    for claim, member in members:
        # nbf and validFrom are required (unless claims are optional and nbf is absent); exp
        # and validUntil go together or not at all.
        if claim == "exp" and member not in credential and claim not in payload:
            continue
        if claim in allow_missing and claim not in payload:
            continue
        if not _same_second(payload.get(claim), credential.get(member)):
            raise ProofError(
                "jwt_claims_mismatch", f"The JWT claim {claim} does not match {member}."
            )


def _owner(key: VerificationKey) -> str:
    """Whose key this is: its ``controller`` when it has one, else the DID or URL its id is in."""
    controller = getattr(key, "controller", None)
    return controller if isinstance(controller, str) else key.kid.split("#", 1)[0]


def _same_second(claim: Any, member: Any) -> bool:
    if not _is_number(claim) or not isinstance(member, str):
        return False
    moment = _parse_date_time(member)
    return moment is not None and math.floor(claim) == math.floor(moment.timestamp())


def _check_validity_period(
    payload: dict[str, Any], credential: dict[str, Any], now: datetime
) -> None:
    current = now.timestamp()
    if "nbf" in payload and payload["nbf"] > current + LEEWAY_SECONDS:
        raise ProofError(
            "jwt_not_yet_valid",
            "The credential is not valid yet (validFrom is in the future).",
            details={"credential": credential},
        )
    if "exp" in payload and payload["exp"] < current - LEEWAY_SECONDS:
        raise ProofError(
            "jwt_expired",
            "The credential has expired (validUntil is in the past).",
            details={"credential": credential},
        )


def _issuer_id(credential: dict[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) and issuer else None


def _subject_id(credential: dict[str, Any]) -> str | None:
    subject = credential.get("credentialSubject")
    if isinstance(subject, dict) and isinstance(subject.get("id"), str):
        return str(subject["id"])
    return None


def _numeric_date(credential: dict[str, Any], member: str) -> int:
    value = credential.get(member)
    moment = _parse_date_time(value) if isinstance(value, str) else None
    if moment is None:
        raise ProofError(
            "jwt_credential_invalid", f"{member} must be a date-time with a time zone."
        )
    return math.floor(moment.timestamp())


def _parse_date_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _is_number(value: Any) -> bool:
    # Python reads 1e999 as infinity, which no date is.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
