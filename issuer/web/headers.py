"""Headers every response carries: what a browser may load, embed, guess and share.

- Pages load only this service's own scripts, styles and images (badge art is inline
  ``data:`` images) and cannot be framed, so the assessors' forms cannot be clickjacked;
  no response is content-sniffed; HTTPS responses ask browsers to stay on HTTPS.
- Documents for programs (credentials, their images, the issuer profile, achievements,
  keys, status lists: any GET answer that is not a page, outside the assessors'
  workspace) may be read by any origin, so that verifiers and wallets running in a
  browser can fetch them. They hold nothing a cookie unlocks.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HSTS = "max-age=31536000"


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)


def _add_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if (
        request.method in ("GET", "HEAD")
        and response.mimetype != "text/html"
        and not request.path.startswith("/assess/")
    ):
        headers.setdefault("Access-Control-Allow-Origin", "*")
    return response
