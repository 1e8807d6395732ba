"""Status lists: ``GET /status/<list>``, the signed Bitstring Status List credential."""

from __future__ import annotations

from flask import Blueprint, Response, json, request

from issuer.revocation import TTL_MILLISECONDS
from issuer.web import services

blueprint = Blueprint("status", __name__)

VC_JWT = "application/vc+jwt"
VC_LD = "application/vc+ld+json"
JSON_LD = "application/ld+json"


@blueprint.get("/status/<list_id>")
def status_list(list_id: str) -> Response:
    published = services().revocation.publish(list_id)
    offers = ("application/json", VC_LD, JSON_LD, VC_JWT)
    chosen = request.accept_mimetypes.best_match(offers, default=offers[0]) or offers[0]
    if chosen == VC_JWT:
        response = Response(published.jwt, mimetype=VC_JWT)
        response.set_etag(f"{published.etag}-jwt")
    else:
        body = json.dumps(published.document, ensure_ascii=False)
        response = Response(body, mimetype=chosen)
        response.set_etag(f"{published.etag}-json")
    # Verifiers and CDNs may keep it as long as the list's own ttl says, and no longer, so
    # a revocation is seen everywhere within minutes.
    response.headers["Cache-Control"] = f"public, max-age={TTL_MILLISECONDS // 1000}"
    response.headers["Vary"] = "Accept"
    response.last_modified = published.signed_at
    response.make_conditional(request)
    return response
