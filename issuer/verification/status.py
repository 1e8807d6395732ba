"""The status check: W3C Bitstring Status List (revocation, and suspension for others' badges).

The status list credential is fetched (ours come straight from the revocation service,
never over HTTP), its proof and issuer are checked like any credential's, its purpose and
length are checked, the list is decompressed with a cap (a gzip bomb stops at the cap) and
the bit is read. If any of that fails the check FAILS as "could not be checked": a status
nobody could read never reads as "not revoked".

A list may be a JSON credential with a Data Integrity proof or a VC-JWT: a response of type
``application/vc+jwt`` or a bare compact JWS, or an ``EnvelopedVerifiableCredential`` whose
id is ``data:application/vc+jwt,<jws>``. A VC-JWT list is checked as a VC-JWT credential is
(``issuer.verification.proof.verify_jwt_credential``: its key must be its issuer's), and its
issuer must be the credential's, exactly as for a JSON list.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from issuer import strict_json
from issuer.did_resolution import IssuerKeyResolver
from issuer.digits import whole_number
from issuer.errors import InvalidInput, IssuerError
from issuer.fetch import Fetcher
from issuer.proofs import vc_jwt
from issuer.verification.checks import CheckFailed, VerificationContext, value_digest
from issuer.verification.proof import (
    issuer_id_of,
    verify_data_integrity_proof,
    verify_jwt_credential,
)

STATUS_ENTRY_TYPE = "BitstringStatusListEntry"
STATUS_LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
STATUS_LIST_TYPE = "BitstringStatusList"
ENVELOPED_TYPE = "EnvelopedVerifiableCredential"
JWT_DATA_URL_PREFIX = "data:application/vc+jwt,"
VC_JWT_MEDIA_TYPE = "application/vc+jwt"
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
PURPOSES = ("revocation", "suspension")
MIN_ENTRIES = 131_072
# 16 Mi entries: far more than any list needs, and a bound on what a gzip bomb can cost.
MAX_LIST_BYTES = 2 * 1024 * 1024
MAX_STATUS_ENTRIES = 4
MAX_LIST_DOCUMENT_BYTES = 256 * 1024
LEEWAY = timedelta(seconds=60)
# How many proven status lists are remembered, and for how long.
PROVEN_LISTS = 64
PROVEN_LIST_SECONDS = 300.0

StatusListSource = Callable[[str], dict[str, Any]]


class StatusUnavailable(IssuerError):
    """The status list could not be fetched or read."""

    code = "status_unavailable"


class StatusLists:
    """Where status list credentials come from: our own through ``own`` (a callable taking
    the list URL, e.g. wrapping the revocation service), pinned ``documents`` by URL, and
    anything else over https through the fetcher."""

    def __init__(
        self,
        *,
        own_prefix: str | None,
        own: StatusListSource | None,
        fetcher: Fetcher | None,
        documents: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        self._own_prefix = own_prefix
        self._own = own
        self._fetcher = fetcher
        self._documents = dict(documents or {})

    def __call__(self, url: str) -> dict[str, Any]:
        """The status list credential at ``url``: a JSON credential, or a VC-JWT answer as the
        ``EnvelopedVerifiableCredential`` holding it. Raises StatusUnavailable."""
        if url in self._documents:
            return self._documents[url]
        if self._own_prefix and url.startswith(self._own_prefix):
            if self._own is None:
                raise StatusUnavailable(
                    "status_unavailable", "This service's status lists are not available."
                )
            try:
                return self._own(url)
            except IssuerError as error:
                raise StatusUnavailable(error.code, error.message) from None
        if self._fetcher is None:
            raise StatusUnavailable("fetch_disabled", "Fetching status lists is turned off.")
        try:
            fetched = self._fetcher.get(
                url, accept=f"application/vc+ld+json, {VC_JWT_MEDIA_TYPE}, application/json"
            )
            token = _compact_jws(fetched.body, fetched.content_type)
            if token is not None:
                return envelope(token)
            document = strict_json.parse(
                fetched.body, max_bytes=MAX_LIST_DOCUMENT_BYTES, max_depth=16
            )
        except InvalidInput as error:
            raise StatusUnavailable(error.code, error.message) from None
        if not isinstance(document, dict):
            raise StatusUnavailable("status_list_invalid", "The status list is not an object.")
        return document


class StatusCheck:
    """Reads the credential's status bits (see the module docstring)."""

    name = "status"

    def __init__(
        self,
        status_lists: StatusListSource,
        resolver: IssuerKeyResolver,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._status_lists = status_lists
        self._resolver = resolver
        self._clock = clock
        # A status list is re-signed only when it changes, so most checks meet a list whose
        # proof was verified moments ago: remember the bits of proven lists by digest, for
        # a short while (a foreign issuer's key could be withdrawn) and in a bounded map.
        self._proven: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._proven_lock = threading.Lock()

    def verify(self, context: VerificationContext) -> None:
        """Raises CheckFailed ``revoked`` / ``suspended``, or ``status_not_checked`` (with
        the reason) when the status could not be read."""
        entries = context.credential.get("credentialStatus")
        if entries is None:
            context.say("The credential carries no status entry, so it cannot be revoked.")
            return
        entry_list = entries if isinstance(entries, list) else [entries]
        if not entry_list or len(entry_list) > MAX_STATUS_ENTRIES:
            raise _not_checked("The credential's status entries are malformed.")
        said = []
        for entry in entry_list:
            said.append(self._check_entry(entry, context))
        context.say(" ".join(said))

    def _check_entry(self, entry: Any, context: VerificationContext) -> str:
        if not isinstance(entry, dict):
            raise _not_checked("A status entry is not an object.")
        if entry.get("type") != STATUS_ENTRY_TYPE:
            raise _not_checked(
                f"The status method {str(entry.get('type'))[:60]!r} is not one this service "
                "can read (it reads BitstringStatusListEntry)."
            )
        purpose = entry.get("statusPurpose")
        if purpose not in PURPOSES:
            raise _not_checked(f"The status purpose {str(purpose)[:40]!r} is not supported.")
        index = _index(entry.get("statusListIndex"))
        if entry.get("statusSize", 1) not in (1, "1"):
            raise _not_checked("Status entries of more than one bit are not supported.")
        url = entry.get("statusListCredential")
        if not isinstance(url, str) or not url:
            raise _not_checked("The status entry names no status list.")
        try:
            list_credential = self._status_lists(url)
            bits = self._verified_bits(list_credential, purpose, context)
        except StatusUnavailable as error:
            raise _not_checked(error.message, error.code) from None
        except IssuerError as error:
            raise _not_checked(
                f"the status list's signature could not be verified ({error.message})",
                "status_list_unverified",
            ) from None
        if index >= len(bits) * 8:
            raise _not_checked(
                f"the status index {index} is outside the status list ({len(bits) * 8} entries).",
                "status_index_out_of_range",
            )
        if bits[index // 8] & (0x80 >> (index % 8)):
            if purpose == "revocation":
                raise CheckFailed("revoked", "The issuer has revoked this credential.")
            raise CheckFailed("suspended", "The issuer has suspended this credential.")
        return (
            "Not revoked, according to the issuer's signed status list."
            if purpose == "revocation"
            else "Not suspended, according to the issuer's signed status list."
        )

    def _verified_bits(
        self, document: dict[str, Any], purpose: str, context: VerificationContext
    ) -> bytes:
        token = enveloped_jwt(document)
        # A VC-JWT list is read unverified here; _proven_bits checks its signature (and that
        # it signs exactly this) before any bit is used.
        list_credential = document if token is None else vc_jwt.read_unverified(token)[1]
        types = list_credential.get("type")
        type_list = types if isinstance(types, list) else [types]
        if STATUS_LIST_CREDENTIAL_TYPE not in type_list:
            raise StatusUnavailable(
                "status_list_invalid", "The document is not a BitstringStatusListCredential."
            )
        if issuer_id_of(list_credential) != issuer_id_of(context.credential):
            raise StatusUnavailable(
                "status_list_foreign", "The status list was issued by someone else."
            )
        subject = list_credential.get("credentialSubject")
        if not isinstance(subject, dict) or subject.get("type") != STATUS_LIST_TYPE:
            raise StatusUnavailable("status_list_invalid", "The status list has no list.")
        list_purpose = subject.get("statusPurpose")
        purposes = list_purpose if isinstance(list_purpose, list) else [list_purpose]
        if purpose not in purposes:
            raise StatusUnavailable(
                "status_purpose_mismatch", "The status list serves another purpose."
            )
        bits = self._proven_bits(document, list_credential, subject, token, context.now)
        _check_list_window(list_credential, context.now)
        return bits

    def _proven_bits(
        self,
        document: dict[str, Any],
        list_credential: dict[str, Any],
        subject: dict[str, Any],
        token: str | None,
        moment: datetime,
    ) -> bytes:
        """The list's bits once its proof (or VC-JWT signature) verified; from memory for a
        recently proven list."""
        digest = value_digest(document)
        now = self._clock()
        with self._proven_lock:
            remembered = self._proven.get(digest)
            if remembered is not None and now - remembered[0] < PROVEN_LIST_SECONDS:
                return remembered[1]
        if token is not None:
            verify_jwt_credential(
                token, list_credential, self._resolver, now=moment, claims_optional=True
            )
        else:
            proofs = list_credential.get("proof")
            proof_list = proofs if isinstance(proofs, list) else [proofs] if proofs else []
            if len(proof_list) != 1:
                raise StatusUnavailable("status_list_unsigned", "The status list is not signed.")
            verify_data_integrity_proof(list_credential, proof_list[0], self._resolver)
        bits = decode_bitstring(subject.get("encodedList"))
        if len(bits) * 8 < MIN_ENTRIES:
            raise StatusUnavailable(
                "status_list_too_short",
                f"The status list has fewer than {MIN_ENTRIES} entries, which would let its "
                "holder be singled out.",
            )
        with self._proven_lock:
            self._proven[digest] = (now, bits)
            while len(self._proven) > PROVEN_LISTS:
                self._proven.popitem(last=False)
        return bits


def envelope(token: str) -> dict[str, Any]:
    """The ``EnvelopedVerifiableCredential`` that stands for a VC-JWT (VC 2.0 §4.13)."""
    return {
        "@context": [VC_CONTEXT],
        "id": JWT_DATA_URL_PREFIX + token,
        "type": ENVELOPED_TYPE,
    }


def enveloped_jwt(document: dict[str, Any]) -> str | None:
    """The compact JWS of an ``EnvelopedVerifiableCredential``; None for any other document.

    Raises StatusUnavailable ``status_list_invalid`` for an enveloped credential that does
    not hold a ``data:application/vc+jwt,`` compact JWS (no other envelope is read).
    """
    types = document.get("type")
    if types != ENVELOPED_TYPE and not (isinstance(types, list) and ENVELOPED_TYPE in types):
        return None
    enveloped = document.get("id")
    if not isinstance(enveloped, str) or not enveloped.startswith(JWT_DATA_URL_PREFIX):
        raise StatusUnavailable(
            "status_list_invalid",
            "The enveloped status list is not a data:application/vc+jwt URL.",
        )
    token = enveloped.removeprefix(JWT_DATA_URL_PREFIX)
    if _COMPACT_JWS.fullmatch(token) is None:
        raise StatusUnavailable(
            "status_list_invalid", "The enveloped status list does not hold a compact JWS."
        )
    return token


def _compact_jws(body: bytes, content_type: str) -> str | None:
    """The token of a fetched VC-JWT (its media type, or a body that is one compact JWS);
    None for anything else. Raises StatusUnavailable ``status_list_invalid`` for a body
    declared ``application/vc+jwt`` that is not a compact JWS."""
    try:
        text = body.decode("ascii").strip()
    except UnicodeDecodeError:
        text = ""
    if _COMPACT_JWS.fullmatch(text) is not None:
        return text
    if content_type == VC_JWT_MEDIA_TYPE:
        raise StatusUnavailable(
            "status_list_invalid", "The status list served as a VC-JWT is not a compact JWS."
        )
    return None


def decode_bitstring(encoded: Any, *, max_bytes: int = MAX_LIST_BYTES) -> bytes:
    """The bits of an ``encodedList``: multibase ``u`` + base64url of a GZIP stream.

    Decompression stops at ``max_bytes``. Raises StatusUnavailable ``status_list_invalid`` or
    ``status_list_too_large``.
    """
    if not isinstance(encoded, str) or not encoded:
        raise StatusUnavailable("status_list_invalid", "The status list has no encodedList.")
    text = encoded[1:] if encoded[0] == "u" else encoded
    if re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text) is None or len(text) > MAX_LIST_DOCUMENT_BYTES:
        raise StatusUnavailable("status_list_invalid", "The encodedList is not base64url.")
    try:
        compressed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise StatusUnavailable(
            "status_list_invalid", "The encodedList is not base64url."
        ) from None
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        bits = decompressor.decompress(compressed, max_bytes)
    except zlib.error:
        raise StatusUnavailable(
            "status_list_invalid", "The encodedList is not GZIP data."
        ) from None
    if decompressor.unconsumed_tail or (len(bits) >= max_bytes and not decompressor.eof):
        raise StatusUnavailable(
            "status_list_too_large", f"The status list expands beyond {max_bytes} bytes."
        )
    if not decompressor.eof:
        raise StatusUnavailable("status_list_invalid", "The encodedList is cut short.")
    return bits


def _check_list_window(list_credential: dict[str, Any], now: datetime) -> None:
    for member, late in (("validFrom", False), ("validUntil", True)):
        value = list_credential.get(member)
        if value is None:
            continue
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise StatusUnavailable(
                "status_list_invalid", f"The list's {member} is no date."
            ) from None
        if moment.tzinfo is None:
            raise StatusUnavailable("status_list_invalid", f"The list's {member} has no zone.")
        if (late and now - LEEWAY > moment) or (not late and now + LEEWAY < moment):
            raise StatusUnavailable("status_list_stale", "The status list is not valid now.")


def _index(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        index = value
    elif isinstance(value, str) and (number := whole_number(value, max_digits=12)) is not None:
        index = number
    else:
        raise _not_checked("The status index is not a whole number.")
    if index < 0:
        raise _not_checked("The status index is negative.")
    return index


def _invalid(message: str) -> StatusUnavailable:
    return StatusUnavailable("status_list_invalid", message)


def _not_checked(reason: str, code: str = "status_not_checked") -> CheckFailed:
    return CheckFailed(
        code,
        f"Whether the credential was revoked could not be checked: {reason[0].lower()}{reason[1:]}",
    )
