"""Finding an issuer's public keys: our own locally, ``did:key`` locally, the rest over https.

A verifier may trust a key only because the issuer published it. The answer to "which keys
speak for this issuer" is a ``ControllerDocument``: the keys (verification methods) and the
subset listed under ``assertionMethod``, the purpose both proofs declare.

- Our own DID is answered from the keyring: no HTTP, even to ourselves.
- ``did:key`` and ``did:jwk`` are their own documents (a did:key holds an Ed25519, P-256 or
  P-384 Multikey; a did:jwk holds a public JWK).
- ``did:web`` becomes an https URL as the did:web specification says
  (``did:web:h%3A8443:a:b`` → ``https://h:8443/a/b/did.json``; no path →
  ``/.well-known/did.json``) and is fetched through ``issuer.fetch``.
- An https issuer's keys come from a controller document at the verification method's
  URL (Data Integrity) or from a JWK Set on its origin (VC-JWT): the one a ``kid`` such as
  ``https://issuer.example/jwks.json#key-1`` names, else ``/.well-known/jwks.json``.

Every key is read here, into a ``cryptography`` public key object with its JOSE algorithm
(``VerificationMethod.public_key`` / ``alg``), from any of the published forms:
``Multikey`` and ``Ed25519VerificationKey2020`` (``publicKeyMultibase``),
``Ed25519VerificationKey2018`` (``publicKeyBase58``), ``JsonWebKey`` and ``JsonWebKey2020``
(``publicKeyJwk``: OKP Ed25519, EC P-256 / P-384, RSA of 2048 bits or more). A JWK holding
private members is refused outright (``jwk_private_key``): a document that publishes a
private key has given it away, so nothing it signs can be trusted.

``documents`` pins documents by URL (a trust list kept offline); a pinned URL is never
fetched.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from issuer import strict_json
from issuer.did import PublicKeyObject, VerificationKey
from issuer.errors import InvalidInput, KeyringError
from issuer.fetch import Fetcher, FetchError
from issuer.multibase import decode_base58btc

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_DOCUMENT_DEPTH = 16
MAX_METHODS = 64
MIN_RSA_BITS = 2048

_ED25519_CODEC = b"\xed\x01"
_P256_CODEC = b"\x80\x24"
_P384_CODEC = b"\x81\x24"
# JWK members that hold private (or symmetric) key material (RFC 7518 §6.2.2, §6.3.2, §6.4).
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# Each verification method type and the member its key is in; a method of another type is
# read by whichever of the members it has.
METHOD_KEY_MEMBERS = {
    "Multikey": "publicKeyMultibase",
    "Ed25519VerificationKey2020": "publicKeyMultibase",
    "Ed25519VerificationKey2018": "publicKeyBase58",
    "JsonWebKey": "publicKeyJwk",
    "JsonWebKey2020": "publicKeyJwk",
}
_ED25519_ONLY_TYPES = frozenset({"Ed25519VerificationKey2020", "Ed25519VerificationKey2018"})
_DID_WEB = re.compile(r"did:web:([A-Za-z0-9.\-]+(?:%3[Aa][0-9]{1,5})?)((?::[A-Za-z0-9._~\-]+)*)")
_DID_KEY = re.compile(r"did:key:(z[1-9A-HJ-NP-Za-km-z]{40,200})")
_DID_JWK = re.compile(r"did:jwk:([A-Za-z0-9_-]{20,4096})")
_BASE58 = re.compile(r"[1-9A-HJ-NP-Za-km-z]{40,50}")


class KeyResolutionError(KeyringError):
    """The issuer's keys could not be found, fetched or read."""

    code = "issuer_keys_unavailable"


@dataclass(frozen=True)
class VerificationMethod:
    """One published public key: its id (a DID URL or URL), controller and JOSE algorithm.

    ``public_key`` is a ``cryptography`` public key object (Ed25519, EC P-256 / P-384 or
    RSA); ``alg`` is the one JOSE algorithm it verifies (EdDSA, ES256, ES384, RS256);
    ``type`` is the verification method type the document gave (empty when none).
    """

    id: str
    controller: str
    alg: str
    public_key: PublicKeyObject
    type: str = ""

    @property
    def kid(self) -> str:
        return self.id


