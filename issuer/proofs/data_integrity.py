"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite (W3C vc-di-eddsa).

Signing: canonicalize the credential and the proof configuration with RDFC-1.0,
hash each with SHA-256, sign ``SHA-256(proof configuration) || SHA-256(document)``
with Ed25519 and embed the signature as ``proofValue`` (multibase base58btc).
Verifying repeats the same steps and checks the signature; it raises, it never returns
``False``.

Canonicalization refuses what canonicalizers disagree on or silently drop, before any
signature is made or checked (DESIGN.md):

- strings holding a C0 control character or DEL: pyld writes them raw into N-Quads
  while jsonld.js (rdf-canonize) and oxigraph escape them, so a signature made here
  would fail elsewhere. Line feed and carriage return are the exception and are
  allowed in values: every canonicalizer writes them as ``\\n`` and ``\\r`` (pyld,
  rdf-canonize before and after RDFC-1.0), and Markdown narratives need them. Tab is
  refused: pyld writes ``\\t`` but rdf-canonize before RDFC-1.0 wrote it raw. Keys
  may hold no C0 character at all;
- relative IRIs: pyld resolves them against a made-up default base
  (``http://example.org/base/``) while jsonld.js drops them. The raw document is checked
  (every ``id`` / ``@id`` value, with the JSON path in the error) and so is pyld's
  expanded form, produced with no base so that any relative IRI stays visible there.
  The expanded check is what catches relative values of IRI-typed terms and undefined
  ``type`` names; it costs about a quarter more than normalizing alone, because pyld
  re-reads the expanded form, and that is the price of never signing data that
  another verifier reads differently;
- terms the contexts do not define: JSON-LD drops them from the RDF, so they would sit
  in the credential unsigned. pyld 3.3 has no ``safe`` option (``jsonld.normalize``
  ignores unknown options), so the processor's ``on_property_dropped`` hook raises;
- graphs that make canonicalization explode. RDFC-1.0 (§4.9, "poison graphs") tells
  implementations to bound the work of N-degree hashing, which tries every ordering of
  blank nodes that look alike: a 1 KiB credential holding two results of eight identical
  alignments costs pyld about 20 s, nine about 200 s, all under ``PYLD_LOCK``. The work
  is counted (each Hash N-Degree Quads call and each ordering it tries) and refused as
  ``canonicalization_too_complex`` past ``MAX_CANONICALIZATION_STEPS``; documents
  whose blank nodes all differ, like every credential we issue, take none of it;
- documents that are merely big in the wrong way: pyld expands each JSON object (with its
  type-scoped contexts) in about half a millisecond, and compares every pair of values of
  one property while building its node map, so 5,000 evidence items (330 KiB) cost it
  9 s. A document with more than ``MAX_OBJECTS`` objects, or whose arrays hold more than
  ``MAX_VALUE_PAIRS`` pairs of values in all, is refused as ``document_too_complex``
  before any of that work. A credential we issue holds about 60 objects.

The ECDSA suites (``ecdsa_rdfc_2019``, ``ecdsa_sd_2023``) canonicalize through
``canonicalize`` too, so every check above holds whatever the suite; ``pyld_rdfc_sha384``
is the same engine with SHA-384 as RDFC-1.0's hash, for P-384.

The seam for a faster canonicalizer is ``RdfcEngine``: a callable from a JSON-LD
document to canonical N-Quads. ``canonicalize`` runs the engine-independent input
checks and then an engine, ``pyld_rdfc`` by default. A replacement must serve contexts
only through ``issuer.proofs.contexts``, raise ``CanonicalizationError`` where
``pyld_rdfc`` does (dropped terms, relative IRIs after expansion) and be safe to call
from many threads; run it against the same tests before making it the default. A whole
``Canonicalizer``, checks included, can stand in for ``canonicalize`` when signing
(``add_proof(canonicalizer=...)``): issuance uses ``fast_canonical.canonicalize``.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from frozendict import frozendict
from pyld import canon, jsonld
from pyld.context_resolver import ContextResolver
from pyld.identifier_issuer import IdentifierIssuer

from issuer.errors import CanonicalizationError, InvalidInput, ProofError
from issuer.multibase import decode_base58btc, encode_base58btc
from issuer.proofs.contexts import document_loader

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_PURPOSE = "assertionMethod"
ED25519_SIGNATURE_LENGTH = 64

# pyld keeps module-level caches (processed contexts, inverse contexts) and mutates
# them during every operation without locking; concurrent calls corrupt them. Every
# pyld call in the service goes through this one lock.
PYLD_LOCK = threading.Lock()

# In values: every C0 control and DEL except LF and CR (see the module docstring).
# (fast_canonical relies on this pattern and on ID_KEYS for the values it checks itself.)
CONTROL_CHARACTER_IN_VALUE = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_CHARACTER_IN_KEY = re.compile(r"[\x00-\x1f\x7f]")
_IRI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# Characters RFC 3987 forbids anywhere in an IRI; N-Quads cannot carry them unescaped
# and pyld treats an IRI containing whitespace as relative and drops it.
_IRI_FORBIDDEN = re.compile(r"[\s<>\"{}|\\^`]")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")
_BLANK_NODE_PREFIX = "_:"
ID_KEYS = frozenset({"id", "@id"})
_RESOLVED_CONTEXT_CACHE_SIZE = 64
_PROCESSED_CONTEXT_MEMO_SIZE = 512
# N-degree hashing steps allowed in one canonicalization: about a quarter of a second of
# the worst case; a document of 50 alike blank nodes needs 200.
MAX_CANONICALIZATION_STEPS = 10_000
# About a second of pyld's time each (module docstring).
MAX_OBJECTS = 2_000
MAX_VALUE_PAIRS = 250_000


class RdfcEngine(Protocol):
    """Turns a JSON-LD document into RDFC-1.0 canonical N-Quads (the swap point)."""

    def __call__(self, document: dict[str, Any]) -> str: ...


class Canonicalizer(Protocol):
    """Canonical N-Quads with the input checks included: ``canonicalize``, or one that
    gives the same N-Quads or the same refusal (``fast_canonical.canonicalize``)."""

    def __call__(self, document: dict[str, Any]) -> str: ...


class _ResolvedContextCache:
    """A small LRU map for pyld's ContextResolver, private to this module.

    pyld's own shared cache is process-wide and keyed by URL only, so a document tagged
    ``static`` by any other loader in the process would be served to us too; a private
    cache holds only what our pinned loader (or an inline context, keyed by its own
    canonical JSON) put there. Bounded because inline contexts come from the documents
    we are asked to verify. Used only under ``PYLD_LOCK``.
    """

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._entries: OrderedDict[str, Any] = OrderedDict()

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self._entries:
            return default
        self._entries.move_to_end(key)
        return self._entries[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)


_resolved_contexts = _ResolvedContextCache(_RESOLVED_CONTEXT_CACHE_SIZE)


class _ProcessedContextMemo:
    """Processed contexts by (active context, local context, flags), across documents.

    pyld caches a processed context per active context's ``_uuid``, but every clone it
    makes for a type-scoped (non-propagating) context gets a fresh ``_uuid``, so the cache
    never hits from one document to the next and the ~150 term definitions of our
    credentials are re-created each time: half of pyld's expansion time. This memo keys
    by the identity of the active context (pyld returns the same frozen object for a
    repeated step, so the chain of contexts becomes stable) and of the local context (a
    URL or list of URLs by value; anything else by identity, which only repeats for the
    scoped contexts held in memoized term definitions). Entries hold their keys' objects,
    so an identity is never reused while its entry lives. Used only under ``PYLD_LOCK``.
    """

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._entries: OrderedDict[tuple[Any, ...], tuple[Any, Any, Any]] = OrderedDict()

    @staticmethod
    def key(active: Any, local: Any, flags: tuple[bool, bool, bool]) -> tuple[Any, ...] | None:
        """The memo key, or None for a local context the memo does not take."""
        if isinstance(local, str):
            return (id(active), "url", local, flags)
        if isinstance(local, list) and all(isinstance(url, str) for url in local):
            return (id(active), "urls", tuple(local), flags)
        if isinstance(local, dict | frozendict):
            return (id(active), "object", id(local), flags)
        return None

    def get(self, key: tuple[Any, ...], active: Any, local: Any) -> Any:
        entry = self._entries.get(key)
        if (
            entry is None
            or entry[0] is not active
            or (key[1] == "object" and entry[1] is not local)
        ):
            return None
        self._entries.move_to_end(key)
        return entry[2]

    def put(self, key: tuple[Any, ...], active: Any, local: Any, processed: Any) -> None:
        self._entries[key] = (active, local, processed)
        self._entries.move_to_end(key)
        while len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)


