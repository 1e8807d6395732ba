"""The JSON API for programs: ``/api/v1``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, url_for

from issuer.issuance import IssuedAward
from issuer.web import bearer_principal, json_body, services

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


@blueprint.post("/awards")
def create_award() -> Response:
    assessor = bearer_principal()
    award_request = json_body()
    issued = services().award(
        assessor,
        award_request,
        request.headers.get("Idempotency-Key"),
        actor=assessor.email,
        address=request.remote_addr,
        details={"via": "api"},
    )
    response = jsonify(award_response(issued))
    response.status_code = 201
    response.headers["Location"] = url_for("public.credential", credential_id=issued.id)
    return response


def award_response(issued: IssuedAward) -> dict[str, object]:
    base = services().base_url
    page = f"{base}/credentials/{issued.id}"
    return {
        "id": issued.id,
        "credential": issued.credential,
        "jwt": issued.jwt,
        "links": {
            "page": page,
            "json": page + ".json",
            "jwt": page + ".jwt",
            "png": page + ".png",
            "svg": page + ".svg",
        },
    }
