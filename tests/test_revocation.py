"""Revocation: allocation of status entries, revoking (one, many, concurrently), the
published status list credential, and what verifiers we did not write make of it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openbadgeslib.ob3.credential import OpenBadgeCredential
from openbadgeslib.ob3.ldp import OB3LdpVerifier
from openbadgeslib.ob3.status import check_credential_status
from openbadgeslib.ob3.verifier import OB3VerificationError
from oracles import official_schema_errors
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import config as issuer_config
from issuer import create_app, status_list
from issuer.errors import ConfigurationError, Conflict
from issuer.proofs import data_integrity, vc_jwt
from issuer.revocation import LIST_VALIDITY, StatusAllocator
from issuer.services import Services
from issuer.storage.models import IssuedCredential, Revocation, StatusEntry, StatusList

pytestmark = pytest.mark.storage

ACHIEVEMENT = "computer-user-support-specialists/proficient"
OTHER_ACHIEVEMENT = "computer-user-support-specialists/advanced"


def _services(app: Flask) -> Services:
    services: Services = app.extensions["issuer"]
    return services


def _award(client: FlaskClient, token: str, number: int = 0, **changes: Any) -> dict[str, Any]:
    body = {
        "achievement": ACHIEVEMENT,
        "recipient": {"email": f"earner{number}@example.org", "name": f"Earner {number}"},
        **changes,
    }
    response = client.post(
        "/api/v1/awards", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.json
    result: dict[str, Any] = response.json
    return result


def _revoke(client: FlaskClient, token: str, credential_id: str, body: Any) -> Any:
    return client.post(
        f"/api/v1/credentials/{credential_id}/revoke",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def _entry(credential: dict[str, Any]) -> tuple[str, int]:
    status = credential["credentialStatus"]
    return urlsplit(status["statusListCredential"]).path, int(status["statusListIndex"])


def _bits(client: FlaskClient, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200
    return status_list.decode(response.json["credentialSubject"]["encodedList"])


def _list_row(app: Flask, list_id: int) -> StatusList:
    with _services(app).db.read() as session:
        row = session.get(StatusList, list_id)
    assert row is not None
    return row


def _store_credentials(app: Flask, count: int, assessor_id: int) -> list[str]:
    """``count`` stored credentials with status entries, without signing each (fast)."""
    services = _services(app)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    now = datetime.now(UTC)
    with services.db.write() as session:
        for credential_id in ids:
            services.revocation.allocator.allocate(session, credential_id)
            session.add(
                IssuedCredential(
                    id=credential_id,
                    achievement=ACHIEVEMENT,
                    assessor_id=assessor_id,
                    recipient_email="bulk@example.org",
                    recipient_name="",
                    issued_at=now,
                    valid_until=None,
                    credential_json="{}",
                    jwt="",
                    data_integrity_kid="",
                    jwt_kid="",
                )
            )
    return ids


def _assessor_id(app: Flask, email: str = "assessor@example.org") -> int:
    return _services(app).assessors.by_email(email).id


@pytest.fixture
def small_app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """An app whose status lists hold 16 entries (allowed only because TESTING is on)."""
    app = create_app({**app_config, "STATUS_LIST_SIZE": 16})
    _services(app).db.migrate()
    yield app
    _services(app).db.dispose()


@pytest.fixture
def admin_token(app: Flask) -> str:
    created = _services(app).assessors.add(
        "admin@example.org", name="Ann Admin", levels=[], all_levels=False, is_admin=True
    )
    return created.token


@pytest.fixture
def advanced_only_token(app: Flask) -> str:
    created = _services(app).assessors.add(
        "advanced@example.org",
        name="Al Advanced",
        levels=[OTHER_ACHIEVEMENT],
        all_levels=False,
        is_admin=False,
    )
    return created.token


def test_every_credential_carries_one_status_entry(
    client: FlaskClient, assessor_token: str
) -> None:
    body = _award(client, assessor_token)
    credential = body["credential"]
    status = credential["credentialStatus"]
    assert isinstance(status, dict)
    assert status["type"] == "BitstringStatusListEntry"
    assert status["statusPurpose"] == "revocation"
    assert status["statusListCredential"] == "https://badges.example.test/status/1"
    assert isinstance(status["statusListIndex"], str)
    assert status["id"] == f"{status['statusListCredential']}#{status['statusListIndex']}"
    assert official_schema_errors(credential) == []
    # The entry is inside what was signed.
    keyring = _services(client.application).keyring()
    data_integrity.verify_proof(credential, keyring.signing_key("EdDSA").public_key)
    assert vc_jwt.verify_vc_jwt(body["jwt"], keyring.find)["credentialStatus"] == status


def test_the_production_list_size_is_the_spec_minimum(app: Flask) -> None:
    assert issuer_config.DEFAULTS["STATUS_LIST_SIZE"] == 131_072
    assert _services(app).revocation.allocator.list_size == 131_072


@pytest.mark.parametrize(
    ("size", "testing", "allowed"),
    [
        (131_072, False, True),
        (262_144, False, True),
        (65_536, False, False),
        (131_076, False, False),
        (8, True, True),
        (4, True, False),
        (12, True, False),
    ],
)
def test_list_size_setting(size: int, testing: bool, allowed: bool) -> None:
    config = {
        **issuer_config.DEFAULTS,
        "BASE_URL": "https://badges.example.test",
        "SECRET_KEY": "s",
        "KEY_PASSPHRASE": "p",
        "STATUS_LIST_SIZE": str(size),
        "TESTING": testing,
    }
    if allowed:
        issuer_config.validate(config)
        assert config["STATUS_LIST_SIZE"] == size
    else:
        with pytest.raises(ConfigurationError) as caught:
            issuer_config.validate(config)
        assert caught.value.code == "config_status_list_size"


def test_indexes_are_random_never_reused_and_a_full_list_opens_another(
    small_app: Flask,
) -> None:
    client = small_app.test_client()
    token = (
        _services(small_app)
        .assessors.add("assessor@example.org", name="A", levels=[], all_levels=True, is_admin=False)
        .token
    )
    entries = [_entry(_award(client, token, number)["credential"]) for number in range(17)]

    first_list = [index for path, index in entries if path == "/status/1"]
    assert sorted(first_list) == list(range(16))
    assert first_list != sorted(first_list), "indexes were handed out in sequence"
    assert entries[16][0] == "/status/2"
    assert _list_row(small_app, 1).full
    assert not _list_row(small_app, 2).full


def test_a_nearly_full_list_draws_among_the_free_indexes(app: Flask, assessor_token: str) -> None:
    # A generator that always proposes index 0 forces the fallback to the free indexes.
    services = _services(app)
    allocator = StatusAllocator("https://badges.example.test", 16, random_below=lambda n: 0)
    with services.db.write() as session:
        session.add(
            StatusList(
                purpose="revocation",
                size=16,
                bits=bytes(2),
                version=1,
                full=False,
                created_at=datetime.now(UTC),
                id=1000,
            )
        )
    drawn = []
    for _ in range(16):
        credential_id = str(uuid.uuid4())
        with services.db.write() as session:
            for row in session.execute(select(StatusList).where(StatusList.id != 1000)).scalars():
                row.full = True
            entry = allocator.allocate(session, credential_id)
            session.add(
                IssuedCredential(
                    id=credential_id,
                    achievement=ACHIEVEMENT,
                    assessor_id=_assessor_id(app),
                    recipient_email="x@example.org",
                    recipient_name="",
                    issued_at=datetime.now(UTC),
                    valid_until=None,
                    credential_json="{}",
                    jwt="",
                    data_integrity_kid="",
                    jwt_kid="",
                )
            )
        assert entry["statusListCredential"].endswith("/status/1000")
        drawn.append(int(entry["statusListIndex"]))
    assert sorted(drawn) == list(range(16))


def test_concurrent_awards_get_distinct_entries(
    app: Flask, live_server: str, assessor_token: str
) -> None:
    def award(number: int) -> tuple[str, str]:
        request = urllib.request.Request(  # noqa: S310 - loopback only
            live_server + "/api/v1/awards",
            data=json.dumps(
                {"achievement": ACHIEVEMENT, "recipient": {"email": f"e{number}@example.org"}}
            ).encode(),
            headers={
                "Authorization": f"Bearer {assessor_token}",
                "Content-Type": "application/json",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            status = json.loads(response.read())["credential"]["credentialStatus"]
        return status["statusListCredential"], status["statusListIndex"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        entries = list(pool.map(award, range(24)))
    assert len(set(entries)) == 24
    with _services(app).db.read() as session:
        stored = session.execute(select(StatusEntry.list_id, StatusEntry.status_index)).all()
    assert len(set(stored)) == 24


def test_revoke_is_seen_at_once_and_only_once(client: FlaskClient, assessor_token: str) -> None:
    credential = _award(client, assessor_token)["credential"]
    credential_id = credential["id"].rsplit("/", 1)[1]
    path, index = _entry(credential)
    revocation = _services(client.application).revocation
    assert revocation.status_of(credential_id) == (False, None, None)
    assert not status_list.get_bit(_bits(client, path), index)
    version = _list_row(client.application, 1).version

    response = _revoke(client, assessor_token, credential_id, {"reason": "  Awarded in error. "})

    assert response.status_code == 200, response.json
    assert response.json["id"] == credential_id
    assert response.json["revoked"] is True
    assert response.json["reason"] == "Awarded in error."
    revoked, revoked_at, reason = revocation.status_of(credential_id)
    assert revoked and revoked_at is not None and reason == "Awarded in error."
    assert status_list.get_bit(_bits(client, path), index)
    assert _list_row(client.application, 1).version == version + 1

    again = _revoke(client, assessor_token, credential_id, {"reason": "again"})
    assert again.status_code == 409
    assert again.json["code"] == "already_revoked"
    assert _list_row(client.application, 1).version == version + 1


def test_the_cli_revokes_as_the_operator(
    client: FlaskClient, assessor_token: str, runner: Any
) -> None:
    credential_id = _award(client, assessor_token)["id"]
    result = runner.invoke(args=["revoke", credential_id, "--reason", "Fraud"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["revoked"] is True
    with _services(client.application).db.read() as session:
        row = session.get(Revocation, credential_id)
    assert row is not None and row.actor == "cli" and row.reason == "Fraud"
    again = runner.invoke(args=["revoke", credential_id, "--reason", "Fraud"])
    assert again.exit_code == 1
    assert "already_revoked" in again.output


@pytest.mark.parametrize(
    ("target", "body", "headers", "status", "code"),
    [
        pytest.param(
            "own", {"reason": "x"}, {"Authorization": ""}, 401, "token_missing", id="no-token"
        ),
        pytest.param(
            "own", {"reason": "x"}, {"Authorization": "Bearer nope"}, 401, None, id="bad-token"
        ),
        pytest.param("unknown", {"reason": "x"}, {}, 404, "credential_not_found", id="unknown"),
        pytest.param(
            "not-a-uuid", {"reason": "x"}, {}, 404, "credential_not_found", id="not-a-uuid"
        ),
        pytest.param("own", {}, {}, 400, "reason_required", id="no-reason"),
        pytest.param("own", {"reason": ""}, {}, 400, "reason_required", id="empty-reason"),
        pytest.param("own", {"reason": "  \n "}, {}, 400, "reason_required", id="blank-reason"),
        pytest.param("own", {"reason": 7}, {}, 400, "reason_required", id="reason-not-text"),
        pytest.param("own", {"reason": "x" * 2001}, {}, 422, "reason_invalid", id="long-reason"),
        pytest.param(
            "own", {"reason": "a\x00b"}, {}, 422, "reason_invalid", id="control-character"
        ),
        pytest.param(
            "own", {"reason": "x", "extra": 1}, {}, 422, "request_invalid", id="extra-member"
        ),
        pytest.param("own", "[1]", {}, 400, "json_not_object", id="not-an-object"),
        pytest.param(
            "own",
            {"reason": "x"},
            {"Content-Type": "text/plain"},
            415,
            "unsupported_media_type",
            id="not-json",
        ),
    ],
)
def test_revoke_refuses(
    client: FlaskClient,
    assessor_token: str,
    target: str,
    body: Any,
    headers: dict[str, str],
    status: int,
    code: str | None,
) -> None:
    credential_id = {
        "own": _award(client, assessor_token)["id"],
        "unknown": str(uuid.uuid4()),
        "not-a-uuid": "not-a-uuid",
    }[target]
    response = client.post(
        f"/api/v1/credentials/{credential_id}/revoke",
        data=body if isinstance(body, str) else json.dumps(body),
        headers={
            "Authorization": f"Bearer {assessor_token}",
            "Content-Type": "application/json",
            **headers,
        },
    )
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    if code is not None:
        assert response.json["code"] == code
    if target == "own":
        assert not _services(client.application).revocation.status_of(credential_id).revoked


def test_a_level_the_caller_may_not_manage_looks_unknown(
    client: FlaskClient, assessor_token: str, advanced_only_token: str, admin_token: str
) -> None:
    credential_id = _award(client, assessor_token)["id"]
    response = _revoke(client, advanced_only_token, credential_id, {"reason": "x"})
    unknown = _revoke(client, advanced_only_token, str(uuid.uuid4()), {"reason": "x"})
    assert response.status_code == unknown.status_code == 404
    assert response.json == unknown.json
    assert _revoke(client, admin_token, credential_id, {"reason": "x"}).status_code == 200


def test_bulk_revocation_is_all_or_nothing(
    client: FlaskClient, assessor_token: str, advanced_only_token: str
) -> None:
    ids = [_award(client, assessor_token, number)["id"] for number in range(3)]
    headers = {"Authorization": f"Bearer {assessor_token}"}
    revocation = _services(client.application).revocation

    refused = client.post(
        "/api/v1/revocations",
        json={"credentials": [*ids, str(uuid.uuid4())], "reason": "Cohort cancelled"},
        headers=headers,
    )
    assert refused.status_code == 404
    assert not any(revocation.status_of(cid).revoked for cid in ids)
    foreign = client.post(
        "/api/v1/revocations",
        json={"credentials": ids, "reason": "x"},
        headers={"Authorization": f"Bearer {advanced_only_token}"},
    )
    assert foreign.status_code == 404
    assert not any(revocation.status_of(cid).revoked for cid in ids)

    assert _revoke(client, assessor_token, ids[0], {"reason": "first"}).status_code == 200
    version = _list_row(client.application, 1).version
    done = client.post(
        "/api/v1/revocations",
        json={"credentials": ids, "reason": "Cohort cancelled"},
        headers=headers,
    )
    assert done.status_code == 200, done.json
    assert done.json["revoked"] == 2
    assert done.json["alreadyRevoked"] == 1
    assert sorted(done.json["credentials"]) == sorted(ids[1:])
    assert all(revocation.status_of(cid).revoked for cid in ids)
    assert revocation.status_of(ids[0]).reason == "first"
    # One list changed once.
    assert _list_row(client.application, 1).version == version + 1
    events = _services(client.application).audit.browse(action="credential.revoked").entries
    assert sorted((e.subject, e.details["reason"]) for e in events) == sorted(
        [(ids[0], "first")] + [(cid, "Cohort cancelled") for cid in ids[1:]]
    )


def test_a_revocation_is_stored_with_what_goes_with_it_or_not_at_all(
    client: FlaskClient, assessor_token: str
) -> None:
    credential_id = _award(client, assessor_token)["id"]
    services = _services(client.application)
    version = _list_row(client.application, 1).version

    def refuse(session: Session, revoked: Sequence[str], reason: str) -> None:
        assert list(revoked) == [credential_id] and reason == "Fraud"
        raise Conflict("refused", "A companion write failed.")

    with pytest.raises(Conflict):
        services.revocation.revoke(credential_id, "Fraud", by=None, store_with=refuse)
    assert not services.revocation.status_of(credential_id).revoked
    assert _list_row(client.application, 1).version == version
    assert services.audit.browse(action="credential.revoked").entries == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"credentials": []}, 400, "reason_required", id="no-reason"),
        pytest.param({"reason": "x"}, 422, "request_invalid", id="neither"),
        pytest.param(
            {"reason": "x", "credentials": [], "filter": {}}, 422, "request_invalid", id="both"
        ),
        pytest.param({"reason": "x", "credentials": []}, 422, "request_invalid", id="empty-list"),
        pytest.param({"reason": "x", "credentials": [1]}, 422, "request_invalid", id="not-strings"),
        pytest.param({"reason": "x", "other": 1}, 422, "request_invalid", id="extra-member"),
        pytest.param(
            {"reason": "x", "filter": {"issuedFrom": "2025-01-01"}},
            403,
            "admin_required",
            id="filter-not-admin",
        ),
    ],
)
def test_bulk_revocation_refuses(
    client: FlaskClient, assessor_token: str, body: dict[str, Any], status: int, code: str
) -> None:
    response = client.post(
        "/api/v1/revocations", json=body, headers={"Authorization": f"Bearer {assessor_token}"}
    )
    assert response.status_code == status, response.json
    assert response.json["code"] == code


@pytest.mark.parametrize(
    ("criteria", "code"),
    [
        ({}, "request_invalid"),
        ({"colour": "red"}, "request_invalid"),
        ({"issuedFrom": "yesterday"}, "request_invalid"),
        ({"issuedUntil": "2025-01-01T00:00:00"}, "request_invalid"),
        ({"assessor": 3}, "request_invalid"),
    ],
)
def test_bulk_filter_refuses(
    client: FlaskClient, admin_token: str, criteria: dict[str, Any], code: str
) -> None:
    response = client.post(
        "/api/v1/revocations",
        json={"filter": criteria, "reason": "x"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 422, response.json
    assert response.json["code"] == code


def test_an_admin_revokes_by_filter(
    client: FlaskClient, assessor_token: str, advanced_only_token: str, admin_token: str
) -> None:
    by_assessor = [_award(client, assessor_token, number)["id"] for number in range(2)]
    other = _award(client, advanced_only_token, 9, achievement=OTHER_ACHIEVEMENT)["id"]
    today = datetime.now(UTC).date().isoformat()
    response = client.post(
        "/api/v1/revocations",
        json={
            "filter": {
                "assessor": "Assessor@Example.org",
                "issuedFrom": today,
                "issuedUntil": today,
                "achievement": ACHIEVEMENT,
            },
            "reason": "The assessor's licence was withdrawn.",
        },
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 200, response.json
    assert sorted(response.json["credentials"]) == sorted(by_assessor)
    revocation = _services(client.application).revocation
    assert all(revocation.status_of(cid).revoked for cid in by_assessor)
    assert not revocation.status_of(other).revoked
    nothing = client.post(
        "/api/v1/revocations",
        json={"filter": {"issuedUntil": "2000-01-01"}, "reason": "x"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert nothing.status_code == 200 and nothing.json["revoked"] == 0


def test_two_hundred_concurrent_revocations_keep_every_bit(
    app: Flask, live_server: str, assessor_token: str
) -> None:
    ids = _store_credentials(app, 200, _assessor_id(app))
    with _services(app).db.read() as session:
        indexes = dict(
            session.execute(
                select(StatusEntry.credential_id, StatusEntry.status_index).where(
                    StatusEntry.credential_id.in_(ids)
                )
            ).all()
        )
    assert len(set(indexes.values())) == 200
    before = _list_row(app, 1).version

    def revoke(credential_id: str) -> int:
        request = urllib.request.Request(  # noqa: S310 - loopback only
            f"{live_server}/api/v1/credentials/{credential_id}/revoke",
            data=json.dumps({"reason": f"test {credential_id}"}).encode(),
            headers={
                "Authorization": f"Bearer {assessor_token}",
                "Content-Type": "application/json",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(revoke, ids))

    assert statuses == [200] * 200
    assert _list_row(app, 1).version == before + 200
    with urllib.request.urlopen(f"{live_server}/status/1", timeout=60) as response:  # noqa: S310
        published = json.loads(response.read())
    bits = status_list.decode(published["credentialSubject"]["encodedList"])
    assert set(status_list.set_indexes(bits)) == set(indexes.values())
    with _services(app).db.read() as session:
        assert len(session.execute(select(Revocation.credential_id)).all()) == 200


def test_the_status_list_credential_verifies(client: FlaskClient, assessor_token: str) -> None:
    _award(client, assessor_token)
    response = client.get("/status/1")
    assert response.status_code == 200
    document = response.json
    assert document["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert document["id"] == "https://badges.example.test/status/1"
    assert document["issuer"] == "did:web:badges.example.test"
    assert document["credentialSubject"]["ttl"] == 300_000
    assert isinstance(document["proof"], dict), "the proof is a single object on status lists"
    keyring = _services(client.application).keyring()
    data_integrity.verify_proof(document, keyring.signing_key("EdDSA").public_key)
    valid_from = datetime.fromisoformat(document["validFrom"])
    valid_until = datetime.fromisoformat(document["validUntil"])
    assert valid_until - valid_from == LIST_VALIDITY

    token = client.get("/status/1", headers={"Accept": "application/vc+jwt"})
    assert token.mimetype == "application/vc+jwt"
    from_jwt = vc_jwt.verify_vc_jwt(token.get_data(as_text=True), keyring.find)
    assert from_jwt == {key: value for key, value in document.items() if key != "proof"}


def test_caching_headers_and_conditional_requests(client: FlaskClient, assessor_token: str) -> None:
    credential_id = _award(client, assessor_token)["id"]
    first = client.get("/status/1")
    etag = first.headers["ETag"]
    assert "public" in first.headers["Cache-Control"]
    assert "max-age=300" in first.headers["Cache-Control"]
    assert "Accept" in first.headers["Vary"]

    again = client.get("/status/1")
    assert again.data == first.data, "an unchanged list is not signed again"
    not_modified = client.get("/status/1", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    jwt_etag = client.get("/status/1", headers={"Accept": "application/vc+jwt"}).headers["ETag"]
    assert jwt_etag != etag

    assert _revoke(client, assessor_token, credential_id, {"reason": "x"}).status_code == 200
    changed = client.get("/status/1", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


@pytest.mark.parametrize("list_id", ["2", "0", "abc", "1e3", "99999999999999"])
def test_an_unknown_list_is_a_404_problem(
    client: FlaskClient, assessor_token: str, list_id: str
) -> None:
    _award(client, assessor_token)
    response = client.get(f"/status/{list_id}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "status_list_not_found"


def _downloader(client: FlaskClient) -> Callable[[str], bytes]:
    """openbadgeslib's fetches, served by the test client; status lists as VC-JWT, which is
    the form openbadgeslib verifies."""

    def download(url: str) -> bytes:
        parts = urlsplit(url)
        accept = "application/vc+jwt" if parts.path.startswith("/status/") else "*/*"
        response = client.get(parts.path, headers={"Accept": accept})
        assert response.status_code == 200, url
        return response.data

    return download


def test_openbadgeslib_sees_active_then_revoked(client: FlaskClient, assessor_token: str) -> None:
    body = _award(client, assessor_token)
    credential = body["credential"]
    download = _downloader(client)
    verifier = OB3LdpVerifier.for_issuer_did(credential["issuer"]["id"])
    verifier.verify(credential, download=download, check_status=True)
    parsed = OpenBadgeCredential.from_vc_document(credential)
    check_credential_status(parsed, download=download, verify_list=True)

    assert _revoke(client, assessor_token, body["id"], {"reason": "x"}).status_code == 200

    with pytest.raises(OB3VerificationError, match="revocation"):
        check_credential_status(parsed, download=download, verify_list=True)
    with pytest.raises(OB3VerificationError):
        verifier.verify(credential, download=download, check_status=True)


def test_a_list_is_resigned_when_it_nears_its_end(app: Flask, assessor_token: str) -> None:
    client = app.test_client()
    _award(client, assessor_token)
    first = client.get("/status/1").json
    with _services(app).db.write() as session:
        row = session.get(StatusList, 1)
        assert row is not None
        row.signed_valid_until = datetime.now(UTC)
    second = client.get("/status/1").json
    assert second["validUntil"] >= first["validUntil"]
    assert _list_row(app, 1).signed_valid_until > datetime.now(UTC)
    assert second["credentialSubject"] == first["credentialSubject"]


def test_index_draws_use_the_whole_list(app: Flask, assessor_token: str) -> None:
    assert _services(app).revocation.allocator.list_size == 131_072
    ids = _store_credentials(app, 64, _assessor_id(app))
    with _services(app).db.read() as session:
        indexes = sorted(
            session.execute(
                select(StatusEntry.status_index).where(StatusEntry.credential_id.in_(ids))
            ).scalars()
        )
    # 64 draws from 131072 all landing in one 8192-wide slice would be astronomically rare.
    assert indexes[-1] - indexes[0] > 8192
