"""The one place where errors become HTTP responses.

API clients get ``application/problem+json`` (RFC 9457) with a stable ``code``; people get an
HTML page. Anything unexpected is logged and answered with a generic 500 that leaks nothing.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, Response, json, render_template, request
from werkzeug.exceptions import HTTPException

from issuer import errors
from issuer.storage import UNAVAILABLE_ERRORS

log = logging.getLogger("issuer.web")

# How long a client should wait before asking again when the database cannot answer.
DATABASE_RETRY_AFTER_SECONDS = 5

_STATUS_BY_CLASS: list[tuple[type[errors.IssuerError], int]] = [
    (errors.PayloadTooLarge, 413),
    (errors.InvalidInput, 422),
    (errors.NotFound, 404),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.Conflict, 409),
    (errors.TooManyRequests, 429),
    (errors.ProofError, 422),
    (errors.KeyringError, 503),
    (errors.Unavailable, 503),
    (errors.IssuerError, 500),
]

# Codes whose status differs from their class's: a body that cannot be read at all is a 400,
# a body that was read but says something invalid is a 422.
_STATUS_BY_CODE = {
    "json_not_utf8": 400,
    "json_malformed": 400,
    "json_constant_not_allowed": 400,
    "json_duplicate_key": 400,
    "json_too_deep": 400,
    "json_lone_surrogate": 400,
    "json_number_too_large": 400,
    "json_not_object": 400,
    "unsupported_media_type": 415,
    "idempotency_key_reused": 422,
    "reason_required": 400,
}


def status_for(error: errors.IssuerError) -> int:
    if error.code in _STATUS_BY_CODE:
        return _STATUS_BY_CODE[error.code]
    return next(status for cls, status in _STATUS_BY_CLASS if isinstance(error, cls))


def problem(status: int, code: str, detail: str, details: object = None) -> Response:
    body: dict[str, object] = {
        "type": "about:blank",
        "title": _title(status),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if details is not None:
        body["details"] = details
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="issuer"'
    return response


def _wants_html() -> bool:
    if request.path.startswith("/api/") or request.path.startswith("/.well-known/"):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "text/html"
        and request.accept_mimetypes["text/html"] > request.accept_mimetypes["application/json"]
    )


def _respond(status: int, code: str, detail: str, details: object = None) -> Response:
    if _wants_html():
        page = render_template("error.html", status=status, title=_title(status), detail=detail)
        return Response(page, status=status, mimetype="text/html")
    return problem(status, code, detail, details)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def init_app(app: Flask) -> None:
    @app.errorhandler(errors.IssuerError)
    def _issuer_error(error: errors.IssuerError) -> Response:
        status = status_for(error)
        if status >= 500:
            log.error("%s: %s", error.code, error.message)
        response = _respond(status, error.code, error.message, error.details)
        if isinstance(error, (errors.TooManyRequests, errors.Unavailable)):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    def _database_unavailable(error: Exception) -> Response:
        # Down, read-only, full, locked or too slow: the request may succeed later, so say
        # so (503, Retry-After) instead of a 500; the driver's message stays in the log.
        log.warning("Database unavailable on %s %s: %s", request.method, request.path, error)
        response = _respond(
            503,
            "database_unavailable",
            "The database cannot answer right now; try again shortly.",
        )
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response

    for unavailable in UNAVAILABLE_ERRORS:
        app.register_error_handler(unavailable, _database_unavailable)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        # Werkzeug refuses an over-long body before we read it; give it our code for that.
        code = (
            "payload_too_large"
            if status == 413
            else (error.name or "error").lower().replace(" ", "_")
        )
        response = _respond(status, code, error.description or error.name)
        for header in ("Allow", "Retry-After"):
            if error.get_response().headers.get(header):
                response.headers[header] = error.get_response().headers[header]
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("Unhandled error on %s %s", request.method, request.path)
        return _respond(500, "internal_error", "Something went wrong on our side.")
