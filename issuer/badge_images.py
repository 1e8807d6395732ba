"""Raster and QR images for sharing: the badge art as PNG, a page URL as a QR code. Pure.

The badge art is an SVG (``issuer/badge_art.py``) embedded in each Achievement as a
``data:`` URI. Social previews and baked PNG downloads need a raster image, rendered here by
resvg (a Rust renderer shipped as a wheel, so no system library is needed); it draws text
with the fonts installed on the machine, DejaVu Sans first, as the art asks.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import struct

import resvg_py
import segno

from issuer.errors import InvalidInput

SVG_DATA_URI_PREFIX = "data:image/svg+xml;base64,"
# Large enough for LinkedIn and Open Graph previews (which want at least 400 px) and for
# a crisp print; the issue asks for at least 512 px.
PNG_SIZE = 512
_PNG_CACHE_ENTRIES = 64
_QR_CACHE_ENTRIES = 2048


def svg_from_data_uri(data_uri: str) -> str:
    """The SVG text of an Achievement's ``image.id``.

    Raises InvalidInput ``badge_image_invalid`` when it is not a base64 SVG ``data:`` URI.
    """
    if not data_uri.startswith(SVG_DATA_URI_PREFIX):
        raise InvalidInput("badge_image_invalid", "The badge image is not an SVG data URI.")
    try:
        return base64.b64decode(data_uri[len(SVG_DATA_URI_PREFIX) :], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "badge_image_invalid", "The badge image is not valid base64 SVG."
        ) from None


def render_png(svg: str, size: int = PNG_SIZE) -> bytes:
    """``svg`` rendered to a square PNG ``size`` pixels wide (badge art is square).

    Rendering takes tens of milliseconds, and a handful of level images are asked for again
    and again, so results are cached by the SVG's digest.
    Raises InvalidInput ``badge_image_invalid`` when resvg cannot render it.
    """
    return _render_cached(hashlib.sha256(svg.encode("utf-8")).hexdigest(), svg, size)


@functools.lru_cache(maxsize=_PNG_CACHE_ENTRIES)
def _render_cached(_digest: str, svg: str, size: int) -> bytes:
    try:
        return bytes(resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size))
    except ValueError as error:
        raise InvalidInput(
            "badge_image_invalid", f"The badge image cannot be drawn: {error}"
        ) from None


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk. Raises InvalidInput ``png_malformed``."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise InvalidInput("png_malformed", "The file is not a PNG image.")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@functools.lru_cache(maxsize=_QR_CACHE_ENTRIES)
def qr_svg(text: str, *, title: str) -> str:
    """A QR code of ``text`` as an SVG document with a ``<title>`` for screen readers.

    Medium error correction survives a smudged print; the quiet zone is the standard four
    modules, dark on white for any scanner. Drawing one takes milliseconds and a page's
    link never changes, so codes are remembered (a few kilobytes each).
    """
    code = segno.make(text, error="m", micro=False)
    svg = code.svg_inline(scale=4, border=4, dark="#000000", light="#ffffff", title=title)
    return str(svg)
