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
import math
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
STRING_MEMO_CHARACTERS = 1 << 20
CANONICAL_PREFIX = "_:c14n"
_HASH_FUNCTIONS = {"sha256": hashlib.sha256, "sha384": hashlib.sha384}

# Leaf forms (the marker a skeleton holds in place of a value).
LITERAL, HTTP_IRI, UUID_URN = "literal", "http", "urn"
# One match tells the form: group 1 an http(s) IRI, group 2 a UUID URN.
_IRI_FORMS = re.compile(
    r"(https?://[^\s<>\"{}|\\^`\x00-\x1f\x7f]*)"
    r"|(urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)
_ESCAPED = re.compile(r'[\\\t\n\r"]')
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


class _Tag:
    """A marker in a skeleton: a replaceable leaf of one form, or the kind of a node. No
    JSON value is one, so no document can fake one."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


# A skeleton is hashable, so that it is its own cache key: a kept string as itself, null
# as None, a replaceable leaf as the tag of its form, an object as (_OBJECT, (key, child),
# ...), an array as (_ARRAY, child, ...), and a number or boolean as (_NUMBER, its JSON
# text), so that 1, 1.0, -0.0 and true stay apart.
_LITERAL_SLOT, _HTTP_IRI_SLOT, _UUID_URN_SLOT = (
    _Tag(form) for form in (LITERAL, HTTP_IRI, UUID_URN)
)
_OBJECT, _ARRAY, _NUMBER = _Tag("object"), _Tag("array"), _Tag("number")
Skeleton = Any

# A compiled term: (_FIXED, text) rendered N-Quads text; (_BLANK, index); (_SLOT, index, suffix)
# where suffix is None for an IRI and the literal's ``"…"`` tail (datatype or language) else.
_FIXED, _BLANK, _SLOT = 0, 1, 2
Term = tuple[Any, ...]
# A filled triple: subject and object as N-Quads text, or a blank node as ``~n``.
Triple = tuple[str | int, str, str | int]


@dataclass(frozen=True)
class CompiledSkeleton:
    """A skeleton's RDF, ready to fill in.

    ``triples`` hold, as subject and object, a blank node ``n`` as ``~n`` (a negative
    number) or an index into the term table of one document: the ``fixed`` N-Quads texts
    first, then one text per ``slot_terms`` entry (a slot and its literal suffix, None for
    an IRI), rendered once per document however many triples share it. ``slots`` are the
    leaf forms of the values, in document order. ``first_degree`` holds, per blank node,
    its Hash First Degree Quads lines as (linked triple, prefix, term, suffix), term -1 for
    a line that is all prefix; when two triples of a document come out as one statement,
    only the lines of the first count.
    """

    triples: tuple[tuple[int, str, int], ...]
    fixed: tuple[str, ...]
    slot_terms: tuple[tuple[int, str | None], ...]
    blank_nodes: int
    slots: tuple[str, ...]
    first_degree: tuple[tuple[tuple[int, str, int, str], ...], ...]
    # The triples without a blank node, their predicate written " <p> ", and those with one.
    ground: tuple[tuple[int, str, int], ...]
    linked: tuple[tuple[int, str, int], ...]

    @classmethod
    def of(
        cls, triples: list[tuple[Term, str, Term]], blank_nodes: int, slots: list[str]
    ) -> CompiledSkeleton:
        """Number the distinct terms of ``triples`` (compiled terms)."""
        fixed: dict[str, int] = {}
        slot_terms: dict[tuple[int, str | None], int] = {}
        for subject, _, object_ in triples:
            for term in (subject, object_):
                if term[0] == _FIXED:
                    fixed.setdefault(term[1], len(fixed))
                elif term[0] == _SLOT:
                    slot_terms.setdefault((term[1], term[2]), len(slot_terms))

        def ref(term: Term) -> int:
            if term[0] == _BLANK:
                return ~int(term[1])
            if term[0] == _FIXED:
                return fixed[term[1]]
            return len(fixed) + slot_terms[(term[1], term[2])]

        numbered = tuple(
            (ref(subject), predicate, ref(object_)) for subject, predicate, object_ in triples
        )
        linked = tuple(triple for triple in numbered if triple[0] < 0 or triple[2] < 0)
        texts = list(fixed)
        return cls(
            numbered,
            tuple(fixed),
            tuple(slot_terms),
            blank_nodes,
            tuple(slots),
            tuple(_first_degree_lines(linked, ~node, texts) for node in range(blank_nodes)),
            tuple(
                (subject, f" {predicate} ", object_)
                for subject, predicate, object_ in numbered
                if subject >= 0 and object_ >= 0
            ),
            linked,
        )


class _SkeletonCache:
    """Compiled skeletons by skeleton, LRU-bounded; ``None`` marks a refused skeleton."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._entries: OrderedDict[Skeleton, CompiledSkeleton | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Skeleton) -> tuple[bool, CompiledSkeleton | None]:
        with self._lock:
            if key not in self._entries:
                return False, None
            self._entries.move_to_end(key)
            return True, self._entries[key]

    def put(self, key: Skeleton, compiled: CompiledSkeleton | None) -> None:
        with self._lock:
            self._entries[key] = compiled
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)


