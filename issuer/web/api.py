"""The JSON API for programs: ``/api/v1``."""

from __future__ import annotations

import json

from flask import Blueprint, Response, request, url_for

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
    response = Response(award_response(issued), status=201, mimetype="application/json")
    response.headers["Location"] = url_for("public.credential", credential_id=issued.id)
    return response


def award_response(issued: IssuedAward) -> str:
    """``{"id", "credential", "jwt", "links"}``, the credential in the very JSON that was
    signed and stored (written once, not encoded again)."""
    page = f"{services().base_url}/credentials/{issued.id}"
    links = {"page": page, **{form: f"{page}.{form}" for form in ("json", "jwt", "png", "svg")}}
    rest = json.dumps({"jwt": issued.jwt, "links": links}, separators=(",", ":"))
    # ``rest`` without its opening brace: the members after the credential.
    return f'{{"id":{json.dumps(issued.id)},"credential":{issued.credential_json},{rest[1:]}'
