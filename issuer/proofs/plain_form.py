"""The plain form: a signed JSON-LD document must be read exactly as it was signed.

A Data Integrity proof signs the document's RDF meaning, not its JSON. Every JSON-LD
rewrite that keeps the meaning keeps the proof valid: a property moved under ``@nest``,
written as its full IRI or under an alias from an inline context, a value written as
``{"@value": ...}``, a node's properties split between two objects with the same ``id``.
The checks and the summary read JSON keys (``credentialStatus``, ``validUntil``,
``issuer``, ...), so a rewritten revoked credential would read as "no status entry" and
pass. Instead of teaching every check JSON-LD, a verifier refuses any document that is not
in the plain form its pinned contexts define, where each JSON key means what those
contexts say and nothing signed sits where a check does not look:

- no JSON-LD keyword as a key except ``@context`` (``id`` and ``type`` are the only
  keyword aliases the pinned contexts define; a test keeps it so);
- no key that is an IRI or compact IRI: a term exists for everything a check reads, and
  the VC 2.0 context's ``@vocab`` gives any other property a plain term too;
- no ``null`` value and no empty array (except for a ``@list`` term, where it is an empty
  list): JSON-LD drops them, so they say nothing the proof covers, and a key emptied where
  the same node is described again (the issuer as the achievement's creator) hides a signed
  value from whoever reads that object;
- the credential's own node described in one object: another object with the same ``id``
  may repeat its ``id`` and ``type`` only, so nothing signed about the credential
  (its status, its end date) can sit elsewhere in the document;
- a document that brings its own term definitions (an inline ``@context``, or ``@context``
  below the top) must mean, read with only its pinned contexts at the top, exactly what it
  means with its own: the canonical N-Quads of both readings are compared. Embedded
  endorsements that repeat the top-level contexts pass; an alias for a term a check reads
  does not.

JSON literals (terms typed ``@json``, such as ``jsonSchema``) are data, not JSON-LD, and
are not looked into.
"""

from __future__ import annotations

from typing import Any

from issuer.errors import CanonicalizationError
from issuer.proofs.contexts import json_literal_terms, list_terms
from issuer.proofs.data_integrity import canonicalize

CODE = "document_not_compacted"
_CONTEXT = "@context"
# Keys another object describing the credential's own node may carry (a reference to it).
_REFERENCE_KEYS = frozenset({"id", "type"})


def refuse_unplain_form(secured: dict[str, Any]) -> None:
    """Refuse a secured document whose JSON could be read otherwise than it is signed.

    ``secured`` may carry its ``proof``; the proof is held to the same key rules, and its
    own ``@context`` is the one vc-data-integrity allows.

    Raises:
        CanonicalizationError: ``document_not_compacted`` (``details["path"]`` names the
            JSON path) for a keyword or IRI key, a null or empty value, a second description of the
            credential's node, or term definitions of its own that change what a key means; and as
            ``canonicalize`` for the document read either way.
    """
    unsecured = {key: value for key, value in secured.items() if key != "proof"}
    own_definitions = _refuse_unplain_keys(secured)
    _refuse_split_credential_node(unsecured)
    if own_definitions:
        _refuse_redefinitions(unsecured)


def _refuse_unplain_keys(secured: dict[str, Any]) -> bool:
    """Walk every object; raise at a keyword or IRI key. Return whether the document
    outside its proof brings term definitions of its own."""
    literal_terms = json_literal_terms()
    top_context = secured.get(_CONTEXT)
    top_entries = top_context if isinstance(top_context, list) else [top_context]
    own_definitions = any(not isinstance(entry, str) for entry in top_entries)
    stack: list[tuple[str, Any, bool]] = [("$", secured, False)]
    while stack:
        path, value, in_proof = stack.pop()
        if value is None:
            _refuse(path, "The value is null, which JSON-LD drops")
        if isinstance(value, list):
            stack.extend((f"{path}[{i}]", child, in_proof) for i, child in enumerate(value))
            continue
        if not isinstance(value, dict):
            continue
        for key, child in value.items():
            child_path = f"{path}.{key}"
            if key == _CONTEXT:
                own_definitions = own_definitions or (path != "$" and not in_proof)
            elif key.startswith("@"):
                _refuse(child_path, f"The key {key!r} is a JSON-LD keyword")
            elif ":" in key:
                _refuse(child_path, f"The key {key[:80]!r} is an IRI, not a term")
            elif key not in literal_terms:
                if child == [] and key not in list_terms():
                    _refuse(child_path, "The value is an empty array, which JSON-LD drops")
                stack.append((child_path, child, in_proof or (path == "$" and key == "proof")))
    return own_definitions


def _refuse_split_credential_node(unsecured: dict[str, Any]) -> None:
    """Raise if an object below the top describes the credential's own node."""
    node_id = unsecured.get("id")
    if not isinstance(node_id, str):
        return
    literal_terms = json_literal_terms()
    stack: list[tuple[str, Any]] = [
        (f"$.{key}", child)
        for key, child in unsecured.items()
        if key != _CONTEXT and key not in literal_terms
    ]
    while stack:
        path, value = stack.pop()
        if isinstance(value, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(value))
        elif isinstance(value, dict):
            if value.get("id") == node_id and not value.keys() <= _REFERENCE_KEYS:
                _refuse(path, "This object describes the credential itself a second time")
            stack.extend(
                (f"{path}.{key}", child)
                for key, child in value.items()
                if key != _CONTEXT and key not in literal_terms
            )


def _refuse_redefinitions(unsecured: dict[str, Any]) -> None:
    """Raise unless the document means the same read with only its pinned contexts."""
    as_signed = canonicalize(unsecured)
    try:
        as_read = canonicalize(_with_pinned_contexts_only(unsecured))
    except CanonicalizationError:
        as_read = None
    if as_read != as_signed:
        _refuse("$.@context", "The document's own term definitions change what its keys mean")


def _with_pinned_contexts_only(value: Any, *, top: bool = True) -> Any:
    """A copy of the document without any ``@context`` below the top, and with only the
    context URLs (the pinned contexts) at the top."""
    if isinstance(value, list):
        return [_with_pinned_contexts_only(child, top=False) for child in value]
    if not isinstance(value, dict):
        return value
    copy: dict[str, Any] = {}
    for key, child in value.items():
        if key == _CONTEXT:
            if top:
                entries = child if isinstance(child, list) else [child]
                copy[key] = [entry for entry in entries if isinstance(entry, str)]
        elif key in json_literal_terms():
            copy[key] = child
        else:
            copy[key] = _with_pinned_contexts_only(child, top=False)
    return copy


def _refuse(path: str, reason: str) -> None:
    raise CanonicalizationError(
        CODE,
        f"{reason} (at {path[:200]}): the credential is not in the plain form of its "
        "contexts, so what is read from it could differ from what its signature covers.",
        {"path": path[:200]},
    )
