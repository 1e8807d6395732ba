"""How the issuer's public keys are published: its did:web, DID document and JWKS.

Pure functions over public key objects (``cryptography``'s Ed25519, RSA and P-256 keys);
nothing here reads files, private keys or the network. The same encodings name the keys
too: an Ed25519 key's fragment is its Multikey (``z6Mk…``), an RSA or P-256 key's is its
RFC 7638 JWK thumbprint, so a key keeps its ``kid`` for ever, whatever else changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any, Protocol
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from issuer.errors import ConfigurationError, KeyringError
from issuer.multibase import encode_ed25519_multikey

PublicKeyObject = ed25519.Ed25519PublicKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# The W3C Controlled Identifiers context defines both verification method types used here,
# "Multikey" and "JsonWebKey" (the older "JsonWebKey2020" of jws-2020 is superseded by it).
# The Multikey context defines "Multikey" too, with the same meaning; it is there because
# Digital Bazaar's Ed25519 Multikey suite refuses a key that does not carry it, and a
# resolver hands the suite the verification method with the DID document's @context.
DID_CONTEXTS = [
    "https://www.w3.org/ns/did/v1",
    "https://www.w3.org/ns/cid/v1",
    "https://w3id.org/security/multikey/v1",
]

JWK_METHOD_TYPE = "JsonWebKey"
MULTIKEY_METHOD_TYPE = "Multikey"

# An unreserved URL path segment; anything else would need percent-encoding rules
# that did:web resolvers apply differently.
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")

_DEFAULT_PORTS = {"http": 80, "https": 443}


class VerificationKey(Protocol):
    """A public key the issuer published: its DID URL, JOSE algorithm and key object."""

    @property
    def kid(self) -> str: ...

    @property
    def alg(self) -> str: ...

    @property
    def public_key(self) -> PublicKeyObject: ...


def did_web_from_base_url(base_url: str) -> str:
    """The did:web identifier for the service published at ``base_url``.

    ``http://127.0.0.1:5000`` → ``did:web:127.0.0.1%3A5000``;
    ``https://h.org/a/b`` → ``did:web:h.org:a:b``. The host is lower-cased and a default
    port (80 for http, 443 for https) is dropped, so one origin has one DID.

    Raises ConfigurationError (``base_url_invalid``) for anything but an http(s) URL with a
    host name, or one carrying userinfo, a query, a fragment, an IPv6 literal or a path
    segment that is not plain unreserved characters.
    """
    # Refuse userinfo before parsing, and never quote the URL back: it may hold a password.
    if "@" in base_url:
        raise _bad_base_url("must not contain userinfo ('@')")
    parts = urlsplit(base_url)
    if parts.scheme not in _DEFAULT_PORTS:
        raise _bad_base_url("must start with http:// or https://")
    if parts.query or parts.fragment or base_url.endswith(("?", "#")):
        raise _bad_base_url("must not have a query or a fragment")
    if not parts.hostname or "[" in parts.netloc:
        raise _bad_base_url("must name a host (IPv6 literals are not supported)")
    try:
        port = parts.port
    except ValueError:
        raise _bad_base_url("has an invalid port") from None
    authority = parts.hostname
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        authority += f"%3A{port}"
    return ":".join(["did:web", authority, *_path_segments(parts.path)])


def _path_segments(path: str) -> list[str]:
    segments = path.removesuffix("/").split("/")[1:] if path else []
    for segment in segments:
        if not _PATH_SEGMENT.fullmatch(segment) or segment in {".", ".."}:
            raise _bad_base_url("has a path segment that is empty or not plain characters")
    return segments


def _bad_base_url(reason: str) -> ConfigurationError:
    return ConfigurationError(
        "base_url_invalid",
        f"ISSUER_BASE_URL {reason}; set it to the public origin, e.g. https://badges.example.org.",
    )


def did_document(did: str, public_keys: Iterable[VerificationKey]) -> dict[str, Any]:
    """The DID document of ``did`` listing every key in ``public_keys``, in their order.

    Ed25519 keys are ``Multikey`` methods with ``publicKeyMultibase``; RSA and P-256 keys
    are JWK methods with ``publicKeyJwk`` (public members only). Every method is listed
    under ``assertionMethod``, which is the purpose both proofs declare.

    Raises KeyringError (``key_controller_mismatch``) when a key's ``kid`` is not a DID URL
    of ``did``, and (``key_type_unsupported``) for a key of another kind.
    """
    methods = [_verification_method(did, key) for key in public_keys]
    return {
        "@context": list(DID_CONTEXTS),
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [method["id"] for method in methods],
    }


def _verification_method(did: str, key: VerificationKey) -> dict[str, Any]:
    if not key.kid.startswith(f"{did}#"):
        raise KeyringError(
            "key_controller_mismatch", f"The key {key.kid} does not belong to {did}."
        )
    if isinstance(key.public_key, ed25519.Ed25519PublicKey):
        return {
            "id": key.kid,
            "type": MULTIKEY_METHOD_TYPE,
            "controller": did,
            "publicKeyMultibase": multikey(key.public_key),
        }
    return {
        "id": key.kid,
        "type": JWK_METHOD_TYPE,
        "controller": did,
        "publicKeyJwk": public_jwk(key.public_key),
    }


def jwks(public_keys: Iterable[VerificationKey]) -> dict[str, Any]:
    """A JWK Set of ``public_keys``: each JWK with its ``kid`` (the DID URL), ``alg`` and
    ``use: sig``; Ed25519 keys as ``OKP``/``Ed25519``.

    Raises KeyringError (``key_type_unsupported``) for a key of another kind.
    """
    return {
        "keys": [
            {**public_jwk(key.public_key), "kid": key.kid, "alg": key.alg, "use": "sig"}
            for key in public_keys
        ]
    }


def public_jwk(public_key: PublicKeyObject) -> dict[str, str]:
    """The public members of ``public_key`` as a JWK (RFC 7517, RFC 8037 for Ed25519).

    Raises KeyringError (``key_type_unsupported``) for anything but Ed25519, RSA or P-256.
    """
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(_raw_ed25519(public_key))}
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        return {"kty": "RSA", "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
        public_key.curve, ec.SECP256R1
    ):
        point = public_key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(point.x.to_bytes(32, "big")),
            "y": _b64url(point.y.to_bytes(32, "big")),
        }
    raise KeyringError(
        "key_type_unsupported", "Only Ed25519, RSA and P-256 public keys can be published."
    )


def jwk_thumbprint(public_key: PublicKeyObject) -> str:
    """The RFC 7638 SHA-256 thumbprint of ``public_key``'s JWK, base64url without padding.

    Raises KeyringError (``key_type_unsupported``) as ``public_jwk`` does.
    """
    # Every member of our public JWKs is a required member, which is what RFC 7638 hashes,
    # in lexicographic order and without whitespace.
    canonical = json.dumps(public_jwk(public_key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def multikey(public_key: ed25519.Ed25519PublicKey) -> str:
    """The Multikey encoding of an Ed25519 public key: ``z`` + base58btc(0xed01 ‖ key)."""
    return encode_ed25519_multikey(_raw_ed25519(public_key))


def key_fragment(public_key: PublicKeyObject) -> str:
    """The stable fragment naming ``public_key`` in the DID document: the Multikey of an
    Ed25519 key, the JWK thumbprint of any other.

    Raises KeyringError (``key_type_unsupported``) as ``public_jwk`` does.
    """
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return multikey(public_key)
    return jwk_thumbprint(public_key)


def _raw_ed25519(public_key: ed25519.Ed25519PublicKey) -> bytes:
    return public_key.public_bytes_raw()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_uint(value: int) -> str:
    return _b64url(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))