@dataclass(frozen=True)
class ControllerDocument:
    """The keys an identifier publishes and which of them may assert credentials."""

    id: str
    methods: Mapping[str, VerificationMethod]
    assertion_method: frozenset[str]
    source: str

    def assertion_key(self, method_id: str) -> VerificationMethod:
        """The key ``method_id`` if it is listed under ``assertionMethod``.

        Raises KeyResolutionError ``verification_method_not_listed`` otherwise.
        """
        if method_id not in self.assertion_method or method_id not in self.methods:
            raise KeyResolutionError(
                "verification_method_not_listed",
                f"The key {method_id[:200]} is not listed for assertions by {self.id[:200]}.",
            )
        return self.methods[method_id]

    def assertion_keys(self) -> list[VerificationMethod]:
        return [self.methods[key] for key in sorted(self.assertion_method) if key in self.methods]


class IssuerKeyResolver:
    """Answers "which keys speak for this issuer" (see the module docstring)."""

    def __init__(
        self,
        *,
        own_did: str,
        own_keys: Callable[[], Iterable[VerificationKey]],
        fetcher: Fetcher | None,
        documents: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        self._own_did = own_did
        self._own_keys = own_keys
        self._fetcher = fetcher
        self._documents = dict(documents or {})

    @property
    def own_did(self) -> str:
        return self._own_did

    def controller_document(self, identifier: str) -> ControllerDocument:
        """The controller document of a DID or an https URL (without fragment).

        Raises KeyResolutionError: ``identifier_unsupported`` (another DID method or
        scheme), ``did_invalid``, ``controller_document_invalid``,
        ``controller_document_mismatch`` (its id is not ``identifier``) or a fetch
        failure's code (``fetch_*``).
        """
        if not isinstance(identifier, str) or not identifier:
            raise KeyResolutionError("identifier_unsupported", "The issuer has no identifier.")
        if identifier == self._own_did:
            return self._local_document()
        if identifier.startswith("did:key:"):
            return did_key_document(identifier)
        if identifier.startswith("did:jwk:"):
            return did_jwk_document(identifier)
        if identifier.startswith("did:web:"):
            document = self._fetch_json(did_web_url(identifier))
            return parse_controller_document(document, identifier, source="did:web")
        if identifier.startswith("https://") or identifier.startswith("http://"):
            document = self._fetch_json(identifier)
            return parse_controller_document(document, identifier, source=identifier)
        raise KeyResolutionError(
            "identifier_unsupported",
            f"Keys of {identifier.split(':', 2)[0][:40]}: identifiers cannot be looked up; only "
            "did:web, did:key, did:jwk and https issuers can.",
        )

    def published_jwks(self, issuer_id: str) -> list[VerificationMethod]:
        """The keys an https issuer publishes at ``/.well-known/jwks.json`` of its origin,
        each named ``<issuer_id>#<thumbprint or kid>``.

        Raises KeyResolutionError as ``controller_document`` does, ``jwks_invalid`` for a
        document that is not a JWK Set and ``jwk_private_key`` for one holding a private key.
        """
        origin = _https_origin(issuer_id)
        document = self._fetch_json(f"{origin}/.well-known/jwks.json")
        return [
            VerificationMethod(f"{issuer_id}#{_jwk_name(jwk)}", issuer_id, alg, key, "JsonWebKey")
            for jwk, key, alg in _jwk_set_keys(document)
        ]

    def jwk_set_key(self, issuer_id: str, kid_url: str) -> VerificationMethod:
        """The key a ``kid`` such as ``https://issuer.example/jwks.json#key-1`` names: the
        JWK whose ``kid`` is the fragment (or the whole URL) in the JWK Set at that URL,
        which must be on the https issuer's own origin.

        Raises KeyResolutionError ``jwks_not_issuers`` (another origin, or an issuer that
        is no https URL), ``unknown_key`` (no such JWK), and as ``published_jwks``.
        """
        set_url, _, fragment = kid_url.partition("#")
        if not fragment or _https_origin(issuer_id, "jwks_not_issuers") != _https_origin(
            set_url, "jwks_not_issuers"
        ):
            raise KeyResolutionError(
                "jwks_not_issuers",
                "The JWT names a JWK Set that is not on the issuer's own website.",
            )
        document = self._fetch_json(set_url)
        for jwk, key, alg in _jwk_set_keys(document):
            if jwk.get("kid") in (fragment, kid_url):
                return VerificationMethod(kid_url, issuer_id, alg, key, "JsonWebKey")
        raise KeyResolutionError(
            "unknown_key", f"The JWK Set {set_url[:200]} holds no usable key {fragment[:80]}."
        )

    def _local_document(self) -> ControllerDocument:
        methods = {
            key.kid: VerificationMethod(key.kid, self._own_did, key.alg, key.public_key)
            for key in self._own_keys()
        }
        return ControllerDocument(self._own_did, methods, frozenset(methods), "local")

    def _fetch_json(self, url: str) -> dict[str, Any]:
        pinned = self._documents.get(url)
        if pinned is not None:
            return pinned
        if self._fetcher is None:
            raise KeyResolutionError(
                "fetch_disabled", "Fetching issuer keys from other hosts is turned off."
            )
        try:
            fetched = self._fetcher.get(url, accept="application/did+json, application/json")
            document = strict_json.parse(
                fetched.body, max_bytes=MAX_DOCUMENT_BYTES, max_depth=MAX_DOCUMENT_DEPTH
            )
        except FetchError as error:
            raise KeyResolutionError(error.code, error.message) from None
        except InvalidInput as error:
            raise KeyResolutionError(
                "controller_document_invalid",
                f"The issuer's key document is not readable JSON ({error.code}).",
            ) from None
        if not isinstance(document, dict):
            raise KeyResolutionError("controller_document_invalid", "Not a JSON object.")
        return document


def did_web_url(did: str) -> str:
    """The https URL of a did:web DID document.

    Raises KeyResolutionError ``did_invalid`` for a DID with a fragment, query, odd
    characters or a port outside 1-65535.
    """
    match = _DID_WEB.fullmatch(did)
    if match is None:
        raise KeyResolutionError("did_invalid", "The did:web identifier is not well-formed.")
    authority = unquote(match.group(1))
    host, _, port = authority.partition(":")
    if port and not 0 < int(port) < 65536:
        raise KeyResolutionError("did_invalid", "The did:web port is out of range.")
    path = match.group(2)
    if path:
        segments = path.split(":")[1:]
        if any(segment in {".", ".."} for segment in segments):
            raise KeyResolutionError("did_invalid", "The did:web path is not well-formed.")
        return f"https://{authority.lower()}/{'/'.join(segments)}/did.json"
    return f"https://{host.lower()}{':' + port if port else ''}/.well-known/did.json"


def did_key_document(did: str) -> ControllerDocument:
    """The document a ``did:key`` stands for: one key, listed for assertions.

    Raises KeyResolutionError ``did_invalid`` for anything but an Ed25519 or P-256 did:key.
    """
    base = did.split("#", 1)[0]
    match = _DID_KEY.fullmatch(base)
    if match is None:
        raise KeyResolutionError("did_invalid", "The did:key identifier is not well-formed.")
    multikey = match.group(1)
    public_key, alg = key_from_multikey(multikey)
    method_id = f"{base}#{multikey}"
    method = VerificationMethod(method_id, base, alg, public_key, "Multikey")
    return ControllerDocument(base, {method_id: method}, frozenset({method_id}), "did:key")


def did_jwk_document(did: str) -> ControllerDocument:
    """The document a ``did:jwk`` stands for: its one key, ``<did>#0``, listed for assertions.

    Raises KeyResolutionError ``did_invalid`` for a did:jwk that is not base64url JSON,
    ``jwk_private_key`` when the JWK holds private members and ``key_invalid`` for a key
    of another kind.
    """
    base = did.split("#", 1)[0]
    match = _DID_JWK.fullmatch(base)
    if match is None:
        raise KeyResolutionError("did_invalid", "The did:jwk identifier is not well-formed.")
    try:
        jwk = strict_json.parse(_b64url(match.group(1)), max_bytes=4096, max_depth=2)
    except (InvalidInput, ValueError):
        raise KeyResolutionError("did_invalid", "The did:jwk does not hold a JSON JWK.") from None
    if not isinstance(jwk, dict):
        raise KeyResolutionError("did_invalid", "The did:jwk does not hold a JSON JWK.")
    public_key, alg = key_from_jwk(jwk)
    method_id = f"{base}#0"
    method = VerificationMethod(method_id, base, alg, public_key, "JsonWebKey")
    return ControllerDocument(base, {method_id: method}, frozenset({method_id}), "did:jwk")


def key_from_multikey(multikey: str) -> tuple[PublicKeyObject, str]:
    """An Ed25519, P-256 or P-384 public key from its Multikey encoding, with its JOSE
    algorithm (EdDSA, ES256, ES384).

    Raises KeyResolutionError ``key_invalid``.
    """
    try:
        decoded = decode_base58btc(multikey)
    except InvalidInput:
        raise KeyResolutionError("key_invalid", "The Multikey is not base58btc.") from None
    try:
        if decoded.startswith(_ED25519_CODEC) and len(decoded) == 34:
            return ed25519.Ed25519PublicKey.from_public_bytes(decoded[2:]), "EdDSA"
        if decoded.startswith(_P256_CODEC) and len(decoded) == 35:
            point = decoded[2:]
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point), "ES256"
        if decoded.startswith(_P384_CODEC) and len(decoded) == 51:
            point = decoded[2:]
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), point), "ES384"
    except ValueError:
        pass
    raise KeyResolutionError("key_invalid", "The Multikey is not an Ed25519, P-256 or P-384 key.")