_skeletons = _SkeletonCache(SKELETON_CACHE_SIZE)


class _StringMemo:
    """What the fast path has worked out about a string, for strings it sees again: the
    texts of a template come back in every award. Cleared whole once it holds
    ``STRING_MEMO_CHARACTERS`` characters, so that per-award strings cannot grow it; the
    dict's own operations are atomic, and a lost entry is only worked out again."""

    def __init__(self, characters: int) -> None:
        self._characters = characters
        self._held = 0
        self.entries: dict[str, Any] = {}

    def put(self, key: str, value: Any) -> None:
        self._held += len(key)
        if self._held > self._characters:
            self.entries.clear()
            self._held = len(key)
        self.entries[key] = value


# The leaf form of a string (its slot tag), and a literal's N-Quads text without its
# quotes and suffix (None: it holds a control character the reference path refuses).
_forms = _StringMemo(STRING_MEMO_CHARACTERS)
_literals = _StringMemo(STRING_MEMO_CHARACTERS)


def canonicalize(document: dict[str, Any], *, hash_algorithm: str = "sha256") -> str:
    """RDFC-1.0 N-Quads of ``document``: what ``data_integrity.canonicalize`` gives with
    ``pyld_rdfc``, the same N-Quads or the same refusal.

    A document that fits a compiled skeleton needs only its values checked here: the
    skeleton (every key, every value kept in it, the counts of objects and list values)
    passed ``data_integrity.refuse_unfit_input`` when it was compiled, and an IRI value
    takes a slot only in a form that passes the IRI checks; so only a literal value can
    still hold a refused control character. Every other document, and one whose values
    do not pass, goes through ``data_integrity.canonicalize`` itself, errors and all.

    Raises:
        CanonicalizationError: as ``data_integrity.canonicalize``.
    """
    split = split_document(document)
    if split is not None:
        skeleton, values = split
        compiled = compiled_skeleton(skeleton)
        if compiled is not None:
            nquads = canonical_nquads(compiled, values, hash_algorithm)
            if nquads is not None:
                return nquads
    engine = data_integrity.pyld_rdfc if hash_algorithm == "sha256" else _pyld_with(hash_algorithm)
    return data_integrity.canonicalize(document, engine=engine)


def canonicalize_sha384(document: dict[str, Any]) -> str:
    """``canonicalize`` with SHA-384 as RDFC-1.0's hash. Raises as ``canonicalize``."""
    return canonicalize(document, hash_algorithm="sha384")


def _pyld_with(hash_algorithm: str) -> data_integrity.RdfcEngine:
    return functools.partial(data_integrity.pyld_rdfc, hash_algorithm=hash_algorithm)


def split_document(document: dict[str, Any]) -> tuple[Skeleton, list[str]] | None:
    """The document's skeleton and its replaceable values in document order, or None when
    the fast path does not take the document: not plain JSON (a key that is not a string,
    a number that is not finite, a value of another type), or a ``@context`` other than
    pinned URLs at the top only (such documents go the reference way)."""
    if not isinstance(document, dict):
        return None
    context = document.get("@context")
    contexts = context if isinstance(context, list) else [context]
    if not all(isinstance(url, str) and url in ALLOWED_CONTEXTS for url in contexts):
        return None
    terms = pinned_terms()
    fixed, iri_valued = terms.fixed, terms.iri_valued
    forms = _forms.entries
    values: list[str] = []

    def skeleton_of(node: Any, key: str) -> Skeleton:
        # Exact types first (the walk is most of the fast path's cost); a subclass of str,
        # dict or list is kept whole, as any value the walk does not take apart.
        kind = type(node)
        if kind is str:
            form = forms.get(node) or _form_of(node)
            if form is _LITERAL_SLOT and key in iri_valued:
                # Another kind of IRI (a did:, a compact IRI): kept as it is.
                return node
            values.append(node)
            return form
        if kind is dict:
            if "@context" in node:
                raise _NotHandled
            children: list[Any] = [_OBJECT]
            for child_key, child in node.items():
                if type(child_key) is not str:
                    raise _NotHandled
                if child_key in fixed:
                    children.append((child_key, _plain_skeleton(child)))
                else:
                    children.append((child_key, skeleton_of(child, child_key)))
            return tuple(children)
        if kind is list:
            return (_ARRAY, *[skeleton_of(child, key) for child in node])
        return _plain_skeleton(node)

    try:
        body = skeleton_of({k: v for k, v in document.items() if k != "@context"}, "")
    except (_NotHandled, RecursionError):
        return None
    return (_OBJECT, ("@context", _plain_skeleton(context)), *body[1:]), values