_processed_contexts = _ProcessedContextMemo(_PROCESSED_CONTEXT_MEMO_SIZE)


class _MemoizingProcessor(jsonld.JsonLdProcessor):
    """pyld's processor with ``_ProcessedContextMemo`` in front of context processing."""

    def _process_context(
        self,
        active_ctx: Any,
        local_ctx: Any,
        options: dict[str, Any],
        override_protected: bool = False,
        propagate: bool = True,
        validate_scoped: bool = True,
        cycles: Any = None,
    ) -> Any:
        flags = (override_protected, propagate, validate_scoped)
        key = None if cycles else _processed_contexts.key(active_ctx, local_ctx, flags)
        if key is not None:
            found = _processed_contexts.get(key, active_ctx, local_ctx)
            if found is not None:
                return found
        processed = super()._process_context(
            active_ctx, local_ctx, options, override_protected, propagate, validate_scoped, cycles
        )
        # Only frozen results: pyld never changes those, so one can be handed out again.
        if key is not None and isinstance(processed, frozendict):
            _processed_contexts.put(key, active_ctx, local_ctx, processed)
        return processed


def canonicalize(document: dict[str, Any], *, engine: RdfcEngine | None = None) -> str:
    """Return the RDFC-1.0 canonical N-Quads of a JSON-LD document.

    Raises:
        CanonicalizationError: ``not_json`` (a value JSON cannot hold), ``control_character``,
            ``relative_iri``, ``invalid_iri`` (naming the JSON path),
            ``document_too_complex``, ``context_missing``, then whatever the engine raises:
            ``context_not_allowed``, ``context_hash_mismatch``, ``undefined_term``,
            ``direction_unsupported``, ``invalid_language_tag``,
            ``protected_term_redefinition``, ``invalid_jsonld``,
            ``canonicalization_too_complex``, ``canonicalization_failed``.
    """
    refuse_unfit_input(document)
    if document.get("@context") is None:
        raise CanonicalizationError(
            "context_missing", "The document has no @context, so none of its terms mean anything."
        )
    return (engine or pyld_rdfc)(document)