def key_from_base58(text: str) -> tuple[ed25519.Ed25519PublicKey, str]:
    """An Ed25519 key from ``publicKeyBase58`` (Ed25519VerificationKey2018): the 32 raw key
    bytes in base58btc, without a multibase prefix.

    Raises KeyResolutionError ``key_invalid``.
    """
    if not isinstance(text, str) or _BASE58.fullmatch(text) is None:
        raise KeyResolutionError("key_invalid", "The publicKeyBase58 is not base58btc.")
    raw = decode_base58btc("z" + text)
    if len(raw) != 32:
        raise KeyResolutionError("key_invalid", "The publicKeyBase58 is not an Ed25519 key.")
    return ed25519.Ed25519PublicKey.from_public_bytes(raw), "EdDSA"


def key_from_jwk(jwk: dict[str, Any]) -> tuple[PublicKeyObject, str]:
    """A public key from a JWK (OKP Ed25519, EC P-256 / P-384, RSA ≥ 2048 bits) and its JOSE
    algorithm; a JWK that names an ``alg`` must name that one.

    Raises KeyResolutionError ``jwk_private_key`` when the JWK holds private members
    (``d``, ``p``, ``q``, ``dp``, ``dq``, ``qi``, ``oth``, ``k``) and ``key_invalid``
    for anything else unusable.
    """
    held = sorted(PRIVATE_JWK_MEMBERS & set(jwk))
    if held:
        raise KeyResolutionError(
            "jwk_private_key",
            f"A published key holds private key material ({', '.join(held)}); it has been "
            "given away, so nothing it signs can be trusted.",
        )
    try:
        public_key, alg = _public_key_of_jwk(jwk)
    except (KeyError, TypeError, ValueError):
        public_key, alg = None, ""
    if public_key is None or jwk.get("alg", alg) != alg:
        raise KeyResolutionError(
            "key_invalid", "The JWK is not a usable Ed25519, P-256, P-384 or RSA key."
        )
    return public_key, alg