def _form_of(text: str) -> _Tag:
    """The slot tag of a string's leaf form (remembered in ``_forms``)."""
    found = _IRI_FORMS.fullmatch(text)
    if found is None:
        form = _LITERAL_SLOT
    else:
        form = _HTTP_IRI_SLOT if found.lastindex == 1 else _UUID_URN_SLOT
    _forms.put(text, form)
    return form


def _plain_skeleton(value: Any) -> Skeleton:
    """The skeleton of a value kept whole. Raises _NotHandled unless it is plain JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise _NotHandled
        return (_NUMBER, json.dumps(value))
    if isinstance(value, list):
        return (_ARRAY, *(_plain_skeleton(child) for child in value))
    if isinstance(value, dict):
        if not all(type(key) is str for key in value):
            raise _NotHandled
        return (_OBJECT, *((key, _plain_skeleton(child)) for key, child in value.items()))
    raise _NotHandled


@dataclass(frozen=True)
class PinnedTerms:
    """What the pinned contexts say about keys: whose string values are never replaced
    (keywords, their aliases other than ``@id``'s, ``@vocab``- and ``@json``-typed terms),
    and whose are IRIs (``id``, ``@id`` and its aliases, ``@id``-typed terms)."""

    fixed: frozenset[str]
    iri_valued: frozenset[str]


@functools.cache
def pinned_terms() -> PinnedTerms:
    """Read every pinned context once (``PinnedTerms``).

    Raises:
        CanonicalizationError: as ``contexts.load_context``.
    """
    fixed: set[str] = set()
    # "id" and "@id" whatever the contexts say: refuse_unfit_input checks their values as IRIs.
    iri_valued = set(data_integrity.ID_KEYS)
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


def compiled_skeleton(skeleton: Skeleton) -> CompiledSkeleton | None:
    """The compiled form of ``skeleton``, from the cache or compiled now (None: refused)."""
    found, compiled = _skeletons.get(skeleton)
    if found:
        return compiled
    compiled = compile_skeleton(skeleton)
    _skeletons.put(skeleton, compiled)
    return compiled


def compile_skeleton(skeleton: Skeleton) -> CompiledSkeleton | None:
    """Run the reference path once on the skeleton filled with sentinels and read where
    each sentinel came out; None if pyld refuses it or any check of the module docstring
    fails."""
    nonce = secrets.token_hex(16)
    slots: list[str] = []

    def fill(node: Skeleton) -> Any:
        if isinstance(node, _Tag):
            slots.append(node.name)
            return sentinel(nonce, len(slots) - 1, node.name)
        if not isinstance(node, tuple):
            return node
        kind, *children = node
        if kind is _OBJECT:
            return {key: fill(child) for key, child in children}
        if kind is _ARRAY:
            return [fill(child) for child in children]
        return json.loads(children[0])

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
    return CompiledSkeleton.of(triples, len(blank_nodes), slots)


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


def _literal_of(value: str) -> str | None:
    """``escape_literal(value)``, or None if ``value`` holds a refused control character
    (remembered in ``_literals``)."""
    refused = data_integrity.CONTROL_CHARACTER_IN_VALUE.search(value) is not None
    literal = None if refused else escape_literal(value)
    _literals.put(value, literal)
    return literal


def escape_literal(value: str) -> str:
    """A literal's characters as pyld's ``serialize_nquad`` writes them."""
    if _ESCAPED.search(value) is None:
        return value
    return (
        value.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace('"', '\\"')
    )


def canonical_nquads(
    compiled: CompiledSkeleton, values: list[str], hash_algorithm: str
) -> str | None:
    """RDFC-1.0 N-Quads of the compiled skeleton filled with ``values``, or None when a
    literal value holds a control character ``data_integrity.refuse_unfit_input`` refuses
    (every literal slot is written as a literal, and an IRI slot's form holds none).

    Raises:
        CanonicalizationError: as ``data_integrity.canonicalize_dataset`` when blank nodes
            share a first-degree hash and pyld's URDNA2015 runs.
    """
    if len(values) != len(compiled.slots):
        raise CanonicalizationError(
            "canonicalization_failed", "The document does not fit its compiled skeleton."
        )
    texts = list(compiled.fixed)
    literals = _literals.entries
    for slot, suffix in compiled.slot_terms:
        value = values[slot]
        if suffix is None:
            texts.append(f"<{value}>")
            continue
        literal = literals.get(value, False)
        if literal is False:
            literal = _literal_of(value)
        if literal is None:
            return None
        texts.append(f'"{literal}{suffix}')
    # Sets, as pyld's dataset is: equal values in two places make equal statements.
    ground = dict.fromkeys(
        [
            texts[subject] + predicate + texts[object_] + " .\n"
            for subject, predicate, object_ in compiled.ground
        ]
    )
    statements: list[Triple] = [
        (
            texts[subject] if subject >= 0 else subject,
            predicate,
            texts[object_] if object_ >= 0 else object_,
        )
        for subject, predicate, object_ in compiled.linked
    ]
    linked = dict.fromkeys(statements)
    kept: set[int] | None = None
    if len(linked) != len(statements):  # two triples came out as one statement: count it once
        first: dict[Triple, int] = {}
        for index, statement in enumerate(statements):
            first.setdefault(statement, index)
        kept = set(first.values())
    first_degree = [
        [
            prefix + texts[term] + suffix if term >= 0 else prefix
            for triple, prefix, term, suffix in lines
            if kept is None or triple in kept
        ]
        for lines in compiled.first_degree
    ]
    hash_function = _HASH_FUNCTIONS.get(hash_algorithm) or functools.partial(
        hashlib.new, hash_algorithm
    )
    by_hash: dict[str, int] = {}
    for index, node_lines in enumerate(first_degree):
        node_lines.sort()
        digest = hash_function("".join(node_lines).encode("utf-8")).hexdigest()
        if digest in by_hash:
            return data_integrity.canonicalize_dataset(
                _pyld_dataset(compiled, texts), hash_algorithm=hash_algorithm
            )
        by_hash[digest] = ~index
    labels = {
        node: f"{CANONICAL_PREFIX}{position}"
        for position, (_, node) in enumerate(sorted(by_hash.items()))
    }
    lines = list(ground)
    lines.extend(
        f"{labels[head] if type(head) is int else head} {predicate} "
        f"{labels[tail] if type(tail) is int else tail} .\n"
        for head, predicate, tail in linked
    )
    lines.sort()
    return "".join(lines)


def _first_degree_lines(
    triples: tuple[tuple[int, str, int], ...], node: int, fixed: list[str]
) -> tuple[tuple[int, str, int, str], ...]:
    """The Hash First Degree Quads lines of blank node ``node`` (``~n``) as templates:
    every part known when compiling is written out; only a slot's text is left as its
    term number."""

    def known(term: int) -> str | None:
        if term < 0:
            return "_:a" if term == node else "_:z"
        return fixed[term] if term < len(fixed) else None

    lines = []
    for index, (subject, predicate, object_) in enumerate(triples):
        if node not in (subject, object_):
            continue
        head, tail = known(subject), known(object_)
        if head is None:  # the subject is a slot, so the object is this node
            lines.append((index, "", subject, f" {predicate} {tail} .\n"))
        elif tail is None:
            lines.append((index, f"{head} {predicate} ", object_, " .\n"))
        else:
            lines.append((index, f"{head} {predicate} {tail} .\n", -1, ""))
    return tuple(lines)


def _pyld_dataset(compiled: CompiledSkeleton, texts: list[str]) -> dict[str, Any]:
    """The filled triples, as a set, in pyld's dataset shape, for pyld's URDNA2015."""
    triples = dict.fromkeys(
        (
            texts[subject] if subject >= 0 else subject,
            predicate,
            texts[object_] if object_ >= 0 else object_,
        )
        for subject, predicate, object_ in compiled.triples
    )
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
        return {"type": "blank node", "value": f"_:b{~text}"}
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
