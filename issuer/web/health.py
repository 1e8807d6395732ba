"""Health checks for load balancers and orchestrators. Both are read-only."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from issuer.web import services

blueprint = Blueprint("health", __name__)
log = logging.getLogger("issuer.web")


@blueprint.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> Response:
    checks = services().readiness()
    ready = all(status == "ok" for status in checks.values())
    response = jsonify({"status": "ok" if ready else "unavailable", "checks": checks})
    response.status_code = 200 if ready else 503
    return response