def _public_key_of_jwk(jwk: dict[str, Any]) -> tuple[PublicKeyObject | None, str]:
    kty = jwk.get("kty")
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        raw = _b64url(jwk["x"])
        return ed25519.Ed25519PublicKey.from_public_bytes(raw), "EdDSA"
    if kty == "EC" and jwk.get("crv") in _EC_CURVES:
        curve, size, alg = _EC_CURVES[jwk["crv"]]
        x, y = _b64url(jwk["x"]), _b64url(jwk["y"])
        if len(x) != size or len(y) != size:
            raise ValueError("coordinate length")
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
        )
        return numbers.public_key(), alg
    if kty == "RSA":
        n = int.from_bytes(_b64url(jwk["n"]), "big")
        e = int.from_bytes(_b64url(jwk["e"]), "big")
        if n.bit_length() < MIN_RSA_BITS:
            raise ValueError("short RSA key")
        return rsa.RSAPublicNumbers(e, n).public_key(), "RS256"
    return None, ""


_EC_CURVES: dict[str, tuple[ec.EllipticCurve, int, str]] = {
    "P-256": (ec.SECP256R1(), 32, "ES256"),
    "P-384": (ec.SECP384R1(), 48, "ES384"),
}


def same_key(jwk: dict[str, Any], method: VerificationKey) -> bool:
    """True when ``jwk`` is exactly ``method``'s public key (any key type ``key_from_jwk``
    reads). Raises KeyResolutionError ``jwk_private_key`` for a JWK holding private members:
    such a key is never the issuer's, whatever its public part."""
    try:
        key, _ = key_from_jwk(jwk)
    except KeyResolutionError as error:
        if error.code == "jwk_private_key":
            raise
        return False
    return _subject_public_key_info(key) == _subject_public_key_info(method.public_key)


