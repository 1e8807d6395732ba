"""Revoking through the JSON API: one credential, or many at once."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from issuer.errors import InvalidInput
from issuer.web import bearer_principal, json_body, services

blueprint = Blueprint("revocation_api", __name__, url_prefix="/api/v1")


@blueprint.post("/credentials/<credential_id>/revoke")
def revoke(credential_id: str) -> Response:
    principal = bearer_principal()
    body = json_body()
    if set(body) - {"reason"}:
        raise InvalidInput("request_invalid", "The body holds only reason.")
    revoked = services().revoke(
        credential_id,
        body.get("reason"),
        by=principal,
        actor=principal.email,
        address=request.remote_addr,
        details={"via": "api"},
    )
    return jsonify(revoked.as_json())


@blueprint.post("/revocations")
def revoke_many() -> Response:
    principal = bearer_principal()
    body = json_body()
    result = services().revoke_many(
        body,
        by=principal,
        actor=principal.email,
        address=request.remote_addr,
        details={"via": "api", "bulk": True},
    )
    return jsonify(result.as_json())