def refuse_unfit_input(document: dict[str, Any]) -> None:
    """Refuse, in one walk, a document on which JSON-LD canonicalizers are known to disagree
    or that is too big to canonicalize quickly (see the module docstring).

    Raises:
        CanonicalizationError: ``not_json`` if the value is not plain JSON (or not an
            object at the top); ``control_character`` if a key holds U+0000-U+001F or
            U+007F, or a string value holds one of them other than LF and CR;
            ``relative_iri`` / ``invalid_iri`` if an ``id`` or ``@id`` value is not an
            absolute IRI or blank node identifier (``details["path"]`` names the JSON
            path); ``document_too_complex`` past ``MAX_OBJECTS`` objects or
            ``MAX_VALUE_PAIRS`` pairs of list values.
    """
    if not isinstance(document, dict):
        raise CanonicalizationError("not_json", "A JSON-LD document must be a JSON object.")
    objects = pairs = 0
    for path, key, value in _walk_json(document):
        if key is not None:
            _refuse_control_character(key, f"{path} (key)", _CONTROL_CHARACTER_IN_KEY)
        if isinstance(value, str):
            _refuse_control_character(value, path, CONTROL_CHARACTER_IN_VALUE)
            if key in ID_KEYS:
                _refuse_non_absolute_iri(value, path)
        elif isinstance(value, dict):
            objects += 1
        elif isinstance(value, list):
            pairs += len(value) * (len(value) - 1) // 2
    if objects > MAX_OBJECTS or pairs > MAX_VALUE_PAIRS:
        raise CanonicalizationError(
            "document_too_complex",
            f"The document is too large to put in canonical form ({objects} objects, "
            f"{pairs} pairs of list values; at most {MAX_OBJECTS} and {MAX_VALUE_PAIRS}).",
        )


