"""The VC-API exchange the DCC Learner Credential Wallet (LCW) follows: DIDAuth, then the
holder-bound credential.

The earner's private page offers a same-device link,
``https://lcw.app/request.html?issuer=<host>&auth_type=bearer&challenge=<challenge>&
vc_request_url=<exchange URL>`` (and the app's own ``dccrequest://request?…`` form), where
the exchange URL is ``<base>/wallet/exchanges/<locator>``. Two shapes are answered there:

- the LCW's: it POSTs its DIDAuth presentation itself (``holder`` its did:key, a proof
  with ``proofPurpose: authentication`` and our ``challenge``) and gets the credential
  back as the body;
- the VC-API exchange's: a POST of ``{}`` answers a ``verifiablePresentationRequest`` of
  type ``DIDAuthentication`` with the challenge and our ``domain``; the wallet POSTs back
  ``{"verifiablePresentation": …}`` and gets ``{"verifiablePresentation": {…,
  "verifiableCredential": [<copy>]}}``.

The challenge is the exchange's own (derived from its locator, ``issuer.wallet.offers``),
single use and short lived; a presentation made for another domain is refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from issuer.awarding import VC_V2_CONTEXT
from issuer.errors import CanonicalizationError, ProofError
from issuer.proofs import presentation
from issuer.wallet.holder_binding import HolderBinding
from issuer.wallet.offers import OfferStore, WalletError

EXCHANGES_PATH = "/wallet/exchanges/"
LCW_REQUEST_URL = "https://lcw.app/request.html"
LCW_APP_URL = "dccrequest://request"


class VcApiExchange:
    def __init__(self, offers: OfferStore, binding: HolderBinding, *, base_url: str):
        self._offers = offers
        self._binding = binding
        self._base_url = base_url
        self.domain = urlsplit(base_url).netloc

    def exchange_url(self, locator: str) -> str:
        return f"{self._base_url}{EXCHANGES_PATH}{locator}"

    def lcw_links(self, locator: str, challenge: str) -> tuple[str, str]:
        """The LCW's web link and its app link to the exchange."""
        query = urlencode(
            {
                "issuer": self.domain,
                "auth_type": "bearer",
                "challenge": challenge,
                "vc_request_url": self.exchange_url(locator),
            }
        )
        return f"{LCW_REQUEST_URL}?{query}", f"{LCW_APP_URL}?{query}"

    def answer(self, locator: str, body: Any, *, address: str | None) -> dict[str, Any]:
        """What the exchange answers to ``body`` (see the module docstring).

        Raises WalletError ``offer_not_found``, ``invalid_request`` (``presentation_*``,
        ``challenge_mismatch``, a proof code of ``presentation.verify_authentication``) and
        ``credential_request_denied``.
        """
        offer = self._offers.open(locator, "vc_api")
        if body is None or body == {}:
            self._binding.refuse_if_revoked(offer.credential_id)
            return {"verifiablePresentationRequest": self._request(locator, offer.secret)}
        wrapped = isinstance(body, dict) and "verifiablePresentation" in body
        presented = body["verifiablePresentation"] if wrapped else body
        try:
            authentication = presentation.verify_authentication(presented, domain=self.domain)
        except (ProofError, CanonicalizationError) as error:
            raise WalletError("invalid_request", error.code, error.message) from None
        if authentication.challenge != offer.secret:
            raise WalletError(
                "invalid_request",
                "challenge_mismatch",
                "The presentation answers another challenge than this exchange's.",
            )
        self._binding.refuse_if_revoked(offer.credential_id)
        self._offers.redeem_challenge(offer.id)
        issued = self._binding.claim(
            offer.credential_id, authentication.holder, "vc_api", address=address
        )
        if not wrapped:
            return issued.credential
        return {
            "verifiablePresentation": {
                "@context": [VC_V2_CONTEXT],
                "type": ["VerifiablePresentation"],
                "verifiableCredential": [issued.credential],
            }
        }

    def _request(self, locator: str, challenge: str) -> dict[str, Any]:
        return {
            "query": [
                {
                    "type": "DIDAuthentication",
                    "acceptedMethods": [{"method": "key"}, {"method": "jwk"}],
                    "acceptedCryptosuites": [
                        {"cryptosuite": suite} for suite in presentation.ACCEPTED_CRYPTOSUITES
                    ],
                }
            ],
            "challenge": challenge,
            "domain": self.domain,
            "interact": {
                "service": [
                    {
                        "type": "UnmediatedHttpPresentationService2021",
                        "serviceEndpoint": self.exchange_url(locator),
                    }
                ]
            },
        }
