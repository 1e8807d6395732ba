"""The fixed set of JSON-LD contexts a credential may name, each pinned by SHA-256.

Contexts are never fetched from the network: a context host could serve other term
definitions tomorrow and silently change what a signature covers, and fetching at sign
or verify time would let a credential make the service reach any URL. The documents
are package data, read with ``importlib.resources``: most from ``openbadgeslib``
(``openbadgeslib/ob3/contexts/``), the VC 1.1 and Ed25519Signature2020 contexts from
``pyld``'s bundle, and two that no Python package ships from ``context_files/`` here (its
README gives their sources). Each file's bytes are checked against the SHA-256 pinned here
the first time it is loaded, so upgrading a package cannot change a context under us
without failing loudly.

Provenance of the pins (checked against ``/work/shared/conformance/ob3/contexts``):

- ``credentials-v2.json`` is byte-identical to the W3C VC 2.0 context.
- ``ob-v3p0-context-3.0.2.json`` is byte-identical to the 1EdTech spec repository's.
- ``ob-v3p0-context-3.0.1.json`` and ``ob-v3p0-extensions.json`` are JSON-identical
  (same terms, other whitespace) to the 1EdTech copies.
- ``ob-v3p0-context-3.0.3.json`` is the 1EdTech validator's variant of 3.0.3: the spec
  repository's file plus the top-level terms ``endorsementJwt`` and ``jti``. A
  credential that uses neither term canonicalizes identically with both (the 1EdTech
  eddsa-rdfc-2022 test vector is reproduced byte for byte in the tests).
- ``security-data-integrity-v2.json`` and ``security-multikey-v1.json`` are the W3C CCG
  security contexts as bundled by openbadgeslib 4.6.3.
- The VC 1.1 context (pyld), OB 3.0.0 ``context.json`` and data-integrity v1
  (``context_files/``) are JSON-identical to the 1EdTech validator's copies. They serve
  only to verify credentials issued by others; we sign with VC 2.0 and OB 3.0.3.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from issuer.errors import CanonicalizationError

OPENBADGESLIB = "openbadgeslib.ob3.contexts"
PYLD_BUNDLE = "pyld.documentloader.frozen"
OURS = "issuer.proofs"

VC_V2 = "https://www.w3.org/ns/credentials/v2"
VC_V1 = "https://www.w3.org/2018/credentials/v1"
OB_V3P0_3_0_0 = "https://purl.imsglobal.org/spec/ob/v3p0/context.json"
OB_V3P0_3_0_3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_V3P0_3_0_2 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json"
OB_V3P0_3_0_1 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json"
OB_V3P0_EXTENSIONS = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
DATA_INTEGRITY_V1 = "https://w3id.org/security/data-integrity/v1"
ED25519_2020_V1 = "https://w3id.org/security/suites/ed25519-2020/v1"


@dataclass(frozen=True)
class PinnedContext:
    """Where a context document lives (a package and a path in it) and its bytes' SHA-256."""

    resource: str
    sha256: str
    package: str = OPENBADGESLIB


ALLOWED_CONTEXTS: dict[str, PinnedContext] = {
    VC_V2: PinnedContext(
        "credentials-v2.json",
        "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734",
    ),
    OB_V3P0_3_0_3: PinnedContext(
        "ob-v3p0-context-3.0.3.json",
        "3d34f4d4ef1bce691106e63798beb5e7b862ba841423f5ee1e53ab7ddf3bca84",
    ),
    OB_V3P0_3_0_2: PinnedContext(
        "ob-v3p0-context-3.0.2.json",
        "00666ad080ba407687ed1846b7f5e7495f5019042b202a727de47c48a1755c53",
    ),
    OB_V3P0_3_0_1: PinnedContext(
        "ob-v3p0-context-3.0.1.json",
        "5f3d9dd6288ef437ff8286cf95ffbff609c748a66f24a1e9450c45ca64be1571",
    ),
    OB_V3P0_EXTENSIONS: PinnedContext(
        "ob-v3p0-extensions.json",
        "87c06c81bc2317663bf288d740d94fddd2818c4342b186270ff6371dfaa63f93",
    ),
    DATA_INTEGRITY_V2: PinnedContext(
        "security-data-integrity-v2.json",
        "67f21e6e33a6c14e5ccfd2fc7865f7474fb71a04af7e94136cb399dfac8ae8f4",
    ),
    MULTIKEY_V1: PinnedContext(
        "security-multikey-v1.json",
        "ba2c182de2d92f7e47184bcca8fcf0beaee6d3986c527bf664c195bbc7c58597",
    ),
    VC_V1: PinnedContext(
        "bundled/credentials-v1.jsonld",
        "00d7dd6d3ad8b920e3e550dd3a3d9090bffcac84cdbf943da6924b3e0a5c8bb8",
        PYLD_BUNDLE,
    ),
    ED25519_2020_V1: PinnedContext(
        "bundled/security-ed25519-2020-v1.jsonld",
        "b9e1ab971fd8bf2c7553e0c4a9438e0b9450afde1ea1ca5b2492368b9f549588",
        PYLD_BUNDLE,
    ),
    OB_V3P0_3_0_0: PinnedContext(
        "context_files/ob-v3p0-context-3.0.0.json",
        "9f1c8f9f361ba2994b9b50701f41149919542c50c7b7455b2846d87959295d72",
        OURS,
    ),
    DATA_INTEGRITY_V1: PinnedContext(
        "context_files/security-data-integrity-v1.jsonld",
        "b5d829bd09aa7c42abc6efa0c8ed7635313b5487f37ccfce3ecd149ca9418554",
        OURS,
    ),
}

