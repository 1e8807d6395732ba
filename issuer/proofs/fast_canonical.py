"""A fast RDFC-1.0 engine for the credentials we issue, equal to ``pyld_rdfc`` by construction.

The idea: the credentials we issue come from a few templates, and what changes from one
award to the next are string values (names, ids, dates, narratives, hashes), never the
shape. So a document is split into its *skeleton* (the JSON with every replaceable string
leaf swapped for a marker) and its *values*. Each skeleton is compiled once with the
reference path (``data_integrity.pyld_dataset``, pyld in safe mode) on a copy whose leaves
hold unique sentinels; every later document with the same skeleton gets its RDF by putting
its values where the sentinels came out, and RDFC-1.0 runs on that small dataset.

Why this is the same as pyld on the document itself:

- a leaf is replaceable only if pyld's treatment of it cannot depend on its content: never
  a key, never under ``@context``, ``type``/``@type``, a ``@vocab``-typed term or a
  ``@json`` term (whose values are IRIs to resolve or JSON to serialize). A string that is
  an IRI of a form pyld returns unchanged (``http(s)://…`` without characters IRIs may not
  hold, or ``urn:uuid:`` and a lower-case UUID) gets an IRI sentinel of the same form, any
  other string a sentinel without a colon (which pyld would refuse as a relative IRI if the
  term made it one). The skeleton keeps which form each leaf had, so only a value of the
  form its sentinel had is ever put in its place;
- compiling checks that every sentinel comes out whole, as one subject, object or literal
  value (literal sentinels only as literals), and nowhere as part of another term; the
  sentinels carry a random nonce, so no document can fake one. A skeleton that fails any
  check, or that pyld refuses, is remembered as one the fast path does not handle, and
  its documents go through ``pyld_rdfc``, errors and all;
- pyld merges nodes that share an ``@id``, which unions their statements; putting equal
  values in two sentinel places gives the same statements, so the result is deduplicated
  as a set, which is what pyld's dataset is;
- RDFC-1.0 here is the algorithm's first-degree case only: when every blank node has a
  distinct first-degree hash (``_:a`` for the node, ``_:z`` for the others, sorted
  N-Quads, hashed), canonical labels are issued in hash order and nothing else runs. Any
  shared hash hands the dataset to pyld's URDNA2015 (``data_integrity.canonicalize_dataset``,
  with its step budget). Literals are escaped as pyld's ``serialize_nquad`` does.

``tests/test_fast_canonical.py`` runs every template of every framework and
hypothesis-generated awards through both engines and requires identical N-Quads.
The engine is for documents we build (``issuer.issuance``); documents from elsewhere are
canonicalized by ``pyld_rdfc``, so that nobody can fill the skeleton cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from issuer.errors import CanonicalizationError
from issuer.proofs import data_integrity
from issuer.proofs.contexts import ALLOWED_CONTEXTS, load_context

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
SKELETON_CACHE_SIZE = 256
CANONICAL_PREFIX = "_:c14n"

# Leaf forms (the marker a skeleton holds in place of a value).
LITERAL, HTTP_IRI, UUID_URN = "literal", "http", "urn"
_HTTP_IRI = re.compile(r"https?://[^\s<>\"{}|\\^`\x00-\x1f\x7f]*")
_UUID_URN = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KEYWORDS = frozenset(
    {
        "@base",
        "@container",
        "@context",
        "@direction",
        "@graph",
        "@id",
        "@import",
        "@included",
        "@index",
        "@json",
        "@language",
        "@list",
        "@nest",
        "@none",
        "@prefix",
        "@propagate",
        "@protected",
        "@reverse",
        "@set",
        "@type",
        "@value",
        "@version",
        "@vocab",
    }
)
# The marker's key cannot occur in a document canonicalize accepts (no C0 in keys).
_MARKER_KEY = "\x00"

# A compiled term: (_FIXED, text) rendered N-Quads text; (_BLANK, index); (_SLOT, index, suffix)
# where suffix is None for an IRI and the literal's ``"…"`` tail (datatype or language) else.
_FIXED, _BLANK, _SLOT = 0, 1, 2
Term = tuple[Any, ...]


@dataclass(frozen=True)
class CompiledSkeleton:
    """A skeleton's RDF: triples of compiled terms, the blank node count, the slot forms."""

    triples: tuple[tuple[Term, str, Term], ...]
    blank_nodes: int
    slots: tuple[str, ...]


