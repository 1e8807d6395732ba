"""What the verifier remembers never changes an answer: the same credential verified again
gets the same report, and any change to it is checked in full.

The proof of our own Data Integrity credentials and every credential's schema verdict are
remembered by the credential's digest (issuer.verification.proof, .checks); status and
dates are checked live each time.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

pytestmark = pytest.mark.storage


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
