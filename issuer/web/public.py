"""Public pages and documents: the issuer, its achievements and issued credentials."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, json, render_template, request

from issuer.web import earner, services

blueprint = Blueprint("public", __name__)

JSON_LD = "application/ld+json"
VC_LD = "application/vc+ld+json"
VC_JWT = "application/vc+jwt"


def _negotiate(*offers: str) -> str:
    """The offer the client ranks highest; on a tie the earlier offer (so ``*/*`` gets JSON)."""
    return request.accept_mimetypes.best_match(offers, default=offers[0]) or offers[0]


def _prefers_html() -> bool:
    return _negotiate("application/json", VC_LD, JSON_LD, "text/html") == "text/html"


def _json(document: Any, mimetype: str = "application/json") -> Response:
    return Response(json.dumps(document, ensure_ascii=False), mimetype=mimetype)


@blueprint.get("/")
def index() -> str:
    catalog = services().catalog
    return render_template(
        "index.html",
        issuer=services().issuer_profile,
        frameworks=[
            (framework, catalog.levels(framework.slug)) for framework in catalog.frameworks()
        ],
    )


@blueprint.get("/issuer")
def issuer_profile() -> Response | str:
    profile = services().issuer_document()
    if _prefers_html():
        return render_template("issuer.html", profile=profile)
    return _json(profile, _negotiate("application/json", JSON_LD))


@blueprint.get("/achievements/<framework>/<level>")
def achievement(framework: str, level: str) -> Response | str:
    template = services().catalog.get(framework, level)
    document = services().achievement_document(template)
    if _prefers_html():
        return render_template("achievement.html", achievement=document, template=template)
    return _json(document)


@blueprint.get("/credentials/<credential_id>")
def credential(credential_id: str) -> Response:
    chosen = _negotiate("application/json", VC_LD, JSON_LD, VC_JWT, "text/html")
    if chosen == "text/html":
        # The earner's page: facts, live status, sharing (issuer/web/earner.py).
        response = earner.credential_page(credential_id)
    else:
        issued = services().earner.public_page(credential_id)
        body = (
            Response(issued.jwt, mimetype=VC_JWT)
            if chosen == VC_JWT
            else Response(issued.credential_json, mimetype=chosen)
        )
        response = _credential_document(body)
    response.vary.add("Accept")
    return response


@blueprint.get("/credentials/<credential_id>.json")
def credential_json(credential_id: str) -> Response:
    issued = services().earner.public_page(credential_id)
    response = Response(issued.credential_json, mimetype="application/json")
    response.headers["Content-Disposition"] = f'inline; filename="{issued.id}.json"'
    return _credential_document(response)


@blueprint.get("/credentials/<credential_id>.jwt")
def credential_jwt(credential_id: str) -> Response:
    issued = services().earner.public_page(credential_id)
    response = Response(issued.jwt, mimetype=VC_JWT)
    response.headers["Content-Disposition"] = f'inline; filename="{issued.id}.jwt"'
    return _credential_document(response)


def _credential_document(response: Response) -> Response:
    """A signed credential never changes, but it can be hidden: revalidated each time by
    its ``ETag``, kept by no shared cache (``issuer.web.earner.PAGE_CACHE``)."""
    response.headers["Cache-Control"] = earner.PAGE_CACHE
    response.add_etag()
    response.make_conditional(request)
    return response
