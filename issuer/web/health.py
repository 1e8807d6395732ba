"""Health checks for load balancers and orchestrators (both read-only), and the guard that
serves nothing while a restore is incomplete."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, jsonify, request

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


def init_app(app: Flask) -> None:
    """Nothing half-restored is served: every request but the health checks waits for a
    restore that started to complete (``Services.refuse_while_restoring``)."""

    @app.before_request
    def _refuse_while_restoring() -> None:
        if request.path not in ("/healthz", "/readyz"):
            services().refuse_while_restoring()