class _SkeletonCache:
    """Compiled skeletons by their JSON, LRU-bounded; ``None`` marks a refused skeleton."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._entries: OrderedDict[str, CompiledSkeleton | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, CompiledSkeleton | None]:
        with self._lock:
            if key not in self._entries:
                return False, None
            self._entries.move_to_end(key)
            return True, self._entries[key]

    def put(self, key: str, compiled: CompiledSkeleton | None) -> None:
        with self._lock:
            self._entries[key] = compiled
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)


_skeletons = _SkeletonCache(SKELETON_CACHE_SIZE)


def fast_rdfc(document: dict[str, Any], *, hash_algorithm: str = "sha256") -> str:
    """RDFC-1.0 N-Quads of ``document``, the same as ``data_integrity.pyld_rdfc`` gives.

    Meant to be called through ``data_integrity.canonicalize(document, engine=fast_rdfc)``,
    which refuses unfit input first.

    Raises:
        CanonicalizationError: as ``data_integrity.pyld_rdfc`` (on every document the fast
            path does not handle, it is ``pyld_rdfc`` that runs).
    """
    split = split_document(document)
    if split is None:
        return data_integrity.pyld_rdfc(document, hash_algorithm=hash_algorithm)
    skeleton, values = split
    compiled = compiled_skeleton(skeleton)
    if compiled is None:
        return data_integrity.pyld_rdfc(document, hash_algorithm=hash_algorithm)
    return canonical_nquads(compiled, values, hash_algorithm)


def fast_rdfc_sha384(document: dict[str, Any]) -> str:
    """``fast_rdfc`` with SHA-384 as RDFC-1.0's hash. Raises as ``fast_rdfc``."""
    return fast_rdfc(document, hash_algorithm="sha384")


def split_document(document: dict[str, Any]) -> tuple[Any, list[str]] | None:
    """The document's skeleton and its replaceable values in document order, or None when
    the fast path does not take the document: a ``@context`` other than pinned URLs at
    the top, or a key that is the marker's (such documents go the reference way)."""
    context = document.get("@context")
    contexts = context if isinstance(context, list) else [context]
    if not all(isinstance(url, str) and url in ALLOWED_CONTEXTS for url in contexts):
        return None
    terms = pinned_terms()
    values: list[str] = []

    def skeleton_of(node: Any, key: str) -> Any:
        if isinstance(node, str):
            form = leaf_form(node)
            if form == LITERAL and key in terms.iri_valued:
                # Another kind of IRI (a did:, a compact IRI): kept as it is.
                return node
            values.append(node)
            return {_MARKER_KEY: form}
        if isinstance(node, dict):
            if _MARKER_KEY in node or "@context" in node:
                raise _NotHandled
            return {
                child_key: (child if child_key in terms.fixed else skeleton_of(child, child_key))
                for child_key, child in node.items()
            }
        if isinstance(node, list):
            return [skeleton_of(child, key) for child in node]
        return node

    body = {key: value for key, value in document.items() if key != "@context"}
    try:
        skeleton = skeleton_of(body, "")
    except _NotHandled:
        return None
    return {"@context": context, **skeleton}, values


@dataclass(frozen=True)
class PinnedTerms:
    """What the pinned contexts say about keys: whose string values are never replaced
    (keywords, their aliases other than ``@id``'s, ``@vocab``- and ``@json``-typed terms),
    and whose are IRIs (``@id`` and its aliases, ``@id``-typed terms)."""

    fixed: frozenset[str]
    iri_valued: frozenset[str]


@functools.cache
def pinned_terms() -> PinnedTerms:
    """Read every pinned context once (``PinnedTerms``).

    Raises:
        CanonicalizationError: as ``contexts.load_context``.
    """
    fixed: set[str] = set()
    iri_valued = {"@id"}
    for url in ALLOWED_CONTEXTS:
        definitions: list[Any] = [load_context(url).get("@context")]
        while definitions:
            context = definitions.pop()
            if isinstance(context, list):
                definitions.extend(context)
            if not isinstance(context, dict):
                continue
            for term, definition in context.items():
                target = definition.get("@id") if isinstance(definition, dict) else definition
                kind = definition.get("@type") if isinstance(definition, dict) else None
                if term.startswith("@") or target in _KEYWORDS - {"@id"}:
                    fixed.add(term)
                elif target == "@id" or kind == "@id":
                    iri_valued.add(term)
                elif kind in ("@vocab", "@json"):
                    fixed.add(term)
                if isinstance(definition, dict):
                    definitions.append(definition.get("@context"))
    return PinnedTerms(frozenset(fixed | {"@context"}), frozenset(iri_valued))


