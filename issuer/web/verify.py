"""Verification over HTTP: ``GET/POST /verify`` for people, ``POST /api/v1/verify`` for programs.

What a credential is is decided by its content (``issuer.verification.reading``), never by
a file name or a Content-Type. One rule for both: a request that cannot be read at all is a
4xx problem; a credential that was read and fails a check is a 200 report with
``verified: false``. A batch (a JSON list, or several uploaded files) gets one report per
item, and an item that cannot be read gets a report saying so.

The result page lets a reader check the earner's e-mail address against the same badge
without uploading it again: each readable item carries what was checked (the credential's
text, its VC-JWT or its link) into a small form next to "Awarded to".

Anyone may verify, so each request is metered (``metered``): anonymous clients are rate
limited per address (``ISSUER_VERIFY_RATE_PER_MINUTE``, 429 with ``Retry-After``; an
assessor's API token is not limited), and the work of one request is capped
(``ISSUER_VERIFY_BUDGET_OBJECTS``, ``issuer.verification.budget``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request

from issuer.errors import InvalidInput, IssuerError
from issuer.verification import VerificationReport, VerificationService, build_for
from issuer.verification.budget import work_budget
from issuer.verification.reading import read_json, read_presented
from issuer.verification.service import MAX_BATCH
from issuer.web import bearer_principal, services
from issuer.web.rate_limit import RateLimiter

blueprint = Blueprint("verify", __name__)
F = TypeVar("F", bound=Callable[..., Any])

_WRAPPER_KEYS = ("credential", "jwt", "url")
MAX_SOURCE_NAME = 200
CHECK_LABELS = {
    "read": "Reading the credential",
    "structure": "Format",
    "schema": "Open Badges rules",
    "proof": "Signature and issuer key",
    "status": "Revocation",
    "validity": "Dates",
    "recipient": "Earner's e-mail address",
}


@dataclass(frozen=True)
class CheckedItem:
    """One thing checked on the form: where it came from, its report, and what to post to
    check the same badge again (``again_credential`` text or ``again_url``)."""

    name: str
    report: VerificationReport
    again_credential: str | None = None
    again_url: str | None = None


def verification() -> VerificationService:
    """This app's verification service, built on first use from its services and config."""
    extensions = current_app.extensions
    if "issuer_verification" not in extensions:
        extensions["issuer_verification"] = build_for(services(), current_app.config)
    service: VerificationService = extensions["issuer_verification"]
    return service


