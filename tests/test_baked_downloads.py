"""Baked badge images: a real PNG and an SVG, each carrying the credential byte for byte."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import defusedxml.ElementTree
import pytest
from flask.testing import FlaskClient
from openbadgeslib import baking as openbadges_baking
from openbadgeslib.ob3.ldp import OB3LdpVerifier
from oracles import downloader

from issuer import badge_images

ACHIEVEMENT = "computer-user-support-specialists/advanced"
OB3_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"


@pytest.fixture
def issued(client: FlaskClient, assessor_token: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/awards",
        json={
            "achievement": ACHIEVEMENT,
            "recipient": {"email": "linus@example.org", "name": "Linus Ähnlich"},
        },
        headers={"Authorization": f"Bearer {assessor_token}"},
    )
    assert response.status_code == 201
    result: dict[str, Any] = response.get_json()
    return result


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """Every chunk, with its CRC checked: an independent reader of ours."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    found = []
    offset = 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        data = png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + data) == crc
        found.append((kind, data))
        offset += 12 + length
    return found


def credential_chunks(png: bytes) -> list[bytes]:
    return [
        data
        for kind, data in chunks(png)
        if kind in (b"iTXt", b"tEXt", b"zTXt") and data.startswith(b"openbadgecredential\x00")
    ]


def as_json_download(client: FlaskClient, credential_id: str) -> str:
    return client.get(f"/credentials/{credential_id}.json").get_data(as_text=True)


def test_the_png_is_a_real_image_with_one_uncompressed_credential_chunk(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    response = client.get(f"/credentials/{issued['id']}.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    png = response.data
    width, height = badge_images.png_size(png)
    assert width >= 512 and height >= 512
    kinds = [kind for kind, _data in chunks(png)]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    (chunk,) = credential_chunks(png)
    assert chunks(png)[kinds.index(b"iTXt")][0] == b"iTXt"
    keyword, flags_and_text = chunk.split(b"\x00", 1)
    assert keyword == b"openbadgecredential"
    # compression flag 0, method 0, empty language tag, empty translated keyword
    assert flags_and_text[:4] == b"\x00\x00\x00\x00"
    assert flags_and_text[4:].decode("utf-8") == as_json_download(client, issued["id"])


def test_the_png_is_the_level_art_rendered(client: FlaskClient, issued: dict[str, Any]) -> None:
    png = client.get(f"/credentials/{issued['id']}.png").data
    art = client.get(f"/achievements/{ACHIEVEMENT}.png").data
    idat = [data for kind, data in chunks(png) if kind == b"IDAT"]
    art_idat = [data for kind, data in chunks(art) if kind == b"IDAT"]
    assert idat == art_idat
    # A rendered badge has thousands of distinct bytes of pixels, not a blank canvas.
    assert len(set(zlib.decompress(b"".join(idat)))) > 50


def test_the_svg_has_one_credential_element_in_the_ob3_namespace(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    response = client.get(f"/credentials/{issued['id']}.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    root = defusedxml.ElementTree.fromstring(response.data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    elements = [e for e in root.iter() if e.tag == f"{{{OB3_NAMESPACE}}}credential"]
    assert len(elements) == 1
    assert "".join(elements[0].itertext()) == as_json_download(client, issued["id"])
    assert root.find("{http://www.w3.org/2000/svg}title") is not None


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_baked_images_verify_in_openbadgeslib(
    client: FlaskClient, issued: dict[str, Any], suffix: str
) -> None:
    image = client.get(f"/credentials/{issued['id']}{suffix}").data
    if suffix == ".png":
        text = openbadges_baking.extract_png(image, keyword=openbadges_baking.ITXT_KEYWORD_OB3)
    else:
        text = openbadges_baking.extract_svg(
            image, element=openbadges_baking.SVG_ELEMENT_OB3, text_fallback=True
        )
    assert text == as_json_download(client, issued["id"])
    issuer_did = issued["credential"]["issuer"]["id"]
    OB3LdpVerifier.for_issuer_did(issuer_did).verify(text, download=downloader(client))


@pytest.mark.parametrize(("suffix", "mimetype"), [(".png", "image/png"), (".svg", "image/svg+xml")])
def test_baked_images_verify_in_our_verifier(
    client: FlaskClient, issued: dict[str, Any], suffix: str, mimetype: str
) -> None:
    image = client.get(f"/credentials/{issued['id']}{suffix}").data
    raw = client.post("/api/v1/verify", data=image, content_type=mimetype).get_json()
    assert raw["verified"] is True, raw
    assert raw["credential"]["id"] == issued["credential"]["id"]
    uploaded = client.post(
        "/api/v1/verify",
        data={"file": (io.BytesIO(image), f"badge{suffix}")},
        content_type="multipart/form-data",
    ).get_json()
    assert uploaded["verified"] is True, uploaded


def _without_credential(png: bytes) -> bytes:
    kept = [
        (kind, data)
        for kind, data in chunks(png)
        if not data.startswith(b"openbadgecredential\x00")
    ]
    return _assemble(kept)


def _with_two_credentials(png: bytes) -> bytes:
    found = chunks(png)
    (credential,) = credential_chunks(png)
    return _assemble([*found[:-1], (b"iTXt", credential), found[-1]])


def _assemble(found: list[tuple[bytes, bytes]]) -> bytes:
    out = b"\x89PNG\r\n\x1a\n"
    for kind, data in found:
        out += (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )
    return out


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        (_without_credential, "baked_credential_missing"),
        (_with_two_credentials, "baked_credential_duplicate"),
    ],
)
def test_a_png_that_lost_its_chunk_or_has_two_fails_with_a_clear_code(
    client: FlaskClient, issued: dict[str, Any], damage: Any, code: str
) -> None:
    png = damage(client.get(f"/credentials/{issued['id']}.png").data)
    response = client.post("/api/v1/verify", data=png, content_type="image/png")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code