class _NotHandled(Exception):
    """Raised inside the walk when a document is not one the fast path handles."""


def leaf_form(value: str) -> str:
    """Which sentinel stands for ``value``: an IRI pyld leaves unchanged, or any string."""
    if _HTTP_IRI.fullmatch(value):
        return HTTP_IRI
    if _UUID_URN.fullmatch(value):
        return UUID_URN
    return LITERAL


def compiled_skeleton(skeleton: Any) -> CompiledSkeleton | None:
    """The compiled form of ``skeleton``, from the cache or compiled now (None: refused)."""
    key = json.dumps(skeleton, ensure_ascii=False, separators=(",", ":"))
    found, compiled = _skeletons.get(key)
    if found:
        return compiled
    compiled = compile_skeleton(skeleton)
    _skeletons.put(key, compiled)
    return compiled


def compile_skeleton(skeleton: Any) -> CompiledSkeleton | None:
    """Run the reference path once on the skeleton filled with sentinels and read where
    each sentinel came out; None if pyld refuses it or any check of the module docstring
    fails."""
    nonce = secrets.token_hex(16)
    slots: list[str] = []

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            if _MARKER_KEY in node:
                slots.append(node[_MARKER_KEY])
                return sentinel(nonce, len(slots) - 1, node[_MARKER_KEY])
            return {key: fill(child) for key, child in node.items()}
        if isinstance(node, list):
            return [fill(child) for child in node]
        return node

    filled = fill(skeleton)
    try:
        data_integrity.refuse_unfit_input(filled)
        dataset = data_integrity.pyld_dataset(filled)
    except CanonicalizationError:
        return None
    if set(dataset) - {"@default"}:
        return None
    sentinels = {sentinel(nonce, index, form): index for index, form in enumerate(slots)}
    blank_nodes: dict[str, int] = {}
    seen: set[int] = set()
    triples: list[tuple[Term, str, Term]] = []
    try:
        for triple in dataset.get("@default", []):
            predicate = triple["predicate"]
            if predicate["type"] != "IRI" or nonce in predicate["value"]:
                return None
            triples.append(
                (
                    _compile_term(triple["subject"], nonce, sentinels, slots, blank_nodes, seen),
                    f"<{predicate['value']}>",
                    _compile_term(triple["object"], nonce, sentinels, slots, blank_nodes, seen),
                )
            )
    except _NotHandled:
        return None
    if not triples or len(seen) != len(slots):
        return None
    return CompiledSkeleton(tuple(triples), len(blank_nodes), tuple(slots))


def sentinel(nonce: str, index: int, form: str) -> str:
    """A value no document holds, of the given leaf form."""
    if form == HTTP_IRI:
        return f"https://{nonce}.invalid/{index}"
    if form == UUID_URN:
        return uuid.UUID(hashlib.sha256(f"{nonce}/{index}".encode()).hexdigest()[:32]).urn
    return f"sentinel-{nonce}-{index}"


def _compile_term(
    term: dict[str, Any],
    nonce: str,
    sentinels: dict[str, int],
    slots: list[str],
    blank_nodes: dict[str, int],
    seen: set[int],
) -> Term:
    value = term["value"]
    if term["type"] == "blank node":
        return (_BLANK, blank_nodes.setdefault(value, len(blank_nodes)))
    index = sentinels.get(value)
    if term["type"] == "IRI":
        if index is not None and slots[index] != LITERAL:
            seen.add(index)
            return (_SLOT, index, None)
        if nonce in value:
            raise _NotHandled
        return (_FIXED, f"<{value}>")
    datatype = term.get("datatype", XSD_STRING)
    language = term.get("language")
    if nonce in datatype or (language is not None and nonce in language):
        raise _NotHandled
    if datatype == RDF_LANGSTRING:
        suffix = f'"@{language}' if language else '"'
    elif datatype != XSD_STRING:
        suffix = f'"^^<{datatype}>'
    else:
        suffix = '"'
    if index is not None:
        seen.add(index)
        return (_SLOT, index, suffix)
    if nonce in value:
        raise _NotHandled
    return (_FIXED, '"' + escape_literal(value) + suffix)