def _subject_public_key_info(key: PublicKeyObject) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def parse_controller_document(
    document: dict[str, Any], identifier: str, *, source: str
) -> ControllerDocument:
    """Read the verification methods and ``assertionMethod`` of a DID or controller document.

    Relative method ids (``#key-1``) are resolved against ``identifier``; methods embedded
    in ``assertionMethod`` count too. Methods of unsupported kinds are skipped.

    Raises KeyResolutionError ``controller_document_mismatch`` when the document's ``id``
    is not ``identifier``, and ``controller_document_invalid`` when it is malformed.
    """
    if document.get("id") != identifier:
        raise KeyResolutionError(
            "controller_document_mismatch",
            "The key document fetched for the issuer describes someone else.",
        )
    declared = document.get("verificationMethod", [])
    listed = document.get("assertionMethod", [])
    if not isinstance(declared, list) or not isinstance(listed, list):
        raise KeyResolutionError(
            "controller_document_invalid", "verificationMethod and assertionMethod must be lists."
        )
    if len(declared) + len(listed) > MAX_METHODS:
        raise KeyResolutionError("controller_document_invalid", "The document lists too many keys.")
    methods: dict[str, VerificationMethod] = {}
    assertion: set[str] = set()
    for entry in [*declared, *(item for item in listed if isinstance(item, dict))]:
        method = _method(entry, identifier)
        if method is not None:
            methods[method.id] = method
    for item in listed:
        if isinstance(item, str):
            assertion.add(_absolute(item, identifier))
        elif isinstance(item, dict) and isinstance(item.get("id"), str):
            assertion.add(_absolute(item["id"], identifier))
    return ControllerDocument(identifier, methods, frozenset(assertion), source)


def _method(entry: Any, identifier: str) -> VerificationMethod | None:
    """One verification method, or None when it is of a kind or shape we cannot use.

    Raises KeyResolutionError ``jwk_private_key`` (see ``key_from_jwk``).
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        return None
    controller = entry.get("controller")
    if not isinstance(controller, str):
        return None
    declared_type = entry.get("type")
    method_type = declared_type if isinstance(declared_type, str) else ""
    member = METHOD_KEY_MEMBERS.get(method_type)
    # A known type's key is in its own member only (an Ed25519VerificationKey2018 with a
    # publicKeyJwk is malformed); another type is read by the member it has.
    members = [member] if member else ["publicKeyMultibase", "publicKeyBase58", "publicKeyJwk"]
    present = [name for name in members if name in entry]
    if len(present) != 1:
        return None
    value = entry[present[0]]
    public_key: PublicKeyObject
    try:
        if present[0] == "publicKeyJwk":
            if not isinstance(value, dict):
                return None
            public_key, alg = key_from_jwk(value)
        elif present[0] == "publicKeyBase58":
            public_key, alg = key_from_base58(value)
        else:
            public_key, alg = key_from_multikey(value)
    except KeyResolutionError as error:
        if error.code == "jwk_private_key":
            raise
        return None
    if method_type in _ED25519_ONLY_TYPES and alg != "EdDSA":
        return None
    return VerificationMethod(
        _absolute(entry["id"], identifier), controller, alg, public_key, method_type
    )


def _jwk_set_keys(document: dict[str, Any]) -> list[tuple[dict[str, Any], PublicKeyObject, str]]:
    """The usable keys of a JWK Set, each with its JWK and algorithm; others are skipped.

    Raises KeyResolutionError ``jwks_invalid`` or ``jwk_private_key``.
    """
    keys = document.get("keys")
    if not isinstance(keys, list) or len(keys) > MAX_METHODS:
        raise KeyResolutionError("jwks_invalid", "The issuer's JWK Set has no usable keys.")
    usable = []
    for jwk in keys:
        if not isinstance(jwk, dict):
            continue
        try:
            public_key, alg = key_from_jwk(jwk)
        except KeyResolutionError as error:
            if error.code == "jwk_private_key":
                raise
            continue
        usable.append((jwk, public_key, alg))
    return usable


def _https_origin(url: str, code: str = "identifier_unsupported") -> str:
    """``https://host[:port]`` of an https URL. Raises KeyResolutionError ``code``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port out of range raises here.
    except ValueError:
        raise KeyResolutionError(code, "The URL is not well-formed.") from None
    if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
        raise KeyResolutionError(code, "The issuer is not an https URL.")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _absolute(method_id: str, identifier: str) -> str:
    return identifier + method_id if method_id.startswith("#") else method_id


def _jwk_name(jwk: dict[str, Any]) -> str:
    kid = jwk.get("kid")
    if isinstance(kid, str) and kid and "#" in kid:
        return kid.rsplit("#", 1)[1][:200]
    if isinstance(kid, str) and kid:
        return kid[:200]
    return "jwk"


def _b64url(text: Any) -> bytes:
    if not isinstance(text, str) or re.fullmatch(r"[A-Za-z0-9_-]*", text) is None:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