def pyld_rdfc(document: dict[str, Any], *, hash_algorithm: str = "sha256") -> str:
    """RDFC-1.0 (URDNA2015) N-Quads of ``document`` computed by pyld, in safe mode.

    ``hash_algorithm`` is the hash RDFC-1.0 labels blank nodes with (a ``hashlib`` name):
    SHA-256 by default, SHA-384 for suites whose security level asks for it
    (``pyld_rdfc_sha384``).

    The document is deep-copied first: pyld keeps inline contexts it has seen in its
    resolver cache by reference, and a caller mutating its dict afterwards must not
    change what a later call resolves.

    Raises:
        CanonicalizationError: ``context_not_allowed`` / ``context_hash_mismatch`` /
            ``context_unreadable`` from the loader; ``undefined_term`` for a property or
            type the contexts do not define; ``relative_iri`` / ``invalid_iri`` for an
            IRI that is not absolute after expansion; ``direction_unsupported``;
            ``invalid_language_tag``; ``protected_term_redefinition``;
            ``invalid_jsonld`` for any other JSON-LD processing error;
            ``canonicalization_failed`` for anything else, or no statements at all.
    """
    return canonicalize_dataset(pyld_dataset(document), hash_algorithm=hash_algorithm)


def pyld_dataset(document: dict[str, Any]) -> dict[str, Any]:
    """The RDF dataset of ``document`` as pyld's ``to_rdf`` gives it (graph name → triples),
    after the same safe-mode checks as ``pyld_rdfc``; the first half of ``pyld_rdfc``.

    Raises:
        CanonicalizationError: as ``pyld_rdfc``, but never for having no statements.
    """
    with PYLD_LOCK:
        processor = _MemoizingProcessor(on_property_dropped=_refuse_dropped_term)
        # pyld wraps everything it meets, including our loader's and hook's errors, in
        # its own exceptions and can raise plain KeyError/TypeError (or RecursionError,
        # like deepcopy, on absurd nesting) on odd input; a caller must only ever see a
        # CanonicalizationError.
        try:
            private_copy = copy.deepcopy(document)
            expanded = processor.expand(private_copy, _pyld_options())
            _refuse_unsafe_expansion(expanded)
            dataset: dict[str, Any] = processor.to_rdf(expanded, _pyld_options())
        except CanonicalizationError:
            raise
        except Exception as error:
            raise _canonicalization_error_from(error) from error
    return dataset


def canonicalize_dataset(dataset: dict[str, Any], *, hash_algorithm: str = "sha256") -> str:
    """RDFC-1.0 N-Quads of an RDF dataset in pyld's shape (``pyld_dataset``), computed by
    pyld's URDNA2015 with the N-degree budget; the second half of ``pyld_rdfc``.

    The dataset is consumed (pyld relabels its blank nodes in place).

    Raises:
        CanonicalizationError: ``canonicalization_too_complex``; ``canonicalization_failed``
            for anything else, or no statements at all.
    """
    # No PYLD_LOCK: URDNA2015 keeps its state on the instance, not in pyld's shared caches.
    try:
        nquads = _BoundedURDNA2015(MAX_CANONICALIZATION_STEPS, hash_algorithm).main(
            dataset, {"format": "application/n-quads"}
        )
    except CanonicalizationError:
        raise
    except Exception as error:
        raise _canonicalization_error_from(error) from error
    if not isinstance(nquads, str) or not nquads:
        raise CanonicalizationError(
            "canonicalization_failed", "The document yields no RDF statements to sign."
        )
    return nquads


def pyld_rdfc_sha384(document: dict[str, Any]) -> str:
    """``pyld_rdfc`` with SHA-384 as RDFC-1.0's hash (vc-di-ecdsa: ecdsa-rdfc-2019 on P-384).

    Raises:
        CanonicalizationError: as ``pyld_rdfc``.
    """
    return pyld_rdfc(document, hash_algorithm="sha384")


