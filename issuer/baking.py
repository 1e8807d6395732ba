"""Baking: an Open Badges 3.0 credential carried inside its badge image. Pure bytes.

PNG: one ``iTXt`` chunk with the keyword ``openbadgecredential``, uncompressed, whose text
is the credential (JSON) or its VC-JWT. SVG: one ``<openbadges:credential>`` element in the
namespace ``https://purl.imsglobal.org/ob/v3p0``, holding a VC-JWT in its ``verify``
attribute or the JSON credential as its text.

Reading is strict because the image comes from anyone: every PNG chunk length is checked
against what is left, every CRC is checked, a second credential chunk or a compressed one
is refused (two readers could pick different ones), and SVG is parsed with DTDs and
entities forbidden. Open Badges 2.0 images (keyword / element ``openbadges``) are
recognised and refused as a version this service does not verify.
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

import defusedxml.ElementTree
from defusedxml import DefusedXmlException

from issuer.errors import InvalidInput, PayloadTooLarge

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OB3_PNG_KEYWORD = b"openbadgecredential"
OB2_PNG_KEYWORD = b"openbadges"
OB3_SVG_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
OB2_SVG_NAMESPACE = "http://openbadges.org"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"

MAX_IMAGE_BYTES = 4 * 1024 * 1024
MAX_CREDENTIAL_BYTES = 256 * 1024
_MAX_CHUNK_LENGTH = 2**31 - 1
_TEXT_CHUNKS = {b"tEXt", b"zTXt", b"iTXt"}
_CREDENTIAL_ELEMENT = f"{{{OB3_SVG_NAMESPACE}}}credential"
_OB2_ELEMENT = f"{{{OB2_SVG_NAMESPACE}}}assertion"
_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)


class BakingError(InvalidInput):
    """An image that does not carry exactly one readable Open Badges 3.0 credential."""

    code = "baked_image_invalid"


def is_png(data: bytes) -> bool:
    return data.startswith(PNG_SIGNATURE)


def looks_like_svg(data: bytes) -> bool:
    """True when ``data`` starts (after a BOM, whitespace, declaration, comments) like XML."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf").lstrip()
    return head.startswith(b"<")


def extract_from_png(png: bytes) -> str:
    """Return the credential text baked into ``png``.

    Raises PayloadTooLarge ``image_too_large``; BakingError with ``png_malformed``,
    ``png_truncated`` (a chunk length beyond the data), ``png_crc_mismatch``,
    ``baked_credential_missing``, ``baked_credential_duplicate``,
    ``baked_credential_compressed``, ``baked_credential_malformed``,
    ``baked_version_unsupported`` (an Open Badges 2.0 image) or ``baked_credential_too_large``.
    """
    found: list[bytes] = []
    ob2 = False
    for chunk_type, data in _png_chunks(png):
        if chunk_type not in _TEXT_CHUNKS:
            continue
        keyword = data.split(b"\x00", 1)[0]
        if keyword == OB3_PNG_KEYWORD:
            if chunk_type != b"iTXt":
                raise BakingError(
                    "baked_credential_compressed",
                    "The credential is in a compressed or legacy text chunk; only an "
                    "uncompressed iTXt chunk is read.",
                )
            found.append(data)
        elif keyword == OB2_PNG_KEYWORD:
            ob2 = True
    if len(found) > 1:
        raise BakingError(
            "baked_credential_duplicate",
            f"The image carries {len(found)} credentials; exactly one is allowed.",
        )
    if not found:
        if ob2:
            raise _ob2_unsupported()
        raise BakingError("baked_credential_missing", "The PNG image carries no credential.")
    return _itxt_text(found[0])


def bake_png(png: bytes, payload: str) -> bytes:
    """Return ``png`` with ``payload`` in one uncompressed ``openbadgecredential`` iTXt chunk.

    Any credential chunk already there is replaced; the new chunk goes right before IEND.
    Raises BakingError as ``extract_from_png`` does for a broken image, and
    ``baked_credential_too_large`` for a payload over 256 KiB.
    """
    text = payload.encode("utf-8")
    if len(text) > MAX_CREDENTIAL_BYTES:
        raise BakingError(
            "baked_credential_too_large",
            f"A baked credential is at most {MAX_CREDENTIAL_BYTES} bytes.",
        )
    chunks = [
        (chunk_type, data)
        for chunk_type, data in _png_chunks(png)
        if not (chunk_type in _TEXT_CHUNKS and data.split(b"\x00", 1)[0] == OB3_PNG_KEYWORD)
    ]
    # keyword NUL, compression flag 0, compression method 0, empty language tag NUL,
    # empty translated keyword NUL, then the UTF-8 text.
    itxt = OB3_PNG_KEYWORD + b"\x00\x00\x00\x00\x00" + text
    out = bytearray(PNG_SIGNATURE)
    for chunk_type, data in chunks:
        if chunk_type == b"IEND":
            out += _png_chunk(b"iTXt", itxt)
        out += _png_chunk(chunk_type, data)
    return bytes(out)


