"""Reading what someone presents: a PNG or SVG badge, a JSON credential or a VC-JWT.

The kind is decided by the content, never by a file name or a Content-Type: an upload
called ``badge.png`` that holds JSON is read as JSON, and one that holds nothing we know
is refused with ``input_unrecognised``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from issuer import baking, strict_json
from issuer.errors import InvalidInput, PayloadTooLarge
from issuer.proofs import vc_jwt

MAX_CREDENTIAL_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class PresentedCredential:
    """A credential as it was presented: the container it came in and how it is secured.

    ``jwt`` is the compact token when the credential is a VC-JWT; ``credential`` is then
    the payload read WITHOUT checking the signature (the proof check does that).
    """

    container: str
    credential: dict[str, Any]
    jwt: str | None = None

    @property
    def form(self) -> str:
        return "vc-jwt" if self.jwt is not None else "data-integrity"

    def describe(self) -> str:
        kind = "a VC-JWT" if self.jwt is not None else "a JSON credential"
        where = {
            "png": " baked in a PNG image",
            "svg": " baked in an SVG image",
        }.get(self.container, "")
        return f"Read {kind}{where}."


def read_presented(data: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> PresentedCredential:
    """Read a credential from raw bytes (an image, JSON or a compact JWS).

    Raises PayloadTooLarge (``image_too_large``, ``payload_too_large``), BakingError
    (``png_*``, ``svg_*``, ``baked_*``), InvalidInput ``input_unrecognised`` or ``json_*``,
    and ProofError ``jwt_malformed`` / ``jwt_too_large``.
    """
    if baking.is_png(data):
        return read_text(baking.extract_from_png(data), container="png", max_depth=max_depth)
    text = _decode(data)
    stripped = text.lstrip("\ufeff").strip()
    if stripped.startswith("<"):
        return read_text(baking.extract_from_svg(data), container="svg", max_depth=max_depth)
    return read_text(stripped, container="text", max_depth=max_depth)


def read_text(text: str, *, container: str, max_depth: int = MAX_JSON_DEPTH) -> PresentedCredential:
    """Read a credential from text: a JSON object or a compact JWS.

    Raises as ``read_presented``.
    """
    stripped = text.strip()
    if len(stripped.encode("utf-8")) > MAX_CREDENTIAL_BYTES:
        raise PayloadTooLarge(
            "payload_too_large", f"A credential is read up to {MAX_CREDENTIAL_BYTES} bytes."
        )
    if stripped.startswith("{"):
        credential = strict_json.parse(
            stripped.encode("utf-8"), max_bytes=MAX_CREDENTIAL_BYTES, max_depth=max_depth
        )
        return PresentedCredential("json" if container == "text" else container, credential)
    if _COMPACT_JWS.fullmatch(stripped):
        return read_jwt(stripped, container="jwt" if container == "text" else container)
    raise InvalidInput(
        "input_unrecognised",
        "This is not a PNG or SVG badge image, a JSON credential or a VC-JWT.",
    )


def read_jwt(token: str, *, container: str = "jwt") -> PresentedCredential:
    """Read a compact JWS credential (signature NOT checked). Raises ProofError."""
    _header, credential = vc_jwt.read_unverified(token.strip())
    return PresentedCredential(container, credential, jwt=token.strip())


def read_document(document: Any) -> PresentedCredential:
    """A credential that arrived already parsed (``{"credential": {...}}``).

    Raises InvalidInput ``credential_not_object``.
    """
    if not isinstance(document, dict):
        raise InvalidInput("credential_not_object", "A credential is a JSON object.")
    return PresentedCredential("json", document)


def _decode(data: bytes) -> str:
    if len(data) > baking.MAX_IMAGE_BYTES:
        raise PayloadTooLarge("payload_too_large", "The upload is too large.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        if data.lstrip().startswith(b"{"):
            raise InvalidInput(
                "json_not_utf8", f"The JSON is not valid UTF-8 (byte {error.start})."
            ) from None
        raise InvalidInput(
            "input_unrecognised",
            "This is not a PNG or SVG badge image, a JSON credential or a VC-JWT "
            f"(it is not UTF-8 text either; byte {error.start}).",
        ) from None
