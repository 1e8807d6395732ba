"""Our JSON Schema checks give the verdicts JSON Schema specifies, as Ajv gives them.

``issuer.schemas.check`` takes its verdict from jsonschema-rs and names errors with
python-jsonschema. Ajv (JavaScript, ``tests/node/schemas.mjs``) is the oracle: its patterns
are JavaScript regular expressions, the ECMA-262 reading that JSON Schema names. Each test
sends a corpus of documents, the valid ones we make and mutations of them, to one node process
and requires that ``check`` refuses exactly those Ajv finds invalid.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

import pytest
from test_node_oracle import node, run_node

from issuer import schemas
from issuer.errors import InvalidInput

__all__ = ["node"]

ACHIEVEMENT = "computer-user-support-specialists/proficient"
MUTATIONS_PER_DOCUMENT = 400

# Where Python's re and ECMA-262 read a pattern apart, and lengths and types at the edges.
TRICKY_VALUES: list[Any] = [
    "",
    "a",
    "a\n",
    "\na",
    "a\r\n",
    "a\tb",
    "a\x1cb",
    "a\x85b",
    "a\u2028b",
    "a\ufeffb",
    "a\x7f",
    "\u0663\u0660\u0662\u0660-01-31T00:00:00Z",
    "2030-01-31T00:00:00Z",
    "2030-01-31T00:00:00Z\n",
    "2030-01-31T00:00:00+01:00",
    "https://example.org/e/1",
    "https://example.org/e/1\n",
    "https://exa mple.org/",
    "http://badges.example.test/status/1#42",
    "http://badges.example.test/status/1#042",
    "urn:uuid:8f1c6b1e-3b7a-4c5e-9a57-7f3e2d1c0b9a",
    "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    "en",
    "en-GB\n",
    "computer-user-support-specialists/proficient\n",
    "x" * 201,
    "x" * 255,
    "\U0001f600" * 200,
    "\U0001f600" * 201,
    0,
    -1,
    999,
    1000,
    1.0,
    1.5,
    10**20,
    True,
    None,
    [],
    {},
    [1, 1],
]


def paths(document: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in ``document``, the root excepted."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield (*at, key)
            yield from paths(value, (*at, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield (*at, index)
            yield from paths(value, (*at, index))


def mutated(document: Any, rng: random.Random) -> Any:
    """``document`` with one place replaced, removed, or given an unknown member."""
    changed = copy.deepcopy(document)
    path = rng.choice(list(paths(changed)))
    parent = changed
    for part in path[:-1]:
        parent = parent[part]
    choice = rng.random()
    if choice < 0.75:
        parent[path[-1]] = rng.choice(TRICKY_VALUES)
    elif choice < 0.9:
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent["unexpected"] = "x"
    return changed


def corpus(name: str, valid: list[Any], seed: int) -> list[tuple[str, Any]]:
    rng = random.Random(seed)
    cases = [(name, document) for document in valid]
    for document in valid:
        cases += [(name, mutated(document, rng)) for _ in range(MUTATIONS_PER_DOCUMENT)]
    return cases


def ajv_verdicts(node: str, cases: list[tuple[str, Any]]) -> list[bool]:
    names = sorted({name for name, _ in cases})
    job = {"schemas": {name: schemas.schema(name) for name in names}, "cases": cases}
    verdicts: list[bool] = run_node(node, "schemas.mjs", job)["valid"]
    return verdicts


def our_verdict(name: str, document: Any) -> bool:
    try:
        schemas.check(name, document, error=InvalidInput, code="invalid")
    except InvalidInput as error:
        assert error.details["path"].startswith("$")
        return False
    return True


def assert_agrees_with_ajv(node: str, cases: list[tuple[str, Any]]) -> None:
    expected = ajv_verdicts(node, cases)
    disagreements = [
        (name, document, want)
        for (name, document), want in zip(cases, expected, strict=True)
        if our_verdict(name, document) != want
    ]
    assert not disagreements, disagreements[:5]
    # The corpus holds both kinds, and documents that python-jsonschema alone would pass.
    assert True in expected and expected.count(False) > len(cases) // 4
    assert any(
        not want and not list(schemas.validator(name).iter_errors(document))
        for (name, document), want in zip(cases, expected, strict=True)
    )


def award_requests() -> list[dict[str, Any]]:
    return [
        {"achievement": ACHIEVEMENT, "recipient": {"email": "a@example.org"}},
        {
            "achievement": ACHIEVEMENT,
            "recipient": {"email": "grace@example.org", "name": "Grace Hopper"},
            "statements": [0, 2, 3],
            "evidence": [
                {"narrative": "Resolved 40 tickets\nin one week.", "url": "https://example.org/e"},
                {"name": "Log", "narrative": "Kept the log."},
            ],
            "validUntil": "2031-01-31T00:00:00Z",
        },
    ]


def test_award_requests_get_ajvs_verdict(node: str) -> None:
    assert_agrees_with_ajv(node, corpus("award-request", award_requests(), seed=1))


def test_credentials_get_ajvs_verdict_under_our_schema_and_the_official_one(
    node: str, issued: dict[str, Any]
) -> None:
    credential = {name: value for name, value in issued["credential"].items() if name != "proof"}
    cases = corpus("open-badge-credential", [credential], seed=2)
    cases += corpus("ob3-achievement-credential", [issued["credential"]], seed=3)

    assert_agrees_with_ajv(node, cases)


def test_a_trailing_newline_is_refused_where_a_pattern_ends_in_dollar() -> None:
    request = award_requests()[1]
    request["evidence"][1]["name"] = "Log\n"

    with pytest.raises(InvalidInput) as refused:
        schemas.check("award-request", request, error=InvalidInput, code="request_invalid")

    assert refused.value.details == {"path": "$.evidence[1].name"}
    # python-jsonschema alone finds nothing wrong: jsonschema-rs's error is the one named.
    assert not list(schemas.validator("award-request").iter_errors(request))


def test_a_string_the_rust_validator_cannot_take_is_judged_by_python_jsonschema() -> None:
    request = award_requests()[0]
    request["recipient"]["name"] = "\ud800"
    schemas.check("award-request", request, error=InvalidInput, code="request_invalid")

    request["recipient"]["email"] = 5
    with pytest.raises(InvalidInput) as refused:
        schemas.check("award-request", request, error=InvalidInput, code="request_invalid")
    assert refused.value.details == {"path": "$.recipient.email"}