def metered(view: F) -> F:
    """Rate limit anonymous callers, and run ``view`` within the request's work budget."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.headers.get("Authorization"):
            bearer_principal()  # an assessor's token: not limited (a bad one is a 401)
        elif (limiter := _rate_limiter()) is not None:
            limiter.take(request.remote_addr or "")
        with work_budget(current_app.config["VERIFY_BUDGET_OBJECTS"]):
            return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _rate_limiter() -> RateLimiter | None:
    per_minute = current_app.config["VERIFY_RATE_PER_MINUTE"]
    if not per_minute:
        return None
    limiter: RateLimiter = current_app.extensions.setdefault(
        "issuer_verify_rate_limit", RateLimiter(per_minute)
    )
    return limiter


@blueprint.get("/verify")
def verify_page() -> str:
    return render_template("verify.html", check_labels=CHECK_LABELS)


@blueprint.post("/verify")
@metered
def verify_form() -> str:
    """The form: uploaded files, a pasted credential and/or a link, and an optional e-mail."""
    recipient = (request.form.get("email") or "").strip() or None
    items: list[CheckedItem] = []
    service = verification()
    for upload in request.files.getlist("file"):
        if not upload or not upload.filename:
            continue
        data = upload.read()
        items.append(
            CheckedItem(
                upload.filename[:MAX_SOURCE_NAME],
                _attempt(service.verify_bytes, data, recipient=recipient),
                again_credential=_credential_text(data),
            )
        )
    pasted = (request.form.get("credential") or "").strip()
    if pasted:
        # A re-check from the result page names the file the credential first came from.
        source = (request.form.get("source") or "").strip()[:MAX_SOURCE_NAME]
        items.append(
            CheckedItem(
                source or "Pasted credential",
                _attempt(_verify_text, service, pasted, recipient),
                again_credential=pasted,
            )
        )
    url = (request.form.get("url") or "").strip()
    if url:
        items.append(
            CheckedItem(
                url[:MAX_SOURCE_NAME],
                _attempt(service.verify_url, url, recipient=recipient),
                again_url=url,
            )
        )
    if len(items) > MAX_BATCH:
        items = items[:MAX_BATCH]
    return render_template(
        "verify_result.html",
        items=items,
        check_labels=CHECK_LABELS,
        email=recipient,
        email_given=recipient is not None,
        nothing_given=not items,
    )


def _credential_text(data: bytes) -> str | None:
    """The credential an upload holds, as text to post again (its VC-JWT, or its JSON: a
    Data Integrity proof signs the meaning, so the JSON re-serialized verifies the same),
    or None when it cannot be read."""
    try:
        presented = read_presented(data)
    except IssuerError:
        return None
    return presented.jwt or json.dumps(presented.credential, ensure_ascii=False)


@blueprint.post("/api/v1/verify")
@metered
def verify_api() -> Response:
    """Verify what the body holds; see the module docstring for the forms accepted."""
    service = verification()
    recipient = request.args.get("recipient") or None
    if request.mimetype == "multipart/form-data":
        recipient = request.form.get("recipient") or recipient
        uploads = [upload for upload in request.files.getlist("file") if upload]
        if not uploads:
            raise InvalidInput("file_missing", "Send the credential as the multipart field 'file'.")
        if len(uploads) > MAX_BATCH:
            raise InvalidInput("batch_too_large", f"At most {MAX_BATCH} credentials at once.")
        if len(uploads) == 1:
            return _report(service.verify_bytes(uploads[0].read(), recipient=recipient))
        return jsonify(
            [
                _attempt(service.verify_bytes, upload.read(), recipient=recipient).as_json()
                for upload in uploads
            ]
        )
    body = request.get_data(cache=False)
    if not body.strip():
        raise InvalidInput("body_empty", "Send a credential, a VC-JWT, a badge image or a URL.")
    if body.lstrip()[:1] in (b"{", b"["):
        config = current_app.config
        document = read_json(
            body,
            max_bytes=config["MAX_BODY_BYTES"],
            max_depth=config["MAX_JSON_DEPTH"],
            require_object=False,
        )
        if isinstance(document, list):
            if len(document) > MAX_BATCH:
                raise InvalidInput("batch_too_large", f"At most {MAX_BATCH} credentials at once.")
            return jsonify(
                [_attempt(_verify_item, service, item, recipient).as_json() for item in document]
            )
        return _report(_verify_item(service, document, recipient))
    return _report(service.verify_bytes(body, recipient=recipient))


def _verify_item(
    service: VerificationService, item: Any, recipient: str | None
) -> VerificationReport:
    """One JSON item: a credential, a wrapper ``{"credential"|"jwt"|"url": ..., "recipient"}``
    or a string holding a VC-JWT. Raises IssuerError when it cannot be read."""
    if isinstance(item, str):
        return service.verify_jwt(item, recipient=recipient)
    if not isinstance(item, dict):
        raise InvalidInput("credential_not_object", "Each item must be a credential or a wrapper.")
    if "@context" not in item and any(key in item for key in _WRAPPER_KEYS):
        wanted = item.get("recipient")
        recipient = wanted if isinstance(wanted, str) and wanted.strip() else recipient
        if "credential" in item:
            return service.verify_document(item["credential"], recipient=recipient)
        if "jwt" in item:
            return service.verify_jwt(item["jwt"], recipient=recipient)
        return service.verify_url(item["url"], recipient=recipient)
    return service.verify_document(item, recipient=recipient)


def _verify_text(
    service: VerificationService, text: str, recipient: str | None
) -> VerificationReport:
    """Pasted text: a credential, a VC-JWT, or a link to either."""
    if text.startswith(("https://", "http://")) and "\n" not in text:
        return service.verify_url(text, recipient=recipient)
    return service.verify_bytes(text.encode("utf-8"), recipient=recipient)


def _attempt(
    verify: Callable[..., VerificationReport], *args: Any, **kwargs: Any
) -> VerificationReport:
    """One item of a batch: its report, or a report saying it could not be read."""
    try:
        return verify(*args, **kwargs)
    except IssuerError as error:
        return VerificationService.unreadable(error)


def _report(report: VerificationReport) -> Response:
    return jsonify(report.as_json())


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