_loaded: dict[str, dict[str, Any]] = {}
_loaded_lock = threading.Lock()


def load_context(url: str) -> dict[str, Any]:
    """Return a fresh copy of the pinned context document for ``url``.

    The match is exact (no normalisation of scheme, case or trailing slash). The file is
    read and hash-checked once per process; every call returns a deep copy because
    JSON-LD processors may rewrite the document they are given (pyld resolves nested
    ``@context`` URLs in place), and the pinned original must stay as it was checked.

    Raises:
        CanonicalizationError: ``context_not_allowed`` if ``url`` is not in the allowed
            set; ``context_hash_mismatch`` if the packaged file's SHA-256 differs from
            the pin; ``context_unreadable`` if it is missing or not a JSON object.
    """
    pinned = ALLOWED_CONTEXTS.get(url) if isinstance(url, str) else None
    if pinned is None:
        raise CanonicalizationError(
            "context_not_allowed",
            f"The JSON-LD context {url!r} is not one of the contexts this service accepts; "
            "contexts are never fetched from the network.",
            {"url": url},
        )
    with _loaded_lock:
        document = _loaded.get(url)
        if document is None:
            document = _read_pinned(url, pinned)
            _loaded[url] = document
    return copy.deepcopy(document)


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-LD document loader in pyld's shape that serves only the pinned contexts.

    The result is tagged ``static``: pyld then keeps the processed context in the
    resolver's shared cache keyed by URL instead of re-processing ~100 term definitions
    on every call. That is correct only because a URL here always maps to the same
    pinned bytes; ``issuer.proofs.data_integrity`` gives pyld a resolver whose cache is
    private to it, so no other loader in the process can place a different document
    under one of these URLs.

    Raises:
        CanonicalizationError: as ``load_context``.
    """
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": load_context(url),
        "tag": "static",
    }


def _read_pinned(url: str, pinned: PinnedContext) -> dict[str, Any]:
    """Read one packaged context and check its bytes against the pin."""
    try:
        raw = resources.files(pinned.package).joinpath(pinned.resource).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise CanonicalizationError(
            "context_unreadable",
            f"The packaged JSON-LD context for {url} cannot be read.",
            {"url": url, "resource": pinned.resource},
        ) from error
    digest = hashlib.sha256(raw).hexdigest()
    if digest != pinned.sha256:
        raise CanonicalizationError(
            "context_hash_mismatch",
            f"The packaged JSON-LD context for {url} does not match its pinned SHA-256.",
            {"url": url, "expected": pinned.sha256, "actual": digest},
        )
    document = json.loads(raw)
    if not isinstance(document, dict):
        raise CanonicalizationError(
            "context_unreadable",
            f"The packaged JSON-LD context for {url} is not a JSON object.",
            {"url": url},
        )
    return document


@functools.cache
def json_literal_terms() -> frozenset[str]:
    """Every term any pinned context types ``@json``: its values are JSON data, not JSON-LD.

    Raises:
        CanonicalizationError: as ``load_context``.
    """
    return _terms_whose_definition(lambda definition: definition.get("@type") == "@json")


@functools.cache
def list_terms() -> frozenset[str]:
    """Every term any pinned context defines as an ordered ``@list``: for these an empty
    array means something (an empty list), for any other term it means nothing.

    Raises:
        CanonicalizationError: as ``load_context``.
    """
    return _terms_whose_definition(lambda definition: definition.get("@container") == "@list")


def _terms_whose_definition(wanted: Callable[[dict[str, Any]], bool]) -> frozenset[str]:
    terms: set[str] = set()
    for url in ALLOWED_CONTEXTS:
        definitions: list[Any] = [load_context(url).get("@context")]
        while definitions:
            context = definitions.pop()
            if isinstance(context, list):
                definitions.extend(context)
            elif isinstance(context, dict):
                for term, definition in context.items():
                    if isinstance(definition, dict):
                        if wanted(definition):
                            terms.add(term)
                        definitions.append(definition.get("@context"))
    return frozenset(terms)
