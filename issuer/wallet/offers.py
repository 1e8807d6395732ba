"""Offers, codes, tokens, nonces and challenges: the short-lived secrets of a wallet claim.

Every secret is 256 random bits (``secrets.token_urlsafe``) and only its SHA-256 is
stored, so a copy of the database claims nothing. An offer is made when the earner opens
their private page and is tied to that one award:

- its *locator* is the secret in the offer's URL (the OpenID4VCI ``credential_offer_uri``
  or the VC-API exchange URL);
- its *secret* (the pre-authorized code, or the DIDAuth challenge) is derived from the
  locator with HMAC-SHA256, so that whoever may read the offer can be handed the code
  without the code being stored, and the code alone does not give the locator;
- an optional transaction code (six digits) is shown to the earner on the page only: a
  stolen offer link is then not enough. Five wrong transaction codes burn the offer.

A pre-authorized code and a challenge are single use and live ``OFFER_LIFETIME``; the
access token a code is exchanged for lives ``ACCESS_TOKEN_LIFETIME`` and is good only for
its award. A code presented a second time also cancels the access token it gave (RFC 6749
§4.1.2: a reused code may mean it was stolen). Nonces (``c_nonce``) are single use.
Nothing here is ever logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select, update

from issuer.errors import IssuerError
from issuer.storage import Database
from issuer.storage.models import WalletNonce, WalletOffer

OFFER_LIFETIME = timedelta(minutes=10)
ACCESS_TOKEN_LIFETIME = timedelta(minutes=5)
NONCE_LIFETIME = timedelta(minutes=5)
MAX_TX_CODE_FAILURES = 5
TX_CODE_LENGTH = 6
# Expired offers and nonces are deleted this long after they expire.
KEEP_EXPIRED = timedelta(hours=1)
MAX_SECRET_LENGTH = 200

Protocol = Literal["openid4vci", "vc_api"]
_DERIVATION = {"openid4vci": b"pre-authorized_code", "vc_api": b"challenge"}


class WalletError(IssuerError):
    """A refusal of a wallet protocol: ``error`` is the protocol's own error name
    (``invalid_grant``, ``invalid_proof``, ``invalid_nonce``, …), ``code`` ours."""

    code = "wallet_error"

    def __init__(self, error: str, code: str, message: str):
        super().__init__(code, message)
        self.error = error


@dataclass(frozen=True)
class NewOffer:
    """An offer just made: its secrets in clear, for the earner's page only."""

    id: str
    protocol: Protocol
    locator: str
    secret: str
    tx_code: str | None
    expires_at: datetime


@dataclass(frozen=True)
class OpenOffer:
    """An offer looked up by its locator: the award and its secret (re-derived)."""

    id: str
    credential_id: str
    secret: str
    tx_code_required: bool


