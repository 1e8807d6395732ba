"""HTTP: blueprints that parse and authorize, call one service method and render the result."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request

from issuer import strict_json
from issuer.assessors import Principal
from issuer.errors import InvalidInput, Unauthorized
from issuer.services import Services


def services() -> Services:
    return current_app.extensions["issuer"]


def json_body() -> dict[str, Any]:
    """The request body, read by the strict JSON reader.

    Raises InvalidInput ``unsupported_media_type`` unless the body is declared as JSON.
    """
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise InvalidInput("unsupported_media_type", "Send the body as application/json.")
    config = current_app.config
    body = request.get_data(cache=False)
    result: dict[str, Any] = strict_json.parse(
        body, max_bytes=config["MAX_BODY_BYTES"], max_depth=config["MAX_JSON_DEPTH"]
    )
    return result


def bearer_principal() -> Principal:
    """The assessor whose API token authorizes this request. Raises Unauthorized."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("token_missing", "Send an API token: Authorization: Bearer <token>.")
    return services().assessors.authenticate_token(token.strip())


def init_app(app: Flask) -> None:
    from issuer.web import (
        api,
        assess,
        earner,
        errors,
        headers,
        health,
        public,
        revocation_api,
        status,
        verify,
        wallet,
        well_known,
        wording,
    )

    errors.init_app(app)
    health.init_app(app)
    headers.init_app(app)
    wording.init_app(app)
    for blueprint in (api.blueprint, public.blueprint, well_known.blueprint, health.blueprint):
        app.register_blueprint(blueprint)
    app.register_blueprint(status.blueprint)
    app.register_blueprint(revocation_api.blueprint)
    verify.init_app(app)
    earner.init_app(app)
    assess.init_app(app)
    wallet.init_app(app)
