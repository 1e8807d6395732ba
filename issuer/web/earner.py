"""The earner's side: the credential page, baked downloads, the QR code, page settings.

``/credentials/<id>`` itself lives in ``public`` (it negotiates HTML, JSON and VC-JWT); its
HTML branch calls ``credential_page`` here. A hidden page answers 404 to everyone, and so
do all its renderings (JSON, VC-JWT, baked images, QR code): hiding means nobody with the
link learns anything. The credential the earner already handed someone keeps verifying,
from its own bytes.

The settings link's token is exchanged for a cookie at once, and the browser sent on to
the same page without it, so that it stays out of history, access logs and ``Referer``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from issuer import badge_images, baking
from issuer.caching import BoundedCache
from issuer.certificate import CertificateFacts, certificate_pdf
from issuer.earner import (
    EarnerService,
    PageStatus,
    PageView,
    embed_snippet,
    linkedin_add_url,
    share_links,
)
from issuer.errors import IssuerError
from issuer.issuance import IssuedAward
from issuer.verification import VerificationReport
from issuer.web import services
from issuer.web.verify import CHECK_LABELS, verification
from issuer.web.wallet import page_section

blueprint = Blueprint("earner", __name__)

# Level images never change once made. The page and every rendering of a credential must
# not be kept by shared caches, and a browser must ask again before each use (revalidating
# by ETag): the status line is live, and the earner can hide the page at any moment.
IMMUTABLE = "public, max-age=86400"
PAGE_CACHE = "private, no-cache"
# The page is reachable only by its unguessable link; ask search engines not to list it.
ROBOTS = "noindex, nofollow, noarchive"
# Settings tokens kept in the browser's session cookie, newest last (one per credential).
SETTINGS_SESSION_KEY = "settings_tokens"
MAX_REMEMBERED_SETTINGS = 5
# Rendered credential pages (body and ETag) kept per app, by credential and state.
RENDERED_PAGES = 512
BAKED_IMAGES = 128


def earner() -> EarnerService:
    return services().earner


def credential_page(credential_id: str) -> Response:
    """The credential page for people. Raises NotFound ``credential_not_found`` (also when
    the earner hid the page).

    One database read gives the credential and its standing; the verification report and
    the QR code are remembered (``EarnerService.page_report``, ``badge_images.qr_svg``), so
    a view costs the read and the template. The ``ETag`` is the page's digest: a browser
    revalidates (``no-cache``) and gets ``304`` while nothing on the page changed.
    """
    view = earner().page_view(credential_id)
    report = _verification_report(view)
    status = _status_line(view.status, report)
    # The page is a function of the stored credential, its status line and the report:
    # rendered once for each such state.
    state = (view.issued.id, status, report.checks if report is not None else None)
    pages = _rendered_pages()
    rendered = pages.get(state)
    if rendered is None:
        body = render_template("credential.html", **_page_facts(view, report, status))
        encoded = body.encode("utf-8")
        rendered = (encoded, hashlib.sha256(encoded).hexdigest()[:32])
        pages.put(state, rendered)
    response = Response(rendered[0], mimetype="text/html")
    response.headers["X-Robots-Tag"] = ROBOTS
    response.headers["Cache-Control"] = PAGE_CACHE
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.set_etag(rendered[1])
    response.make_conditional(request)
    return response


@blueprint.get("/credentials/<credential_id>.png")
def baked_png(credential_id: str) -> Response:
    issued = earner().public_page(credential_id)

    def bake() -> bytes:
        art = badge_images.render_png(_art_svg(issued))
        return baking.bake_png(art, credential_text(issued))

    return _download(_made_once("png", issued.id, bake), "image/png", f"{issued.id}.png")


@blueprint.get("/credentials/<credential_id>.svg")
def baked_svg(credential_id: str) -> Response:
    issued = earner().public_page(credential_id)

    def bake() -> bytes:
        return baking.bake_svg(_art_svg(issued), credential_text(issued)).encode("utf-8")

    return _download(_made_once("svg", issued.id, bake), "image/svg+xml", f"{issued.id}.svg")


@blueprint.get("/credentials/<credential_id>/certificate.pdf")
def certificate(credential_id: str) -> Response:
    """A printable PDF certificate with the page's QR code; 404 while the page is hidden."""
    issued = earner().public_page(credential_id)

    def make() -> bytes:
        credential = issued.credential
        return certificate_pdf(
            CertificateFacts(
                earner_name=issued.recipient_name or "The earner",
                achievement_name=credential["credentialSubject"]["achievement"]["name"],
                issuer_name=credential["issuer"].get("name", ""),
                issued_at=issued.issued_at,
                valid_until=issued.valid_until,
                page_url=earner().page_url(issued.id),
                verify_url=services().base_url + url_for("verify.verify_page"),
                badge_png=badge_images.render_png(_art_svg(issued)),
            )
        )

    body = _made_once("pdf", issued.id, make)
    return _download(body, "application/pdf", f"{issued.id}-certificate.pdf")


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

    The link's ``token`` is checked, kept in the session cookie and the browser sent on to
    the URL without it (module docstring). When saving, the form carries the token too;
    being secret and bound to the credential, it also stands in for a CSRF token.
    """
    issued = services().issuance.get(credential_id)
    if request.method == "GET" and "token" in request.args:
        token = request.args["token"]
        earner().links.read(token, issued.id)
        _remember_settings_token(issued.id, token)
        return _private(redirect(url_for("earner.settings", credential_id=issued.id), code=303))
    token = (
        request.form.get("token", "") if request.method == "POST" else None
    ) or _remembered_settings_token(issued.id)
    earner().links.read(token, issued.id)
    if request.method == "POST":
        visibility = request.form.get("visibility")
        if visibility not in ("public", "hidden"):
            return _settings_page(issued, token, error="Choose public or hidden.", status=422)
        earner().set_hidden(issued.id, token, visibility == "hidden")
        _remember_settings_token(issued.id, token)
        return _private(
            redirect(
                url_for("earner.settings", credential_id=issued.id, saved=visibility), code=303
            )
        )
    return _settings_page(issued, token, saved=request.args.get("saved"))


def _remember_settings_token(credential_id: str, token: str) -> None:
    remembered = {
        key: value
        for key, value in dict(session.get(SETTINGS_SESSION_KEY) or {}).items()
        if key != credential_id
    }
    remembered[credential_id] = token
    session[SETTINGS_SESSION_KEY] = dict(list(remembered.items())[-MAX_REMEMBERED_SETTINGS:])


def _remembered_settings_token(credential_id: str) -> str:
    token = dict(session.get(SETTINGS_SESSION_KEY) or {}).get(credential_id, "")
    return token if isinstance(token, str) else ""


def _private(response: BaseResponse) -> BaseResponse:
    """Headers for a page or redirect that is the earner's alone."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = ROBOTS
    return response


