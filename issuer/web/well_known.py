"""The issuer's public keys: ``/.well-known/did.json`` and ``/.well-known/jwks.json``."""

from __future__ import annotations

from flask import Blueprint, Response, json

from issuer.web import services

blueprint = Blueprint("well_known", __name__, url_prefix="/.well-known")


def _document(document: object, mimetype: str) -> Response:
    response = Response(json.dumps(document), mimetype=mimetype)
    # Keys change only on rotation; a short cache keeps verifiers fast and rotation visible.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@blueprint.get("/did.json")
def did_document() -> Response:
    return _document(services().did_document(), "application/json")


@blueprint.get("/jwks.json")
def jwks() -> Response:
    return _document(services().jwks(), "application/json")
