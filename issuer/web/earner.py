"""The earner's side: the credential page, baked downloads, the QR code, page settings.

``/credentials/<id>`` itself lives in ``public`` (it negotiates HTML, JSON and VC-JWT); its
HTML branch calls ``credential_page`` here. A hidden page answers 404 to everyone, while
the credential's JSON, VC-JWT and baked images keep answering, so it keeps verifying.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    json,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from issuer import badge_images, baking
from issuer.earner import EarnerService, PageStatus, linkedin_add_url
from issuer.errors import IssuerError
from issuer.issuance import IssuedAward
from issuer.verification import VerificationReport
from issuer.web import services
from issuer.web.verify import CHECK_LABELS, verification

blueprint = Blueprint("earner", __name__)

# Baked files and level images never change once made; the page itself must not be cached
# by shared caches (its status line is live, and it can be hidden at any moment).
IMMUTABLE = "public, max-age=86400"
PAGE_CACHE = "private, no-cache"
# The page is reachable only by its unguessable link; ask search engines not to list it.
ROBOTS = "noindex, nofollow, noarchive"


def earner() -> EarnerService:
    return services().earner


def credential_page(credential_id: str) -> Response:
    """The credential page for people. Raises NotFound ``credential_not_found`` (also when
    the earner hid the page)."""
    issued = earner().public_page(credential_id)
    page = _page_facts(issued)
    response = Response(render_template("credential.html", **page))
    response.headers["X-Robots-Tag"] = ROBOTS
    response.headers["Cache-Control"] = PAGE_CACHE
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response


@blueprint.get("/credentials/<credential_id>.png")
def baked_png(credential_id: str) -> Response:
    issued = services().issuance.get(credential_id)
    art = badge_images.render_png(_art_svg(issued))
    png = baking.bake_png(art, credential_text(issued))
    return _download(png, "image/png", f"{issued.id}.png")


@blueprint.get("/credentials/<credential_id>.svg")
def baked_svg(credential_id: str) -> Response:
    issued = services().issuance.get(credential_id)
    svg = baking.bake_svg(_art_svg(issued), credential_text(issued))
    return _download(svg.encode("utf-8"), "image/svg+xml", f"{issued.id}.svg")


@blueprint.get("/credentials/<credential_id>/qr.svg")
def qr_code(credential_id: str) -> Response:
    issued = earner().public_page(credential_id)
    svg = badge_images.qr_svg(earner().page_url(issued.id), title="QR code of the badge page")
    document = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    response = _download(document.encode("utf-8"), "image/svg+xml", f"{issued.id}-qr.svg")
    response.headers["X-Robots-Tag"] = ROBOTS
    return response


@blueprint.get("/achievements/<framework>/<level>.png")
def achievement_png(framework: str, level: str) -> Response:
    """The level's badge art as a PNG: the ``og:image`` of credential pages."""
    template = services().catalog.get(framework, level)
    document = services().achievement_document(template)
    svg = badge_images.svg_from_data_uri(document["image"]["id"])
    response = Response(badge_images.render_png(svg), mimetype="image/png")
    response.headers["Cache-Control"] = IMMUTABLE
    return response


@blueprint.route("/credentials/<credential_id>/settings", methods=["GET", "POST"])
def settings(credential_id: str) -> BaseResponse:
    """The earner's page settings, opened by the signed link from the award e-mail.

    The token travels in the query string of the e-mail link and, when saving, in the form;
    being secret and bound to the credential, it also stands in for a CSRF token.
    """
    token = (request.form.get("token") if request.method == "POST" else None) or request.args.get(
        "token", ""
    )
    issued = services().issuance.get(credential_id)
    earner().links.read(token, issued.id)
    if request.method == "POST":
        visibility = request.form.get("visibility")
        if visibility not in ("public", "hidden"):
            return _settings_page(issued, token, error="Choose public or hidden.", status=422)
        earner().set_hidden(issued.id, token, visibility == "hidden")
        return redirect(
            url_for("earner.settings", credential_id=issued.id, token=token, saved=visibility),
            code=303,
        )
    return _settings_page(issued, token, saved=request.args.get("saved"))


def credential_text(issued: IssuedAward) -> str:
    """The credential exactly as ``/credentials/<id>.json`` serves it (what is baked)."""
    return json.dumps(issued.credential, ensure_ascii=False)


def _settings_page(
    issued: IssuedAward,
    token: str,
    *,
    saved: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    achievement = issued.credential["credentialSubject"]["achievement"]
    response = Response(
        render_template(
            "credential_settings.html",
            issued=issued,
            achievement=achievement,
            token=token,
            hidden=earner().is_hidden(issued.id),
            saved=saved if saved in ("public", "hidden") else None,
            error=error,
        ),
        status=status,
    )
    # The token is in this page's URL: never send it on to another site, never cache it.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = ROBOTS
    return response


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def _art_svg(issued: IssuedAward) -> str:
    """The badge art as issued (embedded in the credential's Achievement)."""
    image = issued.credential["credentialSubject"]["achievement"].get("image") or {}
    return badge_images.svg_from_data_uri(str(image.get("id", "")))


def _page_facts(issued: IssuedAward) -> dict[str, Any]:
    credential = issued.credential
    subject = credential["credentialSubject"]
    achievement = subject["achievement"]
    demonstrated = {result.get("resultDescription") for result in subject.get("result", [])}
    statements = [
        statement["name"]
        for statement in achievement.get("resultDescription", [])
        if statement.get("id") in demonstrated
    ]
    framework, _, level = issued.achievement.partition("/")
    page_url = earner().page_url(issued.id)
    base_url = services().base_url
    issuer = credential["issuer"]
    report = _verification_report(credential)
    status = _status_line(earner().status(issued), report)
    return {
        "issued": issued,
        "credential": credential,
        "achievement": achievement,
        "statements": statements,
        "evidence": credential.get("evidence", []),
        "issuer": issuer,
        "status": status,
        "report": report,
        "check_labels": CHECK_LABELS,
        "page_url": page_url,
        "og_image": base_url + url_for("earner.achievement_png", framework=framework, level=level),
        "achievement_url": url_for("public.achievement", framework=framework, level=level),
        "linkedin_url": linkedin_add_url(
            name=achievement["name"],
            organization_name=issuer.get("name", ""),
            issued=issued.issued_at,
            expires=issued.valid_until,
            cert_url=page_url,
            cert_id=issued.id,
        ),
        "qr_svg": badge_images.qr_svg(page_url, title="QR code of this page's link"),
        "credential_json": credential_text(issued),
    }


def _verification_report(credential: dict[str, Any]) -> VerificationReport | None:
    """Our verifier's report on the credential as stored, or None if it could not run."""
    try:
        return verification().verify_document(credential)
    except IssuerError:
        return None


def _status_line(status: PageStatus, report: VerificationReport | None) -> PageStatus:
    """The database's word (revoked, expired) wins; otherwise the verifier must agree."""
    if status.word != "valid":
        return status
    if report is None:
        return PageStatus("unchecked", "Issued by us; it could not be checked just now.")
    if not report.verified:
        failure = report.failures[0] if report.failures else None
        reason = f" {failure.message}" if failure else ""
        return PageStatus("invalid", f"Not verified.{reason}")
    return status


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
