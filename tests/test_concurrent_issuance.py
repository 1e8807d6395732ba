"""Parallel awards through a real threaded server: every credential signed and stored intact.

pyld's shared caches corrupt under concurrent calls; this is the test that would see it.
"""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask

from issuer.proofs import data_integrity, vc_jwt

pytestmark = pytest.mark.storage

LEVELS = ["emerging", "developing", "proficient", "advanced"]


def _award(base_url: str, token: str, number: int) -> tuple[int, dict[str, Any]]:
    body = {
        "achievement": f"computer-user-support-specialists/{LEVELS[number % 4]}",
        "recipient": {"email": f"earner{number}@example.org", "name": f"Earner {number}"},
        "evidence": [{"narrative": f"Portfolio item {number}"}],
    }
    request = urllib.request.Request(  # noqa: S310 - loopback only
        base_url + "/api/v1/awards",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return response.status, json.loads(response.read())


def test_parallel_awards_all_verify(app: Flask, live_server: str, assessor_token: str) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: _award(live_server, assessor_token, n), range(40)))

    assert [status for status, _ in results] == [201] * 40
    keyring = app.extensions["issuer"].keyring()
    eddsa = keyring.signing_key("EdDSA").public_key
    ids = set()
    for number, (_, body) in enumerate(results):
        credential = body["credential"]
        assert credential["credentialSubject"]["identifier"][1]["identityHash"] == (
            f"Earner {number}"
        )
        data_integrity.verify_proof(credential, eddsa)
        vc_jwt.verify_vc_jwt(body["jwt"], keyring.find)
        stored = app.extensions["issuer"].issuance.get(body["id"])
        assert stored.credential == credential
        ids.add(body["id"])
    assert len(ids) == 40
