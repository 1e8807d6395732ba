"""HTTP for wallets: OpenID4VCI 1.0 (metadata, offers, token, nonce, credential) and the
VC-API exchange the Learner Credential Wallet follows (``issuer.wallet`` says how).

Every endpoint is rate limited per client address (``issuer.web.rate_limit``), answers
``Cache-Control: no-store`` (each answer holds or concerns a secret) and refuses bad input
with the protocols' error body ``{"error", "error_description"}`` plus our stable ``code``,
never a 500. The metadata documents are public and readable cross-origin. The earner's
private page gets its "Add to your wallet" section from ``page_section``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, json, request

from issuer import badge_images, strict_json
from issuer.errors import InvalidInput, IssuerError, NotFound, TooManyRequests
from issuer.wallet.offers import WalletError
from issuer.wallet.openid4vci import CREDENTIAL_PATH, NONCE_PATH, OFFERS_PATH, TOKEN_PATH
from issuer.wallet.service import WalletService
from issuer.wallet.vc_api import EXCHANGES_PATH
from issuer.web import services
from issuer.web.rate_limit import RateLimiter

blueprint = Blueprint("wallet", __name__)

# Requests a minute per client address to the wallet endpoints, in each worker process: a
# claim takes about six, so this is ten claims a minute, and far too few to guess a code.
RATE_PER_MINUTE = 60
_STATUS_BY_ERROR = {
    "invalid_token": 401,
    "invalid_client": 401,
    "credential_request_denied": 403,
    "rate_limited": 429,
}


def wallet() -> WalletService:
    return services().wallet


def page_section(credential_id: str) -> dict[str, Any]:
    """What the earner's private page shows under "Add to your wallet": fresh offers and
    their QR codes, or ``wallet: None`` for a revoked award."""
    offers = wallet().page_offers(credential_id)
    if offers is None:
        return {"wallet": None}
    return {
        "wallet": offers,
        "wallet_qr": {
            "openid4vci": badge_images.qr_svg(
                offers.openid4vci_link, title="QR code for an OpenID4VCI wallet"
            ),
            "lcw": badge_images.qr_svg(
                offers.lcw_link, title="QR code for the Learner Credential Wallet"
            ),
        },
    }


@blueprint.before_request
def _limit() -> None:
    limiter: RateLimiter = current_app.extensions.setdefault(
        "issuer_wallet_rate_limit", RateLimiter(RATE_PER_MINUTE)
    )
    limiter.take(request.remote_addr or "")


@blueprint.get("/.well-known/openid-credential-issuer")
def credential_issuer_metadata() -> Response:
    return _public(wallet().openid4vci.credential_issuer_metadata())


@blueprint.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata() -> Response:
    return _public(wallet().openid4vci.authorization_server_metadata())


@blueprint.get(OFFERS_PATH + "<locator>")
def credential_offer(locator: str) -> Response:
    return _answer(wallet().openid4vci.credential_offer(locator))


@blueprint.post(TOKEN_PATH)
def token() -> Response:
    if request.mimetype != "application/x-www-form-urlencoded":
        raise WalletError(
            "invalid_request",
            "unsupported_media_type",
            "Send the token request as application/x-www-form-urlencoded.",
        )
    form = {key: request.form.get(key, "") for key in request.form}
    return _answer(wallet().openid4vci.token(form))


@blueprint.post(NONCE_PATH)
def nonce() -> Response:
    return _answer(wallet().openid4vci.nonce())


@blueprint.post(CREDENTIAL_PATH)
def credential() -> Response:
    scheme, _, access_token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not access_token.strip():
        raise WalletError(
            "invalid_token", "token_missing", "Send the access token: Authorization: Bearer …"
        )
    body = _json_body(required=True)
    answer = wallet().openid4vci.credential(access_token.strip(), body, address=request.remote_addr)
    return _answer(answer)


@blueprint.post(EXCHANGES_PATH + "<locator>")
def exchange(locator: str) -> Response:
    body = _json_body(required=False)
    return _answer(wallet().vc_api.answer(locator, body, address=request.remote_addr))


def _json_body(*, required: bool) -> Any:
    raw = request.get_data(cache=False)
    if not raw.strip() and not required:
        return None
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise WalletError(
            "invalid_request", "unsupported_media_type", "Send the body as application/json."
        )
    config = current_app.config
    try:
        return strict_json.parse(
            raw, max_bytes=config["MAX_BODY_BYTES"], max_depth=config["MAX_JSON_DEPTH"]
        )
    except InvalidInput as error:
        raise WalletError("invalid_request", error.code, error.message) from None


def _answer(document: Any, status: int = 200) -> Response:
    response = Response(json.dumps(document), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _public(document: dict[str, Any]) -> Response:
    response = Response(json.dumps(document), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.errorhandler(IssuerError)
def _refused(error: IssuerError) -> Response:
    """Every refusal in the protocols' shape; never a 500 for what a wallet sent."""
    if isinstance(error, WalletError):
        protocol_error = error.error
    elif isinstance(error, TooManyRequests):
        protocol_error = "rate_limited"
    elif isinstance(error, NotFound | InvalidInput):
        protocol_error = "invalid_request"
    else:
        # Keys that cannot sign, a schema check of our own failing: our fault, not theirs.
        current_app.logger.error("Wallet request failed: %s", error.code)
        return _error("server_error", error.code, "The credential could not be issued.", 500)
    status = _STATUS_BY_ERROR.get(protocol_error, 400)
    if isinstance(error, NotFound) or error.code == "offer_not_found":
        status = 404
    response = _error(protocol_error, error.code, error.message, status)
    if isinstance(error, TooManyRequests):
        response.headers["Retry-After"] = str(error.retry_after)
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer error="{protocol_error}"'
    return response


def _error(protocol_error: str, code: str, description: str, status: int) -> Response:
    body = {"error": protocol_error, "error_description": description, "code": code}
    return _answer(body, status)


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