def _rendered_pages() -> BoundedCache[tuple[object, ...], tuple[bytes, str]]:
    pages: BoundedCache[tuple[object, ...], tuple[bytes, str]] = current_app.extensions[
        "issuer_rendered_pages"
    ]
    return pages


def credential_text(issued: IssuedAward) -> str:
    """The credential exactly as ``/credentials/<id>.json`` serves it (what is baked): the
    JSON that was signed and stored."""
    return issued.credential_json


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
            **page_section(issued.id),
        ),
        status=status,
    )
    # The token is in this page's form: never cache it, never tell another site of it.
    _private(response)
    return response


def _made_once(form: str, credential_id: str, make: Callable[[], bytes]) -> bytes:
    """A baked image of a credential, made once per process (the credential never changes)."""
    baked: BoundedCache[tuple[str, str], bytes] = current_app.extensions["issuer_baked_images"]
    return baked.get_or_make((form, credential_id), make)


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    """A rendering of one credential. Its bytes never change, but the earner may hide it at
    any moment, so caches keep it only to revalidate (``no-cache``: ``304`` by ``ETag`` while
    shown, ``404`` once hidden) and only in the browser (``private``), as the page."""
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = PAGE_CACHE
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.make_conditional(request)
    return response


def _art_svg(issued: IssuedAward) -> str:
    """The badge art as issued (embedded in the credential's Achievement)."""
    image = issued.credential["credentialSubject"]["achievement"].get("image") or {}
    return badge_images.svg_from_data_uri(str(image.get("id", "")))


def _page_facts(
    view: PageView, report: VerificationReport | None, status: PageStatus
) -> dict[str, Any]:
    issued = view.issued
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
        "share_links": share_links(
            page_url=page_url,
            achievement_name=achievement["name"],
            issuer_name=issuer.get("name", ""),
        ),
        "embed": _embed(issued.id, page_url, achievement),
        "qr_svg": badge_images.qr_svg(page_url, title="QR code of this page's link"),
        "credential_json": credential_text(issued),
    }


EMBED_SIZES = (80, 120, 200)


def _embed(credential_id: str, page_url: str, achievement: dict[str, Any]) -> dict[str, Any]:
    """What the embed form needs: the snippet at each size, with absolute links to paste
    elsewhere, and the same with this site's paths for the preview (so it loads from the
    page's own origin, as its Content-Security-Policy asks); ``static/earner.js`` switches
    between sizes."""
    image_path = url_for("earner.baked_png", credential_id=credential_id)
    page_path = url_for("public.credential", credential_id=credential_id)
    alt = str(achievement.get("image", {}).get("caption") or achievement["name"])
    caption = f"{achievement['name']}: verified Open Badge"

    def snippet(page: str, image: str, size: int, text: str) -> str:
        return embed_snippet(page_url=page, image_url=image, alt=text, caption=caption, size=size)

    image_url = services().base_url + image_path
    # The preview's image is named as a preview, so the page does not name two images alike.
    preview = "Preview of the badge as embedded"
    return {
        "sizes": EMBED_SIZES,
        "snippets": {size: snippet(page_url, image_url, size, alt) for size in EMBED_SIZES},
        "previews": {size: snippet(page_path, image_path, size, preview) for size in EMBED_SIZES},
    }


def _verification_report(view: PageView) -> VerificationReport | None:
    """Our verifier's report on the credential as stored, or None if it could not run."""
    try:
        return earner().page_report(view, verification().verify_document)
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
    app.extensions["issuer_rendered_pages"] = BoundedCache(RENDERED_PAGES)
    app.extensions["issuer_baked_images"] = BoundedCache(BAKED_IMAGES)
    app.register_blueprint(blueprint)