@dataclass(frozen=True)
class AccessGrant:
    """What an access token allows: a claim of ``credential_id``."""

    credential_id: str
    offer_id: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def derive_secret(locator: str, protocol: Protocol) -> str:
    """The pre-authorized code or challenge of the offer whose locator is ``locator``."""
    mac = hmac.new(locator.encode("utf-8"), _DERIVATION[protocol], hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


class OfferStore:
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_token: Callable[[], str] = lambda: secrets.token_urlsafe(32),
        new_tx_code: Callable[[], str] = lambda: f"{secrets.randbelow(10**TX_CODE_LENGTH):06d}",
    ):
        self._db = db
        self._clock = clock
        self._new_token = new_token
        self._new_tx_code = new_tx_code

    def create(self, credential_id: str, protocol: Protocol, *, tx_code: bool) -> NewOffer:
        """A new offer of ``credential_id`` (and expired offers tidied away)."""
        now = self._clock()
        locator = self._new_token()
        secret = derive_secret(locator, protocol)
        code = self._new_tx_code() if tx_code else None
        offer = WalletOffer(
            id=str(uuid.uuid4()),
            credential_id=credential_id,
            protocol=protocol,
            locator_sha256=digest(locator),
            secret_sha256=digest(secret),
            tx_code_sha256=digest(code) if code is not None else None,
            tx_code_failures=0,
            created_at=now,
            expires_at=now + OFFER_LIFETIME,
        )
        with self._db.write() as session:
            session.execute(
                delete(WalletOffer).where(
                    WalletOffer.expires_at < now - KEEP_EXPIRED,
                    WalletOffer.access_token_sha256.is_(None)
                    | (WalletOffer.access_expires_at < now - KEEP_EXPIRED),
                )
            )
            session.add(offer)
        return NewOffer(offer.id, protocol, locator, secret, code, offer.expires_at)

    def open(self, locator: str, protocol: Protocol) -> OpenOffer:
        """The unexpired, unused offer whose URL holds ``locator``.

        Raises WalletError ``offer_not_found`` (unknown, expired or used: one answer).
        """
        row = None
        if _plausible(locator):
            with self._db.read() as session:
                row = session.scalars(
                    select(WalletOffer).where(
                        WalletOffer.locator_sha256 == digest(locator),
                        WalletOffer.protocol == protocol,
                    )
                ).first()
        if row is None or row.redeemed_at is not None or row.expires_at <= self._clock():
            raise WalletError(
                "invalid_request",
                "offer_not_found",
                "This offer is unknown, used or expired: open your badge's private page "
                "again for a new one.",
            )
        return OpenOffer(
            row.id,
            row.credential_id,
            derive_secret(locator, protocol),
            row.tx_code_sha256 is not None,
        )

    def redeem_code(self, code: str, tx_code: str | None) -> tuple[str, str]:
        """Exchange a pre-authorized code (and its transaction code) for an access token.

        Returns (access token, credential id). Raises WalletError ``invalid_grant`` with
        ``code_unknown``, ``code_used``, ``code_expired``, ``tx_code_required``,
        ``tx_code_invalid`` or ``tx_code_exhausted``.
        """
        now = self._clock()
        token = self._new_token()
        refusal: WalletError | None = None
        credential_id = ""
        with self._db.write() as session:
            row = (
                session.scalars(
                    select(WalletOffer).where(
                        WalletOffer.secret_sha256 == digest(code),
                        WalletOffer.protocol == "openid4vci",
                    )
                ).first()
                if _plausible(code)
                else None
            )
            if row is None:
                refusal = _grant_refused("code_unknown", "The pre-authorized code is not known.")
            elif row.redeemed_at is not None:
                row.access_token_sha256 = None
                row.access_expires_at = None
                refusal = _grant_refused(
                    "code_used", "The pre-authorized code was used already; it works once."
                )
            elif row.expires_at <= now:
                refusal = _grant_refused("code_expired", "The pre-authorized code has expired.")
            elif row.tx_code_sha256 is not None and not _tx_code_matches(row, tx_code):
                row.tx_code_failures += 1
                if row.tx_code_failures >= MAX_TX_CODE_FAILURES:
                    row.expires_at = now
                    refusal = _grant_refused(
                        "tx_code_exhausted",
                        "Too many wrong transaction codes: this offer is cancelled. Open "
                        "your badge's private page again for a new one.",
                    )
                elif not tx_code:
                    refusal = _grant_refused(
                        "tx_code_required",
                        "This offer needs the transaction code shown on your badge's private page.",
                    )
                else:
                    refusal = _grant_refused(
                        "tx_code_invalid", "The transaction code is not the one shown."
                    )
            else:
                row.redeemed_at = now
                row.access_token_sha256 = digest(token)
                row.access_expires_at = now + ACCESS_TOKEN_LIFETIME
                credential_id = row.credential_id
        # The failure counts and cancellations above are committed before the refusal.
        if refusal is not None:
            raise refusal
        return token, credential_id

    def grant(self, access_token: str) -> AccessGrant:
        """What an access token allows. Raises WalletError ``invalid_token``
        (``access_token_invalid``: unknown, expired or cancelled)."""
        row = None
        if _plausible(access_token):
            with self._db.read() as session:
                row = session.scalars(
                    select(WalletOffer).where(
                        WalletOffer.access_token_sha256 == digest(access_token)
                    )
                ).first()
        if row is None or row.access_expires_at is None or row.access_expires_at <= self._clock():
            raise WalletError(
                "invalid_token", "access_token_invalid", "The access token is not valid."
            )
        return AccessGrant(row.credential_id, row.id)

    def redeem_challenge(self, offer_id: str) -> None:
        """Use the exchange's challenge, once. Raises WalletError ``offer_not_found``."""
        now = self._clock()
        with self._db.write() as session:
            result = session.execute(
                update(WalletOffer)
                .where(
                    WalletOffer.id == offer_id,
                    WalletOffer.redeemed_at.is_(None),
                    WalletOffer.expires_at > now,
                )
                .values(redeemed_at=now)
            )
            used = result.rowcount == 1  # type: ignore[attr-defined]
        if not used:
            raise WalletError(
                "invalid_request", "offer_not_found", "This challenge was used or has expired."
            )

    def new_nonce(self) -> str:
        """A fresh ``c_nonce`` (and expired nonces tidied away)."""
        now = self._clock()
        nonce = self._new_token()
        with self._db.write() as session:
            session.execute(delete(WalletNonce).where(WalletNonce.expires_at < now - KEEP_EXPIRED))
            session.add(WalletNonce(nonce_sha256=digest(nonce), expires_at=now + NONCE_LIFETIME))
        return nonce

    def use_nonce(self, nonce: str) -> None:
        """Use a ``c_nonce``, once. Raises WalletError ``invalid_nonce`` (``nonce_invalid``:
        unknown, expired or used)."""
        now = self._clock()
        used = False
        if _plausible(nonce):
            with self._db.write() as session:
                result = session.execute(
                    update(WalletNonce)
                    .where(
                        WalletNonce.nonce_sha256 == digest(nonce),
                        WalletNonce.used_at.is_(None),
                        WalletNonce.expires_at > now,
                    )
                    .values(used_at=now)
                )
                used = result.rowcount == 1  # type: ignore[attr-defined]
        if not used:
            raise WalletError(
                "invalid_nonce",
                "nonce_invalid",
                "The proof's nonce is unknown, expired or used: ask the nonce endpoint for "
                "a new one.",
            )


def _plausible(secret: str) -> bool:
    return isinstance(secret, str) and 0 < len(secret) <= MAX_SECRET_LENGTH


def _tx_code_matches(row: WalletOffer, tx_code: str | None) -> bool:
    if not tx_code or not _plausible(tx_code) or row.tx_code_sha256 is None:
        return False
    return hmac.compare_digest(digest(tx_code), row.tx_code_sha256)


def _grant_refused(code: str, message: str) -> WalletError:
    return WalletError("invalid_grant", code, message)
