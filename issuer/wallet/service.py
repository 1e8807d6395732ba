"""The wallet service, built once per process: offers for the earner's page, and the two
protocols that redeem them (``issuer.wallet``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from issuer.audit import AuditLog
from issuer.issuance import IssuanceService
from issuer.keyring import Keyring
from issuer.revocation import RevocationService
from issuer.storage import Database
from issuer.wallet.holder_binding import HolderBinding
from issuer.wallet.offers import OfferStore
from issuer.wallet.openid4vci import Openid4vciIssuer
from issuer.wallet.vc_api import VcApiExchange


@dataclass(frozen=True)
class PageOffers:
    """What the earner's private page shows: per protocol a link for a QR code and the
    same device, the transaction code when one is set, and until when they work."""

    openid4vci_link: str
    tx_code: str | None
    lcw_link: str
    lcw_app_link: str
    exchange_url: str
    expires_at: datetime
    claims: int


class WalletService:
    def __init__(
        self,
        db: Database,
        issuance: IssuanceService,
        revocation: RevocationService,
        keyring: Callable[[], Keyring],
        audit: AuditLog,
        *,
        base_url: str,
        issuer_name: str,
        logo_url: str | None,
        jwt_algorithm: str,
        tx_code: bool = True,
    ):
        self.offers = OfferStore(db)
        self.binding = HolderBinding(
            db,
            issuance,
            revocation,
            keyring,
            audit,
            base_url=base_url,
            jwt_algorithm=jwt_algorithm,
        )
        self.openid4vci = Openid4vciIssuer(
            self.offers,
            self.binding,
            base_url=base_url,
            issuer_name=issuer_name,
            logo_url=logo_url,
            jwt_algorithm=jwt_algorithm,
        )
        self.vc_api = VcApiExchange(self.offers, self.binding, base_url=base_url)
        self._tx_code = tx_code
        self._revocation = revocation

    def page_offers(self, credential_id: str) -> PageOffers | None:
        """Fresh offers of ``credential_id`` for its private page; None when it is revoked
        (a revoked award is not claimed)."""
        if self._revocation.status_of(credential_id).revoked:
            return None
        openid = self.offers.create(credential_id, "openid4vci", tx_code=self._tx_code)
        exchange = self.offers.create(credential_id, "vc_api", tx_code=False)
        lcw_link, lcw_app_link = self.vc_api.lcw_links(exchange.locator, exchange.secret)
        return PageOffers(
            openid4vci_link=self.openid4vci.offer_link(openid.locator),
            tx_code=openid.tx_code,
            lcw_link=lcw_link,
            lcw_app_link=lcw_app_link,
            exchange_url=self.vc_api.exchange_url(exchange.locator),
            expires_at=min(openid.expires_at, exchange.expires_at),
            claims=self.binding.count(credential_id),
        )
