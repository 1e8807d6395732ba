"""Bitstring Status Lists (W3C Bitstring Status List v1.0): the bits and their encoding.

Everything here is pure. A status list is a string of bits; bit 0 is the left-most
(most significant) bit of the first byte. Its published form, ``encodedList``, is the
multibase base64url (prefix ``u``, no padding) of the GZIP of the bytes.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from typing import Any

from issuer.errors import InvalidInput

# The spec's minimum size: fewer entries would let an observer of the list narrow down
# whose credential a bit belongs to (herd privacy).
MINIMUM_SIZE = 131_072
PURPOSE_REVOCATION = "revocation"
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_TYPE = "BitstringStatusList"
CREDENTIAL_TYPE = "BitstringStatusListCredential"
MULTIBASE_BASE64URL = "u"
VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"

# A list we decode may come from elsewhere; refuse to inflate more than this, so a small
# crafted GZIP cannot exhaust memory (16 MiB is 128 times the minimum list).
MAX_DECODED_BYTES = 16 * 1024 * 1024


def empty(size: int) -> bytes:
    """A list of ``size`` entries, all clear. Raises ValueError unless ``size`` is a positive
    multiple of 8."""
    if size <= 0 or size % 8:
        raise ValueError("a status list holds a positive multiple of 8 entries")
    return bytes(size // 8)


def get_bit(bits: bytes, index: int) -> bool:
    """Whether entry ``index`` is set. Raises IndexError outside the list."""
    _check_index(bits, index)
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def set_bit(bits: bytes, index: int) -> bytes:
    """A copy of ``bits`` with entry ``index`` set. Raises IndexError outside the list."""
    _check_index(bits, index)
    changed = bytearray(bits)
    changed[index // 8] |= 0x80 >> (index % 8)
    return bytes(changed)


def set_indexes(bits: bytes) -> list[int]:
    """Every index that is set, ascending."""
    found: list[int] = []
    for byte_index, byte in enumerate(bits):
        if byte:
            found.extend(byte_index * 8 + bit for bit in range(8) if byte & (0x80 >> bit))
    return found


def encode(bits: bytes) -> str:
    """The ``encodedList`` of ``bits``: ``u`` + base64url (no padding) of the GZIP.

    The GZIP header's time is fixed at zero, so equal lists encode equally.
    """
    compressed = gzip.compress(bits, compresslevel=9, mtime=0)
    return MULTIBASE_BASE64URL + base64.urlsafe_b64encode(compressed).decode("ascii").rstrip("=")


def decode(encoded_list: str, *, max_bytes: int = MAX_DECODED_BYTES) -> bytes:
    """The bits of an ``encodedList``.

    Raises InvalidInput ``status_list_encoding_invalid`` when it is not ``u`` + strict
    base64url of one complete GZIP member, and ``status_list_too_large`` when it inflates
    to more than ``max_bytes``.
    """
    if not isinstance(encoded_list, str) or not encoded_list.startswith(MULTIBASE_BASE64URL):
        raise InvalidInput(
            "status_list_encoding_invalid", "encodedList must start with the multibase prefix u."
        )
    payload = encoded_list[1:]
    if not payload or "=" in payload:
        raise InvalidInput(
            "status_list_encoding_invalid", "encodedList must be unpadded base64url."
        )
    try:
        compressed = base64.b64decode(
            payload + "=" * (-len(payload) % 4), altchars=b"-_", validate=True
        )
    except (binascii.Error, ValueError) as error:
        raise InvalidInput(
            "status_list_encoding_invalid", "encodedList is not base64url."
        ) from error
    return _gunzip(compressed, max_bytes)


def status_entry(list_url: str, index: int) -> dict[str, Any]:
    """The ``credentialStatus`` object that points at entry ``index`` of ``list_url``.

    ``statusListIndex`` is a string, as Bitstring Status List v1.0 requires.
    """
    return {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": PURPOSE_REVOCATION,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def status_list_credential(
    *,
    list_url: str,
    issuer_id: str,
    bits: bytes,
    valid_from: str,
    valid_until: str,
    ttl_milliseconds: int,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` publishing ``bits`` at ``list_url``.

    The issuer is its id as a plain string, as in the Bitstring Status List examples; it
    is the same id as the ``issuer`` of every credential that points at the list. The VC
    2.0 context defines every term used here.
    """
    return {
        "@context": [VC_V2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": issuer_id,
        "validFrom": valid_from,
        "validUntil": valid_until,
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": LIST_TYPE,
            "statusPurpose": PURPOSE_REVOCATION,
            "encodedList": encode(bits),
            "ttl": ttl_milliseconds,
        },
    }


def _gunzip(compressed: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    try:
        bits = inflater.decompress(compressed, max_bytes)
    except zlib.error as error:
        raise InvalidInput(
            "status_list_encoding_invalid", "encodedList is not GZIP data."
        ) from error
    if inflater.unconsumed_tail:
        raise InvalidInput(
            "status_list_too_large", f"encodedList inflates to more than {max_bytes} bytes."
        )
    if not inflater.eof or inflater.unused_data:
        raise InvalidInput(
            "status_list_encoding_invalid", "encodedList is not exactly one complete GZIP member."
        )
    return bits


def _check_index(bits: bytes, index: int) -> None:
    if not 0 <= index < len(bits) * 8:
        raise IndexError(f"status list index {index} is outside 0..{len(bits) * 8 - 1}")
