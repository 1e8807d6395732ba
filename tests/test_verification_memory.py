"""What the verifier remembers never changes an answer: the same credential verified again
gets the same report, and any change to it is checked in full.

The proof of our own Data Integrity credentials and every credential's schema verdict are
remembered by the credential's digest (issuer.verification.proof, .checks); status and
dates are checked live each time.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.errors import InvalidInput, PayloadTooLarge
from issuer.verification.checks import VerificationContext
from issuer.verification.reading import PresentedCredential, read_json

pytestmark = pytest.mark.storage
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def verify(client: FlaskClient, credential: Any) -> dict[str, Any]:
    response = client.post("/api/v1/verify", json=credential)
    assert response.status_code == 200, response.get_json()
    report: dict[str, Any] = response.get_json()
    return report


def codes(report: dict[str, Any]) -> dict[str, str]:
    return {check["check"]: check["code"] for check in report["checks"]}


def test_a_credential_verified_again_gets_the_same_report(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    first = verify(client, issued["credential"])
    assert first["verified"]
    for _ in range(3):
        assert verify(client, issued["credential"]) == first


def test_a_changed_copy_of_a_remembered_credential_is_checked_in_full(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    assert verify(client, issued["credential"])["verified"]
    renamed = copy.deepcopy(issued["credential"])
    renamed["credentialSubject"]["name"] = "Someone Else"
    report = verify(client, renamed)
    assert not report["verified"]
    assert codes(report)["proof"] == "signature_invalid"
    # A value that differs only in a number's type is another credential too.
    retyped = copy.deepcopy(issued["credential"])
    retyped["credentialStatus"]["statusListIndex"] = int(
        retyped["credentialStatus"]["statusListIndex"]
    )
    assert codes(verify(client, retyped))["proof"] == "signature_invalid"
    assert verify(client, issued["credential"])["verified"]


def test_a_schema_failure_is_reported_alike_every_time(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    broken = copy.deepcopy(issued["credential"])
    broken["credentialSubject"]["achievement"]["criteria"] = "not an object"
    reports = [verify(client, broken) for _ in range(3)]
    assert codes(reports[0])["schema"] == "schema_invalid"
    assert reports[1] == reports[0] == reports[2]


def test_a_remembered_credential_revoked_or_expired_says_so_at_once(
    app: Flask, client: FlaskClient, issued: dict[str, Any]
) -> None:
    assert verify(client, issued["credential"])["verified"]
    app.extensions["issuer"].revocation.revoke(issued["id"], "Awarded in error", by=None)
    report = verify(client, issued["credential"])
    assert not report["verified"]
    assert codes(report)["status"] == "revoked"
    assert codes(report)["proof"] == "ok"


def test_a_reordered_copy_is_checked_in_full_and_verifies(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    first = verify(client, issued["credential"])
    reordered = dict(reversed(list(copy.deepcopy(issued["credential"]).items())))
    assert verify(client, reordered) == first


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (True, 1),
        (1, 1.0),
        (1, "1"),
        (0.0, -0.0),
        ("a", ["a"]),
        ({"1": "a"}, {1: "a"}),
        (None, "null"),
        ("é", "e\u0301"),
    ],
)
def test_the_content_digest_tells_apart_what_json_tells_apart(one: Any, other: Any) -> None:
    def digest(value: Any) -> str:
        credential = {"@context": ["x"], "credentialSubject": {"value": value}}
        return VerificationContext(
            PresentedCredential("json", credential), now=NOW
        ).content_digest()

    assert digest(one) != digest(other)
    assert digest(one) == digest(copy.deepcopy(one))


BODY = b'{"a": [1, 2.5, true, null, "\\u00e9"], "b": {"c": "d"}}'


def test_json_read_again_is_the_same_value_and_the_callers_own() -> None:
    first = read_json(BODY, max_bytes=1024, max_depth=8)
    assert first == {"a": [1, 2.5, True, None, "é"], "b": {"c": "d"}}
    first["a"].append("changed")
    first["b"]["c"] = "changed"
    second = read_json(BODY, max_bytes=1024, max_depth=8)
    assert second == {"a": [1, 2.5, True, None, "é"], "b": {"c": "d"}}
    assert type(second["a"][0]) is int
    assert type(second["a"][2]) is bool


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"a": 1, "a": 2}', "json_duplicate_key"),
        (b'{"a": NaN}', "json_constant_not_allowed"),
        (b'{"a": "\\ud800"}', "json_lone_surrogate"),
        (b'{"a": 1e400}', "json_number_too_large"),
        (b'{"a": [[[[[[[[[1]]]]]]]]]}', "json_too_deep"),
        (b"[1, 2]", "json_not_object"),
        (b'{"a": 1', "json_malformed"),
    ],
)
def test_json_refused_once_is_refused_every_time(body: bytes, code: str) -> None:
    for _ in range(3):
        with pytest.raises(InvalidInput) as raised:
            read_json(body, max_bytes=1024, max_depth=8)
        assert raised.value.code == code


def test_json_read_under_looser_limits_is_still_held_to_tighter_ones() -> None:
    read_json(BODY, max_bytes=1024, max_depth=8)
    with pytest.raises(InvalidInput) as raised:
        read_json(BODY, max_bytes=1024, max_depth=1)
    assert raised.value.code == "json_too_deep"
    with pytest.raises(PayloadTooLarge):
        read_json(BODY, max_bytes=16, max_depth=8)
    with pytest.raises(InvalidInput) as raised:
        read_json(b"[1]", max_bytes=1024, max_depth=8)
    assert raised.value.code == "json_not_object"
    assert read_json(b"[1]", max_bytes=1024, max_depth=8, require_object=False) == [1]


def test_a_changed_body_of_a_remembered_credential_fails_over_http(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    body = json.dumps(issued["credential"]).encode()
    for _ in range(2):
        response = client.post(
            "/api/v1/verify", data=body, headers={"Content-Type": "application/json"}
        )
        assert response.get_json()["verified"]
    # One letter of the credential's name changed.
    at = body.index(b'"name": "') + len(b'"name": "')
    tampered = body[:at] + bytes([body[at] ^ 0x20]) + body[at + 1 :]
    response = client.post(
        "/api/v1/verify", data=tampered, headers={"Content-Type": "application/json"}
    )
    assert codes(response.get_json())["proof"] == "signature_invalid"
    duplicated = body[:-1] + b', "id": "urn:uuid:another"}'
    response = client.post(
        "/api/v1/verify", data=duplicated, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "json_duplicate_key"
