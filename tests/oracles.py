"""Judges we did not write: the official OB 3.0 JSON Schema and the openbadgeslib verifiers."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from jsonschema import Draft201909Validator
from openbadgeslib.ob3.ldp import OB3LdpVerifier
from openbadgeslib.ob3.verifier import OB3Verifier
from support import shared_path


@cache
def _official_validator() -> Draft201909Validator:
    path = shared_path(
        "conformance", "ob3", "schemas", "ob_v3p0_achievementcredential-jsonschema1.json"
    )
    return Draft201909Validator(json.loads(path.read_text("utf-8")))


def official_schema_errors(credential: dict[str, Any]) -> list[str]:
    """Every error the official OB 3.0 achievement-credential schema finds (want: none)."""
    return [
        f"{'/'.join(map(str, error.path))}: {error.message}"
        for error in _official_validator().iter_errors(credential)
    ]


def downloader(client: FlaskClient) -> Callable[[str], bytes]:
    """Lets openbadgeslib resolve our did:web over the test client instead of the network."""

    def download(url: str) -> bytes:
        parts = urlsplit(url)
        response = client.get(parts.path)
        assert response.status_code == 200, url
        return response.data

    return download


def openbadgeslib_verify(client: FlaskClient, credential: dict[str, Any], token: str) -> None:
    """Both forms verify in openbadgeslib, with keys resolved from our did:web document."""
    issuer_did = credential["issuer"]["id"]
    download = downloader(client)
    OB3LdpVerifier.for_issuer_did(issuer_did).verify(credential, download=download)
    OB3Verifier.for_issuer_did(issuer_did, download=download).verify(token)
