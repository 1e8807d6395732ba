"""Baking: a credential in a PNG iTXt chunk or an SVG element, and every broken image refused."""

from __future__ import annotations

import struct
import zlib

import pytest
from support import SHARED

from issuer import baking
from issuer.errors import InvalidInput, PayloadTooLarge

BAKED = SHARED / "conformance" / "ob3" / "test-vectors" / "validator-samples" / "baked"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"
CREDENTIAL = '{"@context": ["https://www.w3.org/ns/credentials/v2"], "name": "]]> tricky"}'
SVG = (
    '<?xml version="1.0"?>\n<!-- art --><svg xmlns="http://www.w3.org/2000/svg" '
    'viewBox="0 0 1 1" data-x="a>b"><rect width="1" height="1"/></svg>'
)


def chunk(chunk_type: bytes, data: bytes, *, crc: int | None = None) -> bytes:
    checksum = zlib.crc32(chunk_type + data) if crc is None else crc
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", checksum)


def small_png(*extra: bytes) -> bytes:
    """A valid 1x1 grey PNG, with ``extra`` chunks before IEND."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")
    return (
        baking.PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + b"".join(extra)
        + chunk(b"IEND", b"")
    )


def itxt(text: bytes, *, keyword: bytes = baking.OB3_PNG_KEYWORD, flag: int = 0) -> bytes:
    return chunk(b"iTXt", keyword + b"\x00" + bytes([flag, 0]) + b"\x00\x00" + text)


@pytest.mark.parametrize("payload", [JWT, CREDENTIAL])
def test_png_round_trip(payload: str) -> None:
    baked = baking.bake_png(small_png(), payload)
    assert baking.extract_from_png(baked) == payload


def test_baking_a_png_twice_replaces_the_credential() -> None:
    baked = baking.bake_png(baking.bake_png(small_png(), "first.a.b"), JWT)
    assert baking.extract_from_png(baked) == JWT
    assert baked.count(baking.OB3_PNG_KEYWORD) == 1


@pytest.mark.parametrize("payload", [JWT, CREDENTIAL])
def test_svg_round_trip(payload: str) -> None:
    baked = baking.bake_svg(SVG, payload)
    assert baking.extract_from_svg(baked) == payload
    assert 'data-x="a>b"' in baked


def test_a_self_closing_svg_root_is_opened() -> None:
    baked = baking.bake_svg('<svg xmlns="http://www.w3.org/2000/svg"/>', JWT)
    assert baking.extract_from_svg(baked) == JWT


@pytest.mark.parametrize(
    ("png", "code"),
    [
        (small_png(itxt(b"a.b.c"), itxt(b"d.e.f")), "baked_credential_duplicate"),
        (small_png(itxt(zlib.compress(b"a.b.c"), flag=1)), "baked_credential_compressed"),
        (
            small_png(chunk(b"zTXt", baking.OB3_PNG_KEYWORD + b"\x00\x00" + zlib.compress(b"x"))),
            "baked_credential_compressed",
        ),
        (
            small_png(chunk(b"iTXt", baking.OB3_PNG_KEYWORD + b"\x00\x00\x00\x00\x00a", crc=1)),
            "png_crc_mismatch",
        ),
        (small_png()[:-12] + struct.pack(">I", 10**6) + b"IEND", "png_truncated"),
        (small_png()[:30], "png_truncated"),
        (small_png(), "baked_credential_missing"),
        (
            small_png(chunk(b"tEXt", b"openbadges\x00https://example.org/a")),
            "baked_version_unsupported",
        ),
        (small_png(itxt(b"\xff\xfe")), "baked_credential_malformed"),
        (b"GIF89a not a png", "png_malformed"),
    ],
    ids=[
        "two credential chunks",
        "compressed iTXt",
        "zTXt",
        "bad CRC",
        "lying length",
        "cut short",
        "no credential",
        "Open Badges 2.0",
        "not UTF-8",
        "not a PNG",
    ],
)
def test_broken_pngs_are_refused(png: bytes, code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        baking.extract_from_png(png)
    assert raised.value.code == code


def test_an_oversized_image_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        baking.extract_from_png(baking.PNG_SIGNATURE + b"\x00" * baking.MAX_IMAGE_BYTES)


NS = 'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"'


@pytest.mark.parametrize(
    ("svg", "code"),
    [
        (
            '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
            "svg_forbidden_construct",
        ),
        (
            '<!DOCTYPE svg [<!ATTLIST x verify CDATA "a.b.c">]><svg xmlns="http://www.w3.org/2000/svg"/>',
            "svg_forbidden_construct",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><!ENTITY x SYSTEM "file:///etc/passwd"></svg>',
            "svg_malformed",
        ),
        ("<svg", "svg_malformed"),
        ('<html xmlns="http://www.w3.org/1999/xhtml"/>', "svg_not_svg"),
        ('<svg xmlns="http://www.w3.org/2000/svg"/>', "baked_credential_missing"),
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" {NS}><openbadges:credential verify="a.b.c"/>'
            '<openbadges:credential verify="d.e.f"/></svg>',
            "baked_credential_duplicate",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org">'
            '<openbadges:assertion verify="https://example.org/a"/></svg>',
            "baked_version_unsupported",
        ),
    ],
    ids=[
        "entity",
        "attlist default",
        "entity in body",
        "not XML",
        "not SVG",
        "no credential",
        "two credentials",
        "Open Badges 2.0",
    ],
)
def test_broken_svgs_are_refused(svg: str, code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        baking.extract_from_svg(svg)
    assert raised.value.code == code


def test_a_plain_doctype_is_read() -> None:
    svg = (
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'
        f'<svg xmlns="http://www.w3.org/2000/svg" {NS}>'
        f'<openbadges:credential verify="{JWT}"/></svg>'
    )
    assert baking.extract_from_svg(svg) == JWT


@pytest.mark.parametrize(
    "name", ["simple-json.png", "simple-jwt.png", "simple-json.svg", "simple-jwt.svg"]
)
def test_the_1edtech_baked_samples_are_read(name: str) -> None:
    if not BAKED.exists():
        pytest.skip(f"{BAKED} is absent: the shared conformance data is not checked out here")
    data = (BAKED / name).read_bytes()
    text = baking.extract_from_png(data) if name.endswith(".png") else baking.extract_from_svg(data)
    assert text.startswith("{") or text.count(".") == 2
