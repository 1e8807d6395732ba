"""The bitstring and its encoding: round trips, bit order, and refusals."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openbadgeslib.ob3.status import decode_encoded_list
from support import SHARED

from issuer import status_list
from issuer.errors import InvalidInput

SAMPLES = SHARED / "conformance" / "ob3" / "test-vectors" / "validator-samples"


def _sample(name: str) -> dict[str, object]:
    path = SAMPLES / "bitstring-status-list" / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared conformance data is not checked out here")
    document: dict[str, object] = json.loads(path.read_text("utf-8"))
    return document


def _b64url(data: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


@st.composite
def lists(draw: st.DrawFn) -> tuple[int, set[int]]:
    size = draw(st.integers(min_value=1, max_value=512)) * 8
    indexes = draw(st.sets(st.integers(min_value=0, max_value=size - 1), max_size=64))
    return size, indexes


@given(lists())
def test_decode_inverts_encode(case: tuple[int, set[int]]) -> None:
    size, indexes = case
    bits = status_list.empty(size)
    for index in indexes:
        bits = status_list.set_bit(bits, index)
    encoded = status_list.encode(bits)
    assert encoded.startswith("u") and "=" not in encoded
    assert status_list.decode(encoded) == bits
    assert status_list.set_indexes(bits) == sorted(indexes)
    # An implementation we did not write reads the same bits.
    assert decode_encoded_list(encoded) == bits


def test_bit_zero_is_the_leftmost_bit_of_the_first_byte() -> None:
    bits = status_list.empty(16)
    assert status_list.set_bit(bits, 0) == b"\x80\x00"
    assert status_list.set_bit(bits, 7) == b"\x01\x00"
    assert status_list.set_bit(bits, 15) == b"\x00\x01"
    assert status_list.get_bit(b"\x00\x01", 15)
    assert not status_list.get_bit(b"\x00\x01", 14)


def test_the_1edtech_sample_list_reads_index_23_revoked() -> None:
    listed = _sample("status-list-credential.json")
    subject = listed["credentialSubject"]
    assert isinstance(subject, dict)
    bits = status_list.decode(subject["encodedList"])
    assert len(bits) * 8 == status_list.MINIMUM_SIZE
    assert status_list.set_indexes(bits) == [23]
    for name in ("credential-status-revoked.json", "credential-status-revoked-blank-nodes.json"):
        entry = _sample(name)["credentialStatus"]
        assert isinstance(entry, dict)
        assert status_list.get_bit(bits, int(entry["statusListIndex"])), name


def test_encoding_is_deterministic() -> None:
    bits = status_list.set_bit(status_list.empty(status_list.MINIMUM_SIZE), 99)
    assert status_list.encode(bits) == status_list.encode(bytes(bits))


@pytest.mark.parametrize(
    ("encoded", "code"),
    [
        pytest.param("", "status_list_encoding_invalid", id="empty"),
        pytest.param(
            "z" + _b64url(gzip.compress(b"\0"))[1:],
            "status_list_encoding_invalid",
            id="not-multibase-u",
        ),
        pytest.param("u", "status_list_encoding_invalid", id="no-data"),
        pytest.param(
            _b64url(gzip.compress(bytes(3))) + "=", "status_list_encoding_invalid", id="padded"
        ),
        pytest.param("u+/+/", "status_list_encoding_invalid", id="standard-alphabet"),
        pytest.param(_b64url(b"not gzip at all"), "status_list_encoding_invalid", id="not-gzip"),
        pytest.param(
            _b64url(gzip.compress(bytes(64))[:-6]), "status_list_encoding_invalid", id="truncated"
        ),
        pytest.param(
            _b64url(gzip.compress(bytes(8)) + b"junk"),
            "status_list_encoding_invalid",
            id="trailing-data",
        ),
        pytest.param(
            _b64url(gzip.compress(bytes(status_list.MAX_DECODED_BYTES + 1))),
            "status_list_too_large",
            id="gzip-bomb",
        ),
    ],
)
def test_decode_refuses(encoded: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        status_list.decode(encoded)
    assert caught.value.code == code


def test_decode_caps_the_inflated_size() -> None:
    encoded = status_list.encode(bytes(1024))
    assert len(status_list.decode(encoded, max_bytes=1024)) == 1024
    with pytest.raises(InvalidInput) as caught:
        status_list.decode(encoded, max_bytes=1023)
    assert caught.value.code == "status_list_too_large"


@pytest.mark.parametrize("size", [0, -8, 7, 12])
def test_a_list_holds_a_positive_multiple_of_8(size: int) -> None:
    with pytest.raises(ValueError):
        status_list.empty(size)


@pytest.mark.parametrize("index", [-1, 16])
def test_indexes_outside_the_list_are_refused(index: int) -> None:
    with pytest.raises(IndexError):
        status_list.get_bit(bytes(2), index)
    with pytest.raises(IndexError):
        status_list.set_bit(bytes(2), index)


def test_status_entry_shape() -> None:
    entry = status_list.status_entry("https://badges.example.test/status/3", 4096)
    assert entry == {
        "id": "https://badges.example.test/status/3#4096",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "4096",
        "statusListCredential": "https://badges.example.test/status/3",
    }


def test_status_list_credential_shape() -> None:
    document = status_list.status_list_credential(
        list_url="https://badges.example.test/status/3",
        issuer_id="did:web:badges.example.test",
        bits=status_list.set_bit(status_list.empty(64), 5),
        valid_from="2026-01-01T00:00:00Z",
        valid_until="2026-01-02T00:00:00Z",
        ttl_milliseconds=300_000,
    )
    assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    subject = document["credentialSubject"]
    assert subject["id"] == "https://badges.example.test/status/3#list"
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "revocation"
    assert status_list.set_indexes(status_list.decode(subject["encodedList"])) == [5]