def extract_from_svg(svg: bytes | str) -> str:
    """Return the credential text baked into ``svg``: the ``verify`` attribute (a VC-JWT) or
    the element's text (a JSON credential).

    Raises PayloadTooLarge ``image_too_large``; BakingError with ``svg_malformed``,
    ``svg_forbidden_construct`` (a DTD, entity or external reference), ``svg_not_svg``,
    ``baked_credential_missing``, ``baked_credential_duplicate``,
    ``baked_version_unsupported`` or ``baked_credential_too_large``.
    """
    root = _parse_svg(svg)
    elements = [element for element in root.iter() if element.tag == _CREDENTIAL_ELEMENT]
    if len(elements) > 1:
        raise BakingError(
            "baked_credential_duplicate",
            f"The image carries {len(elements)} credentials; exactly one is allowed.",
        )
    if not elements:
        if any(element.tag == _OB2_ELEMENT for element in root.iter()):
            raise _ob2_unsupported()
        raise BakingError("baked_credential_missing", "The SVG image carries no credential.")
    element = elements[0]
    verify = element.get("verify")
    text = verify if verify is not None else "".join(element.itertext())
    text = text.strip()
    if not text:
        raise BakingError("baked_credential_missing", "The credential element is empty.")
    if len(text.encode("utf-8")) > MAX_CREDENTIAL_BYTES:
        raise BakingError(
            "baked_credential_too_large",
            f"A baked credential is at most {MAX_CREDENTIAL_BYTES} bytes.",
        )
    return text


def bake_svg(svg: str, payload: str) -> str:
    """Return ``svg`` with one ``<openbadges:credential>`` element first inside the root.

    A VC-JWT goes in the ``verify`` attribute, a JSON credential (text starting with ``{``)
    in a CDATA section. Raises BakingError as ``extract_from_svg`` does, including
    ``baked_credential_duplicate`` when the image already carries a credential.
    """
    root = _parse_svg(svg)
    if any(element.tag == _CREDENTIAL_ELEMENT for element in root.iter()):
        raise BakingError(
            "baked_credential_duplicate", "The SVG image already carries a credential."
        )
    if len(payload.encode("utf-8")) > MAX_CREDENTIAL_BYTES:
        raise BakingError(
            "baked_credential_too_large",
            f"A baked credential is at most {MAX_CREDENTIAL_BYTES} bytes.",
        )
    opening = f'<openbadges:credential xmlns:openbadges="{OB3_SVG_NAMESPACE}"'
    if payload.lstrip().startswith("{"):
        # "]]>" cannot appear inside one CDATA section; split it across two.
        body = payload.replace("]]>", "]]]]><![CDATA[>")
        element = f"{opening}><![CDATA[{body}]]></openbadges:credential>"
    else:
        if re.fullmatch(r"[A-Za-z0-9_.\-]+", payload.strip()) is None:
            raise BakingError(
                "baked_credential_malformed", "A VC-JWT holds only base64url and dots."
            )
        element = f'{opening} verify="{payload.strip()}"/>'
    start, end, self_closing = _root_start_tag(svg)
    if self_closing:
        tag_name = svg[start + 1 :].split(None, 1)[0].rstrip("/>")
        return f"{svg[: end - 2]}>{element}</{tag_name}>{svg[end:]}"
    return svg[:end] + element + svg[end:]


def _png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """Every chunk of ``png`` up to and including IEND, each length and CRC checked."""
    if len(png) > MAX_IMAGE_BYTES:
        raise PayloadTooLarge("image_too_large", f"Images are read up to {MAX_IMAGE_BYTES} bytes.")
    if not is_png(png):
        raise BakingError("png_malformed", "The file is not a PNG image.")
    chunks: list[tuple[bytes, bytes]] = []
    offset = len(PNG_SIGNATURE)
    while True:
        if offset + 8 > len(png):
            raise BakingError("png_truncated", "The PNG image ends in the middle of a chunk.")
        length, chunk_type = struct.unpack(">I4s", png[offset : offset + 8])
        if length > _MAX_CHUNK_LENGTH or offset + 12 + length > len(png):
            raise BakingError(
                "png_truncated", "A PNG chunk claims to be longer than what is left of the image."
            )
        if not chunk_type.isalpha():
            raise BakingError("png_malformed", "A PNG chunk has an invalid type.")
        data = png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        if zlib.crc32(chunk_type + data) != crc:
            raise BakingError(
                "png_crc_mismatch", f"The PNG chunk {chunk_type.decode('ascii')} is corrupt (CRC)."
            )
        if not chunks and chunk_type != b"IHDR":
            raise BakingError("png_malformed", "A PNG image must start with its IHDR chunk.")
        chunks.append((chunk_type, data))
        offset += 12 + length
        if chunk_type == b"IEND":
            return chunks