class _BoundedURDNA2015(canon.URDNA2015):
    """pyld's RDFC-1.0 (URDNA2015) with a budget on N-degree hashing (module docstring).

    Each Hash N-Degree Quads call spends a step, and so does each blank-node ordering it
    tries: pyld deep-copies the identifier issuer once per ordering, and the issuers
    handed to it here charge the copy to the budget.
    """

    def __init__(self, budget: int, hash_algorithm: str = "sha256") -> None:
        super().__init__()
        self.steps_left = budget
        self.hash_algorithm = hash_algorithm

    def create_hash(self) -> Any:
        return hashlib.new(self.hash_algorithm)

    def spend(self) -> None:
        self.steps_left -= 1
        if self.steps_left < 0:
            raise CanonicalizationError(
                "canonicalization_too_complex",
                "The document holds so many blank nodes that look alike that putting it in "
                "canonical form would take too long; it is not processed.",
            )

    def hash_n_degree_quads(self, id_: str, issuer: IdentifierIssuer) -> dict[str, Any]:
        self.spend()
        if not isinstance(issuer, _CountingIssuer):
            issuer = _CountingIssuer(issuer, self)
        result: dict[str, Any] = super().hash_n_degree_quads(id_, issuer)
        return result


class _CountingIssuer(IdentifierIssuer):
    """A copy of an identifier issuer whose own deep copies spend canonicalization steps."""

    def __init__(self, issuer: IdentifierIssuer, canonicalization: _BoundedURDNA2015) -> None:
        super().__init__(issuer.prefix)
        self.counter = issuer.counter
        self.existing = dict(issuer.existing)
        self.order = list(issuer.order)
        self.canonicalization = canonicalization

    def __deepcopy__(self, memo: dict[int, Any]) -> _CountingIssuer:
        self.canonicalization.spend()
        return _CountingIssuer(self, self.canonicalization)


def add_proof(
    unsigned: dict[str, Any],
    *,
    private_key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
    proof_as_list: bool = True,
    canonicalizer: Canonicalizer | None = None,
) -> dict[str, Any]:
    """Return a copy of ``unsigned`` with an ``eddsa-rdfc-2022`` DataIntegrityProof.

    ``proof`` is written as a one-element list: the OB 3.0 JSON Schema (the form the
    1EdTech validator checks) requires an array, and in JSON-LD a one-element list and
    a lone object are the same data, so the signature is unaffected. With
    ``proof_as_list=False`` it is a lone object instead (some verifiers accept only that
    on status list credentials). ``created`` must be timezone-aware; it is written in
    UTC, whole seconds. ``canonicalizer`` is ``canonicalize`` by default; issuance passes
    ``fast_canonical.canonicalize``, which gives the same N-Quads or the same refusal.

    Raises:
        ProofError: ``proof_present`` if ``unsigned`` already has a ``proof``;
            ``created_without_timezone`` for a naive ``created``.
        CanonicalizationError: as ``canonicalize``, for the document or the proof
            configuration (e.g. a relative ``verification_method``).
    """
    if "proof" in unsigned:
        raise ProofError(
            "proof_present", "The credential already has a proof; sign the unsigned one."
        )
    proof_options = {
        "type": PROOF_TYPE,
        "created": _format_created(created),
        "verificationMethod": verification_method,
        "cryptosuite": CRYPTOSUITE,
        "proofPurpose": PROOF_PURPOSE,
    }
    signature = private_key.sign(
        signing_input(unsigned, proof_options, canonicalizer=canonicalizer)
    )
    proof = {**proof_options, "proofValue": encode_base58btc(signature)}
    return {**_copy_json(unsigned), "proof": [proof] if proof_as_list else proof}


