"""Multibase (base58btc, prefix ``z``; base64url without padding, prefix ``u``) and Multikey
encoding of Ed25519 public keys.

Pure functions, bytes in and bytes out. Used for ``proofValue`` in Data Integrity
proofs (base58btc; base64url for ``ecdsa-sd-2023``) and ``publicKeyMultibase`` in the DID
document. Decoding is strict: the ``base58`` package silently strips trailing whitespace,
and Python's base64 decoder skips characters outside its alphabet, so every character is
checked against the alphabet first and a value has exactly one accepted spelling.
"""

from __future__ import annotations

import base64
import re

import base58

from issuer.errors import InvalidInput

BASE58BTC_PREFIX = "z"
BASE64URL_PREFIX = "u"
ED25519_PUBLIC_KEY_LENGTH = 32
# The multicodec code for an Ed25519 public key (0xed) as an unsigned varint.
ED25519_PUB_MULTICODEC = b"\xed\x01"

_BASE58BTC_ALPHABET = re.compile(r"[1-9A-HJ-NP-Za-km-z]*")
_BASE64URL_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def encode_base58btc(data: bytes) -> str:
    """Return ``data`` as a multibase base58btc string (``z`` followed by base58)."""
    return BASE58BTC_PREFIX + base58.b58encode(data).decode("ascii")


def decode_base58btc(text: str) -> bytes:
    """Return the bytes of a multibase base58btc string.

    Raises:
        InvalidInput: ``multibase_unsupported`` if ``text`` is not a string starting
            with ``z``; ``multibase_invalid`` if a character is outside the base58btc
            alphabet.
    """
    if not isinstance(text, str) or not text.startswith(BASE58BTC_PREFIX):
        raise InvalidInput(
            "multibase_unsupported",
            "A multibase value must be a string starting with 'z' (base58btc).",
        )
    body = text[len(BASE58BTC_PREFIX) :]
    if _BASE58BTC_ALPHABET.fullmatch(body) is None:
        raise InvalidInput(
            "multibase_invalid", "The multibase value holds characters outside base58btc."
        )
    return base58.b58decode(body)


def encode_base64url(data: bytes) -> str:
    """Return ``data`` as a multibase base64url-no-pad string (``u`` followed by base64url)."""
    return BASE64URL_PREFIX + base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def decode_base64url(text: str) -> bytes:
    """Return the bytes of a multibase base64url-no-pad string (``u`` followed by base64url).

    Raises:
        InvalidInput: ``multibase_unsupported`` if ``text`` is not a string starting
            with ``u``; ``multibase_invalid`` for a character outside the base64url
            alphabet, padding, a length no encoding has, or unused bits that are not zero
            (so that one value has one spelling).
    """
    if not isinstance(text, str) or not text.startswith(BASE64URL_PREFIX):
        raise InvalidInput(
            "multibase_unsupported",
            "A multibase value must be a string starting with 'u' (base64url, no padding).",
        )
    body = text[len(BASE64URL_PREFIX) :]
    if _BASE64URL_ALPHABET.fullmatch(body) is None or len(body) % 4 == 1:
        raise InvalidInput(
            "multibase_invalid", "The multibase value is not base64url without padding."
        )
    decoded = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    if base64.urlsafe_b64encode(decoded).decode("ascii").rstrip("=") != body:
        raise InvalidInput(
            "multibase_invalid", "The multibase value has unused bits that are not zero."
        )
    return decoded


def encode_ed25519_multikey(public_key: bytes) -> str:
    """Return the Multikey ``publicKeyMultibase`` (``z6Mk...``) of a raw Ed25519 key.

    Raises:
        InvalidInput: ``multikey_invalid_length`` if ``public_key`` is not 32 bytes.
    """
    if len(public_key) != ED25519_PUBLIC_KEY_LENGTH:
        raise InvalidInput(
            "multikey_invalid_length",
            f"An Ed25519 public key is {ED25519_PUBLIC_KEY_LENGTH} bytes, not {len(public_key)}.",
        )
    return encode_base58btc(ED25519_PUB_MULTICODEC + public_key)


def decode_ed25519_multikey(multikey: str) -> bytes:
    """Return the raw 32-byte Ed25519 public key held in a Multikey string.

    Raises:
        InvalidInput: ``multibase_unsupported`` / ``multibase_invalid`` as
            ``decode_base58btc``; ``multikey_unsupported_codec`` if the key is not
            Ed25519 (prefix other than 0xed01); ``multikey_invalid_length`` if the key
            is not 32 bytes long.
    """
    decoded = decode_base58btc(multikey)
    if not decoded.startswith(ED25519_PUB_MULTICODEC):
        raise InvalidInput(
            "multikey_unsupported_codec", "The Multikey is not an Ed25519 public key."
        )
    public_key = decoded[len(ED25519_PUB_MULTICODEC) :]
    if len(public_key) != ED25519_PUBLIC_KEY_LENGTH:
        raise InvalidInput(
            "multikey_invalid_length",
            f"An Ed25519 public key is {ED25519_PUBLIC_KEY_LENGTH} bytes, not {len(public_key)}.",
        )
    return public_key