def _png_chunk(chunk_type: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + chunk_type
        + data
        + struct.pack(">I", zlib.crc32(chunk_type + data))
    )


def _itxt_text(data: bytes) -> str:
    parts = data.split(b"\x00", 1)
    rest = parts[1] if len(parts) == 2 else b""
    if len(rest) < 2:
        raise BakingError("baked_credential_malformed", "The iTXt chunk is cut short.")
    compression_flag, compression_method = rest[0], rest[1]
    if compression_flag != 0 or compression_method != 0:
        raise BakingError(
            "baked_credential_compressed",
            "The credential chunk is compressed; Open Badges 3.0 bakes it uncompressed.",
        )
    fields = rest[2:].split(b"\x00", 2)
    if len(fields) != 3:
        raise BakingError("baked_credential_malformed", "The iTXt chunk is cut short.")
    text = fields[2]
    if len(text) > MAX_CREDENTIAL_BYTES:
        raise BakingError(
            "baked_credential_too_large",
            f"A baked credential is at most {MAX_CREDENTIAL_BYTES} bytes.",
        )
    try:
        return text.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise BakingError(
            "baked_credential_malformed", "The credential text is not UTF-8."
        ) from None


def _parse_svg(svg: bytes | str) -> Any:
    raw = svg.encode("utf-8") if isinstance(svg, str) else svg
    if len(raw) > MAX_IMAGE_BYTES:
        raise PayloadTooLarge("image_too_large", f"Images are read up to {MAX_IMAGE_BYTES} bytes.")
    # A bare DOCTYPE naming the SVG 1.1 DTD is common in badge art and harmless (the DTD is
    # never loaded); an internal subset is refused whole: besides entities, its ATTLIST
    # declarations could give the credential element a default attribute one reader sees
    # and another does not.
    if _INTERNAL_SUBSET.search(raw) is not None:
        raise _forbidden_construct()
    try:
        root = defusedxml.ElementTree.fromstring(
            raw, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException:
        raise _forbidden_construct() from None
    except (defusedxml.ElementTree.ParseError, ValueError):
        raise BakingError("svg_malformed", "The SVG image is not well-formed XML.") from None
    if not isinstance(root.tag, str) or root.tag.rsplit("}", 1)[-1] != "svg":
        raise BakingError("svg_not_svg", "The XML document is not an SVG image.")
    return root


def _root_start_tag(svg: str) -> tuple[int, int, bool]:
    """The start and end offsets of the root element's start tag, and whether it is ``/>``.

    Skips the XML declaration, processing instructions, comments and whitespace before the
    root, and quoted attribute values (which may hold ``>``) inside it. ``svg`` has been
    parsed already, so it is well-formed and has no DTD.
    """
    position = 0
    while True:
        position = svg.index("<", position)
        if svg.startswith("<?", position):
            position = svg.index("?>", position) + 2
        elif svg.startswith("<!--", position):
            position = svg.index("-->", position) + 3
        else:
            break
    start = position
    quote = ""
    for index in range(start + 1, len(svg)):
        character = svg[index]
        if quote:
            if character == quote:
                quote = ""
        elif character in "\"'":
            quote = character
        elif character == ">":
            return start, index + 1, svg[index - 1] == "/"
    raise BakingError("svg_malformed", "The SVG root element is not closed.")


def _forbidden_construct() -> BakingError:
    return BakingError(
        "svg_forbidden_construct",
        "The SVG declares entities or a DTD internal subset, which are not read (they can "
        "hide or multiply content).",
    )


def _too_large() -> BakingError:
    return BakingError(
        "baked_credential_too_large", f"A baked credential is at most {MAX_CREDENTIAL_BYTES} bytes."
    )


def _ob2_unsupported() -> BakingError:
    return BakingError(
        "baked_version_unsupported",
        "This is an Open Badges 2.0 image; this service verifies Open Badges 3.0 credentials only.",
    )
