"""The public verifier cannot be tied up: a rate limit per client address, and a work
budget per request (issue: two parallel 1 MB batches of heavy credentials held it 24 s)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer import create_app
from issuer.proofs.data_integrity import MAX_OBJECTS
from issuer.verification.budget import count_objects
from issuer.web.rate_limit import RateLimiter


@pytest.fixture
def limited_app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app({**app_config, "VERIFY_RATE_PER_MINUTE": "3"})
    app.extensions["issuer"].db.migrate()
    yield app
    app.extensions["issuer"].db.dispose()


def test_anonymous_verification_is_rate_limited_per_address(
    limited_app: Flask, assessor_token: str
) -> None:
    client = limited_app.test_client()
    here = {"REMOTE_ADDR": "192.0.2.1"}
    for _ in range(3):
        response = client.post("/api/v1/verify", json={"a": 1}, environ_base=here)
        assert response.status_code == 200
    refused = client.post("/api/v1/verify", json={"a": 1}, environ_base=here)
    assert refused.status_code == 429
    assert refused.json["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 20
    page = client.post(
        "/verify", data={"credential": "{}"}, environ_base=here, headers={"Accept": "text/html"}
    )
    assert page.status_code == 429 and page.mimetype == "text/html"
    assert "Retry-After" in page.headers
    # Another address is not held up by this one; an assessor's token is not limited.
    other = client.post("/api/v1/verify", json={"a": 1}, environ_base={"REMOTE_ADDR": "192.0.2.2"})
    assert other.status_code == 200
    token = (
        limited_app.extensions["issuer"]
        .assessors.add("a@example.org", name="A", levels=[], all_levels=True, is_admin=False)
        .token
    )
    with_token = client.post(
        "/api/v1/verify",
        json={"a": 1},
        environ_base=here,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert with_token.status_code == 200
    forged = client.post(
        "/api/v1/verify", json={"a": 1}, environ_base=here, headers={"Authorization": "Bearer x"}
    )
    assert forged.status_code == 401


def test_the_bucket_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    for _ in range(60):
        limiter.take("a")
    with pytest.raises(Exception, match="rate_limited"):
        limiter.take("a")
    now[0] += 1.0
    limiter.take("a")  # one a second comes back


def test_the_limiter_forgets_the_least_recent_clients_first() -> None:
    limiter = RateLimiter(1, max_clients=2, clock=lambda: 0.0)
    limiter.take("a")
    limiter.take("b")
    limiter.take("c")  # "a" is forgotten: it may come again
    limiter.take("a")
    with pytest.raises(Exception, match="rate_limited"):
        limiter.take("c")


def heavy(credential: dict[str, Any], objects: int) -> dict[str, Any]:
    """``credential`` with evidence up to ``objects`` JSON objects in all (legal, heavy)."""
    document = copy.deepcopy(credential)
    base = count_objects(document) - count_objects(document.get("evidence", []))
    document["evidence"] = [
        {"id": f"https://example.org/e/{n}", "type": ["Evidence"]} for n in range(objects - base)
    ]
    return document


def test_a_batch_past_the_work_budget_is_refused_for_the_rest(
    app_config: dict[str, Any], issued: dict[str, Any], client: FlaskClient
) -> None:
    """Budget 5,000 objects: two heavy credentials fit, the third is not checked."""
    big = heavy(issued["credential"], MAX_OBJECTS)
    assert count_objects(big) == MAX_OBJECTS
    reports = client.post("/api/v1/verify", json=[big, big, big, issued["credential"]]).json
    codes = [next(c["code"] for c in r["checks"] if c["check"] == "proof") for r in reports]
    assert codes[:2] != ["verification_budget_exceeded"] * 2
    assert codes[2] == "verification_budget_exceeded"
    assert reports[2]["verified"] is False
    # A small one still fits after the refused heavy one.
    assert reports[3]["verified"] is True
    # The budget is per request: the next request starts afresh.
    alone = client.post("/api/v1/verify", json=issued["credential"]).json
    assert alone["verified"] is True


def test_the_work_budget_is_configuration(
    app_config: dict[str, Any], issued: dict[str, Any]
) -> None:
    app = create_app({**app_config, "VERIFY_BUDGET_OBJECTS": "10"})
    body = app.test_client().post("/api/v1/verify", json=issued["credential"]).json
    assert body["verified"] is False
    assert body["checks"][1]["code"] == "verification_budget_exceeded"
    app.extensions["issuer"].db.dispose()