def escape_literal(value: str) -> str:
    """A literal's characters as pyld's ``serialize_nquad`` writes them."""
    return (
        value.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace('"', '\\"')
    )


def canonical_nquads(compiled: CompiledSkeleton, values: list[str], hash_algorithm: str) -> str:
    """RDFC-1.0 N-Quads of the compiled skeleton filled with ``values``.

    Raises:
        CanonicalizationError: as ``data_integrity.canonicalize_dataset`` when blank nodes
            share a first-degree hash and pyld's URDNA2015 runs.
    """
    if len(values) != len(compiled.slots):
        raise CanonicalizationError(
            "canonicalization_failed", "The document does not fit its compiled skeleton."
        )
    triples: dict[tuple[str | int, str, str | int], None] = {}
    for subject, predicate, object_ in compiled.triples:
        triples[(_render(subject, values), predicate, _render(object_, values))] = None
    touching: list[list[tuple[str | int, str, str | int]]] = [
        [] for _ in range(compiled.blank_nodes)
    ]
    for triple in triples:
        head, _, tail = triple
        if isinstance(head, int):
            touching[head].append(triple)
        if isinstance(tail, int) and tail != head:
            touching[tail].append(triple)
    by_hash: dict[str, int] = {}
    for node, node_triples in enumerate(touching):
        lines = sorted(
            _line(triple, lambda other, node=node: "_:a" if other == node else "_:z")
            for triple in node_triples
        )
        digest = hashlib.new(hash_algorithm, "".join(lines).encode("utf-8")).hexdigest()
        if digest in by_hash:
            return data_integrity.canonicalize_dataset(
                _pyld_dataset(triples), hash_algorithm=hash_algorithm
            )
        by_hash[digest] = node
    labels = [""] * compiled.blank_nodes
    for position, digest in enumerate(sorted(by_hash)):
        labels[by_hash[digest]] = f"{CANONICAL_PREFIX}{position}"
    return "".join(sorted(_line(triple, labels.__getitem__) for triple in triples))


def _render(term: Term, values: list[str]) -> str | int:
    """A term's N-Quads text, or its blank node index."""
    kind = term[0]
    if kind == _FIXED:
        text: str = term[1]
        return text
    if kind == _BLANK:
        index: int = term[1]
        return index
    value = values[term[1]]
    suffix = term[2]
    if suffix is None:
        return f"<{value}>"
    return '"' + escape_literal(value) + suffix


def _line(triple: tuple[str | int, str, str | int], label: Any) -> str:
    subject, predicate, object_ = triple
    subject_text = label(subject) if type(subject) is int else subject
    object_text = label(object_) if type(object_) is int else object_
    return f"{subject_text} {predicate} {object_text} .\n"


def _pyld_dataset(triples: dict[tuple[str | int, str, str | int], None]) -> dict[str, Any]:
    """The filled triples in pyld's dataset shape, for pyld's URDNA2015."""
    return {
        "@default": [
            {
                "subject": _pyld_term(subject),
                "predicate": {"type": "IRI", "value": predicate[1:-1]},
                "object": _pyld_term(object_),
            }
            for subject, predicate, object_ in triples
        ]
    }


def _pyld_term(text: str | int) -> dict[str, Any]:
    if isinstance(text, int):
        return {"type": "blank node", "value": f"_:b{text}"}
    if text.startswith("<"):
        return {"type": "IRI", "value": text[1:-1]}
    body, _, tail = text[1:].rpartition('"')
    value = _unescape_literal(body)
    if tail.startswith("@"):
        return {"type": "literal", "value": value, "datatype": RDF_LANGSTRING, "language": tail[1:]}
    datatype = tail[3:-1] if tail.startswith("^^<") else XSD_STRING
    return {"type": "literal", "value": value, "datatype": datatype}


def _unescape_literal(body: str) -> str:
    """Undo ``escape_literal`` exactly (one left-to-right pass, unlike pyld's ``unescape``)."""
    return re.sub(
        r"\\(.)", lambda escape: {"t": "\t", "n": "\n", "r": "\r"}.get(escape[1], escape[1]), body
    )
