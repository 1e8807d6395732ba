"""Reading what someone presents: a PNG or SVG badge, a JSON credential or a VC-JWT.

The kind is decided by the content, never by a file name or a Content-Type: an upload
called ``badge.png`` that holds JSON is read as JSON, and one that holds nothing we know
is refused with ``input_unrecognised``.
"""

from __future__ import annotations

import hashlib
import marshal
import re
from dataclasses import dataclass
from typing import Any

from issuer import baking, strict_json
from issuer.caching import BoundedCache
from issuer.errors import InvalidInput, PayloadTooLarge
from issuer.proofs import vc_jwt

MAX_CREDENTIAL_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
# JSON the strict reader accepted, by the SHA-256 of its bytes and the limits it was read
# under (read_json), per process: up to 256 documents of up to 64 KiB, some 16 MiB at most.
_STRICTLY_READ: BoundedCache[tuple[bytes, int, int, bool], bytes] = BoundedCache(256)
REMEMBERED_JSON_BYTES = 64 * 1024

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
        credential = read_json(
            stripped.encode("utf-8"), max_bytes=MAX_CREDENTIAL_BYTES, max_depth=max_depth
        )
        return PresentedCredential("json" if container == "text" else container, credential)
    if _COMPACT_JWS.fullmatch(stripped):
        return read_jwt(stripped, container="jwt" if container == "text" else container)
    raise InvalidInput(
        "input_unrecognised",
        "This is not a PNG or SVG badge image, a JSON credential or a VC-JWT.",
    )


def read_json(body: bytes, *, max_bytes: int, max_depth: int, require_object: bool = True) -> Any:
    """``strict_json.parse(body, ...)``, with the bytes it accepted remembered.

    A credential is often verified again as the same bytes (an employer's tool checking
    each file it is sent, a page posted again), and the strict reader's walk over every
    member costs several times Python's own JSON reading. Bytes it accepted under the same
    limits are accepted again, as the same value: each caller gets a copy of its own (from
    ``marshal`` bytes of that value, made faster than reading the JSON), so nobody can
    change what the next caller gets. Bytes it refused are read (and refused) each time.

    Raises as ``strict_json.parse``.
    """
    if len(body) > REMEMBERED_JSON_BYTES:
        return strict_json.parse(
            body, max_bytes=max_bytes, max_depth=max_depth, require_object=require_object
        )
    key = (hashlib.sha256(body).digest(), max_bytes, max_depth, require_object)
    known = _STRICTLY_READ.get(key)
    if known is not None:
        # marshal.loads runs no code: these bytes are marshal.dumps of a JSON value this
        # process read, never outside input.
        return marshal.loads(known)  # noqa: S302
    value = strict_json.parse(
        body, max_bytes=max_bytes, max_depth=max_depth, require_object=require_object
    )
    _STRICTLY_READ.put(key, marshal.dumps(value))
    return value


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