def _copy_json(value: Any) -> Any:
    """A copy of plain JSON (canonicalization accepted it), a few times faster than
    ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {key: _copy_json(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_copy_json(child) for child in value]
    return value


def verify_proof(secured: dict[str, Any], public_key: Ed25519PublicKey) -> None:
    """Check the ``eddsa-rdfc-2022`` proof of ``secured`` against ``public_key``.

    The caller resolves ``read_proof(secured)["verificationMethod"]`` to the key and
    decides whether that key may speak for the issuer; this function checks the proof.

    Raises:
        ProofError: ``proof_missing``, ``proof_malformed`` (not an object, or a list of
            other than one), ``proof_type_unsupported``, ``cryptosuite_unsupported``,
            ``proof_purpose_invalid``, ``verification_method_missing``,
            ``proof_context_mismatch``, ``proof_value_malformed``, ``signature_invalid``.
        CanonicalizationError: as ``canonicalize``.
    """
    proof = read_proof(secured)
    check_proof_parameters(proof, CRYPTOSUITE)
    signature = _decode_proof_value(proof.get("proofValue"))
    unsecured = {key: value for key, value in secured.items() if key != "proof"}
    proof_options = {key: value for key, value in proof.items() if key != "proofValue"}
    drop_proof_context(proof_options, unsecured.get("@context"))
    try:
        public_key.verify(signature, signing_input(unsecured, proof_options))
    except InvalidSignature as error:
        raise ProofError(
            "signature_invalid", "The Data Integrity signature does not match the credential."
        ) from error


def read_proof(secured: dict[str, Any]) -> dict[str, Any]:
    """Return the single proof object of a secured document (object or one-element list).

    Raises:
        ProofError: ``proof_missing`` if there is none; ``proof_malformed`` if it is not
            an object or a list holding exactly one object.
    """
    proof = secured.get("proof") if isinstance(secured, dict) else None
    if proof is None:
        raise ProofError("proof_missing", "The credential has no Data Integrity proof.")
    if isinstance(proof, list):
        if len(proof) != 1:
            raise ProofError(
                "proof_malformed",
                f"Exactly one Data Integrity proof is supported, found {len(proof)}.",
            )
        proof = proof[0]
    if not isinstance(proof, dict):
        raise ProofError("proof_malformed", "The proof is not a JSON object.")
    return proof


def signing_input(
    document: dict[str, Any],
    proof_options: dict[str, Any],
    *,
    canonicalizer: Canonicalizer | None = None,
) -> bytes:
    """Return ``SHA-256(canonical proof configuration) || SHA-256(canonical document)``.

    ``document`` is the credential without ``proof``; ``proof_options`` is the proof
    without ``proofValue``. The proof configuration is ``proof_options`` with the
    document's ``@context``, as vc-di-eddsa specifies.

    Raises:
        CanonicalizationError: as ``canonicalize``.
    """
    if document.get("@context") is None:
        raise CanonicalizationError(
            "context_missing", "The document has no @context, so none of its terms mean anything."
        )
    canonical = canonicalizer or canonicalize
    proof_configuration = {**proof_options, "@context": document["@context"]}
    proof_hash = hashlib.sha256(canonical(proof_configuration).encode("utf-8")).digest()
    document_hash = hashlib.sha256(canonical(document).encode("utf-8")).digest()
    return proof_hash + document_hash


def _pyld_options() -> dict[str, Any]:
    """Options for one pyld operation: pinned loader, private cache, no base IRI."""
    return {
        "documentLoader": document_loader,
        "contextResolver": ContextResolver(_resolved_contexts, document_loader),
        # With no base, a relative IRI stays relative in the expanded form, where
        # _refuse_unsafe_expansion sees it, instead of being resolved against pyld's
        # default base.
        "base": None,
        "processingMode": "json-ld-1.1",
    }


def _walk_json(document: dict[str, Any]) -> Iterator[tuple[str, str | None, Any]]:
    """Yield ``(path, key, value)`` for every value below ``document``, depth first.

    Iterative, so that a deeply nested document cannot exhaust the Python stack here.

    Raises:
        CanonicalizationError: ``not_json`` for a value JSON cannot hold (a non-string
            key, NaN or infinity, any non-JSON type).
    """
    stack: list[tuple[str, str | None, Any]] = [("$", None, document)]
    while stack:
        path, key, value = stack.pop()
        yield path, key, value
        if isinstance(value, dict):
            for child_key, child in value.items():
                if not isinstance(child_key, str):
                    raise CanonicalizationError(
                        "not_json", f"A key at {path} is not a string.", {"path": path}
                    )
                stack.append((f"{path}.{child_key}", child_key, child))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", None, child) for index, child in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise CanonicalizationError(
                "not_json", f"The number at {path} is not finite.", {"path": path}
            )
        elif value is not None and not isinstance(value, str | int | float | bool):
            raise CanonicalizationError(
                "not_json",
                f"The value at {path} is a {type(value).__name__}, not JSON.",
                {"path": path},
            )


def _refuse_control_character(text: str, path: str, refused: re.Pattern[str]) -> None:
    """Raise ``control_character`` if ``text`` holds a character ``refused`` matches."""
    found = refused.search(text)
    if found is not None:
        raise CanonicalizationError(
            "control_character",
            f"The string at {path} holds the control character U+{ord(found.group()):04X}; "
            "JSON-LD canonicalizers disagree on how to write it.",
            {"path": path},
        )


def _refuse_non_absolute_iri(iri: str, path: str) -> None:
    """Raise unless ``iri`` is an absolute IRI or a blank node identifier.

    Blank node identifiers (``_:x``) are allowed: they are not relative IRIs, and
    RDFC-1.0 relabels them identically everywhere.
    """
    if iri.startswith(_BLANK_NODE_PREFIX):
        return
    if _IRI_SCHEME.match(iri) is None:
        raise CanonicalizationError(
            "relative_iri",
            f"The IRI {iri!r} at {path} is relative; JSON-LD canonicalizers resolve or drop "
            "relative IRIs differently, so only absolute IRIs can be signed.",
            {"path": path, "iri": iri},
        )
    if _IRI_FORBIDDEN.search(iri) is not None:
        raise CanonicalizationError(
            "invalid_iri",
            f"The IRI {iri!r} at {path} holds a character IRIs may not contain.",
            {"path": path, "iri": iri},
        )


def _refuse_dropped_term(expanded_property: str | None) -> None:
    """pyld hook: a property is about to be dropped from the RDF, refuse instead."""
    raise CanonicalizationError(
        "undefined_term",
        f"The property {expanded_property!r} is not defined by the document's contexts; "
        "it would be left out of the signed data.",
        {"term": expanded_property},
    )


def _refuse_unsafe_expansion(expanded: Any) -> None:
    """Refuse anything pyld's RDF conversion would silently drop from expanded JSON-LD.

    That is: a relative or malformed ``@id``, a ``@type`` that is not an absolute IRI
    (an undefined type name stays relative when there is no base), a property that is
    a blank node identifier (not allowed in standard RDF), a base direction (dropped
    without an ``rdfDirection`` mode) and a malformed language tag (written raw).

    Raises:
        CanonicalizationError: ``relative_iri``, ``invalid_iri``, ``undefined_term``,
            ``direction_unsupported``, ``invalid_language_tag``.
    """
    stack: list[tuple[str, Any]] = [("expanded", expanded)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(value))
            continue
        if not isinstance(value, dict):
            continue
        for key, child in value.items():
            child_path = f"{path}.<{key}>"
            if key == "@id" and isinstance(child, str):
                _refuse_non_absolute_iri(child, child_path)
            elif key == "@type":
                _refuse_undefined_types(child, child_path)
            elif key == "@value":
                # A JSON literal's keys are data, not IRIs.
                continue
            elif key == "@language":
                _refuse_invalid_language_tag(child, child_path)
            elif key == "@direction":
                raise CanonicalizationError(
                    "direction_unsupported",
                    f"The base direction at {child_path} would be dropped from the signed "
                    "data (RDFC-1.0 without an rdfDirection mode does not carry it).",
                    {"path": child_path},
                )
            elif not key.startswith("@"):
                _refuse_undefined_property(key, child_path)
                stack.append((child_path, child))
            else:
                stack.append((child_path, child))


def _refuse_invalid_language_tag(language: Any, path: str) -> None:
    """Raise ``invalid_language_tag`` unless ``language`` is shaped like a BCP 47 tag.

    pyld writes whatever it is given after ``@``, so a tag with a space would make the
    N-Quads unreadable to any other canonicalizer.
    """
    if not isinstance(language, str) or _LANGUAGE_TAG.fullmatch(language) is None:
        raise CanonicalizationError(
            "invalid_language_tag",
            f"The language tag {language!r} at {path} is not a BCP 47 language tag.",
            {"path": path},
        )


def _refuse_undefined_types(types: Any, path: str) -> None:
    """Raise ``undefined_term`` for an expanded ``@type`` that is not an absolute IRI."""
    for type_iri in types if isinstance(types, list) else [types]:
        if isinstance(type_iri, str) and type_iri.startswith("@"):
            continue
        if not isinstance(type_iri, str) or _IRI_SCHEME.match(type_iri) is None:
            raise CanonicalizationError(
                "undefined_term",
                f"The type {type_iri!r} at {path} is not defined by the document's contexts.",
                {"path": path, "term": type_iri},
            )
        _refuse_non_absolute_iri(type_iri, path)


def _refuse_undefined_property(property_iri: str, path: str) -> None:
    """Raise ``undefined_term`` for an expanded property that RDF cannot carry."""
    if _IRI_SCHEME.match(property_iri) is None:
        raise CanonicalizationError(
            "undefined_term",
            f"The property {property_iri!r} at {path} is not an IRI; "
            "it would be left out of the signed data.",
            {"path": path, "term": property_iri},
        )
    _refuse_non_absolute_iri(property_iri, path)


def _canonicalization_error_from(error: BaseException) -> CanonicalizationError:
    """Turn whatever pyld raised into a CanonicalizationError with a precise code."""
    jsonld_code: str | None = None
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, CanonicalizationError):
            return CanonicalizationError(cause.code, cause.message, cause.details)
        if isinstance(cause, jsonld.JsonLdError) and jsonld_code is None and cause.code:
            jsonld_code = str(cause.code)
        cause = cause.__cause__ or cause.__context__
    if jsonld_code == "protected term redefinition":
        return CanonicalizationError(
            "protected_term_redefinition",
            "The document redefines a term its contexts protect.",
            {"jsonld_code": jsonld_code},
        )
    if jsonld_code is not None:
        return CanonicalizationError(
            "invalid_jsonld",
            f"The document is not valid JSON-LD ({jsonld_code}).",
            {"jsonld_code": jsonld_code},
        )
    return CanonicalizationError(
        "canonicalization_failed",
        f"The document could not be canonicalized ({type(error).__name__}).",
    )


def _format_created(created: datetime) -> str:
    """Format ``created`` as an XML Schema dateTime in UTC, whole seconds, ``Z``."""
    if created.tzinfo is None or created.utcoffset() is None:
        raise ProofError(
            "created_without_timezone", "The proof creation time must carry a time zone."
        )
    return created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_proof_parameters(proof: dict[str, Any], cryptosuite: str) -> None:
    """Check the proof's type, cryptosuite, purpose and verification method.

    Raises:
        ProofError: ``proof_type_unsupported``, ``cryptosuite_unsupported``,
            ``proof_purpose_invalid``, ``verification_method_missing``.
    """
    if proof.get("type") != PROOF_TYPE:
        raise ProofError(
            "proof_type_unsupported",
            f"The proof type {proof.get('type')!r} is not {PROOF_TYPE}.",
        )
    if proof.get("cryptosuite") != cryptosuite:
        raise ProofError(
            "cryptosuite_unsupported",
            f"The cryptosuite {str(proof.get('cryptosuite'))[:60]!r} is not {cryptosuite}.",
        )
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        raise ProofError(
            "proof_purpose_invalid",
            f"The proof purpose {proof.get('proofPurpose')!r} is not {PROOF_PURPOSE}.",
        )
    if not isinstance(proof.get("verificationMethod"), str):
        raise ProofError("verification_method_missing", "The proof names no verification method.")


def _decode_proof_value(proof_value: Any) -> bytes:
    """Return the 64-byte signature held in a multibase base58btc ``proofValue``.

    Raises:
        ProofError: ``proof_value_malformed``.
    """
    try:
        signature = decode_base58btc(proof_value)
    except InvalidInput as error:
        raise ProofError(
            "proof_value_malformed", "The proofValue is not a multibase base58btc string."
        ) from error
    if len(signature) != ED25519_SIGNATURE_LENGTH:
        raise ProofError(
            "proof_value_malformed",
            f"The proofValue holds {len(signature)} bytes, not an Ed25519 signature.",
        )
    return signature


def drop_proof_context(proof_options: dict[str, Any], document_context: Any) -> None:
    """Remove a proof's own ``@context`` after checking the document's starts with it.

    vc-data-integrity: a proof that carries ``@context`` is valid only if the secured
    document's ``@context`` begins with the same values in the same order; the proof
    configuration then uses the document's ``@context``.

    Raises:
        ProofError: ``proof_context_mismatch``.
    """
    if "@context" not in proof_options:
        return
    proof_context = proof_options.pop("@context")
    proof_list = proof_context if isinstance(proof_context, list) else [proof_context]
    document_list = document_context if isinstance(document_context, list) else [document_context]
    if document_list[: len(proof_list)] != proof_list:
        raise ProofError(
            "proof_context_mismatch",
            "The proof's @context is not the start of the credential's @context.",
        )
