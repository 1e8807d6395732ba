"""OpenID for Verifiable Credential Issuance 1.0 (final), pre-authorized code flow.

The credential issuer identifier is the service's base URL; it is its own authorization
server. What a wallet does, and what answers it:

1. scans ``openid-credential-offer://?credential_offer_uri=<base>/wallet/openid4vci/offers/
   <locator>`` from the earner's private page and GETs the offer: both configurations
   (``ldp_vc`` and ``jwt_vc_json``; a wallet takes the formats it knows) and the grant
   ``urn:ietf:params:oauth:grant-type:pre-authorized_code`` with its code and, when set,
   ``tx_code`` (six digits, shown on the page);
2. reads ``/.well-known/openid-credential-issuer`` and ``/.well-known/oauth-authorization-
   server``;
3. POSTs the code (and transaction code) to the token endpoint for a Bearer access token,
   good for ``ACCESS_TOKEN_LIFETIME`` and for that award only;
4. POSTs to the nonce endpoint for a ``c_nonce``;
5. POSTs ``{"credential_configuration_id", "proofs": {"jwt": [<key proof>]}}`` (or the
   older ``"proof": {"proof_type": "jwt", "jwt": …}``) to the credential endpoint, and
   gets ``{"credentials": [{"credential": …}]}``: the holder-bound copy, as a JSON-LD
   object (``ldp_vc``) or a VC-JWT string (``jwt_vc_json``).

Refusals are the specifications' error bodies, ``{"error", "error_description"}`` (plus our
stable ``code``): ``invalid_request``, ``invalid_grant``, ``unsupported_grant_type`` (RFC
6749 §5.2), ``invalid_token`` (RFC 6750), ``invalid_credential_request``,
``unknown_credential_configuration``, ``unsupported_credential_format``, ``invalid_proof``,
``invalid_nonce``, ``credential_request_denied`` (OpenID4VCI 1.0 §8.3.1.2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from issuer.awarding import OB_V3_CONTEXT, VC_V2_CONTEXT
from issuer.errors import ProofError
from issuer.proofs import key_proof
from issuer.wallet.holder_binding import HolderBinding, HolderCopy
from issuer.wallet.offers import ACCESS_TOKEN_LIFETIME, OfferStore, WalletError

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
OFFER_SCHEME = "openid-credential-offer://"
LDP_VC = "OpenBadgeCredential_ldp_vc"
JWT_VC_JSON = "OpenBadgeCredential_jwt_vc_json"
FORMATS = {LDP_VC: "ldp_vc", JWT_VC_JSON: "jwt_vc_json"}
BINDING_METHODS = ["did:key", "did:jwk", "jwk"]
CREDENTIAL_TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
OFFERS_PATH = "/wallet/openid4vci/offers/"
TOKEN_PATH = "/wallet/openid4vci/token"  # noqa: S105 - a path, not a secret
NONCE_PATH = "/wallet/openid4vci/nonce"
CREDENTIAL_PATH = "/wallet/openid4vci/credential"
TX_CODE_DESCRIPTION = "The six-digit code shown beside the QR code on your badge's private page"
_REQUEST_MEMBERS = frozenset(
    {
        "credential_configuration_id",
        "credential_identifier",
        "format",
        "credential_definition",
        "proof",
        "proofs",
        "credential_response_encryption",
    }
)


class Openid4vciIssuer:
    def __init__(
        self,
        offers: OfferStore,
        binding: HolderBinding,
        *,
        base_url: str,
        issuer_name: str,
        logo_url: str | None,
        jwt_algorithm: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._offers = offers
        self._binding = binding
        self.base_url = base_url
        self._issuer_name = issuer_name
        self._logo_url = logo_url
        self._jwt_algorithm = jwt_algorithm
        self._clock = clock

    def offer_uri(self, locator: str) -> str:
        return f"{self.base_url}{OFFERS_PATH}{locator}"

    def offer_link(self, locator: str) -> str:
        """The same-device link (and QR code text) of an offer, by reference."""
        return f"{OFFER_SCHEME}?{urlencode({'credential_offer_uri': self.offer_uri(locator)})}"

    def credential_issuer_metadata(self) -> dict[str, Any]:
        """``/.well-known/openid-credential-issuer`` (OpenID4VCI 1.0 §12.2)."""
        display: dict[str, Any] = {"name": self._issuer_name, "locale": "en"}
        if self._logo_url:
            display["logo"] = {"uri": self._logo_url, "alt_text": f"{self._issuer_name} badge"}
        proof_types = {"jwt": {"proof_signing_alg_values_supported": list(key_proof.ALGORITHMS)}}
        definition = {"@context": [VC_V2_CONTEXT, OB_V3_CONTEXT], "type": CREDENTIAL_TYPES}
        credential_display = {
            **display,
            "name": "Open Badge",
            "description": f"An Open Badges 3.0 credential issued by {self._issuer_name}.",
        }
        signing = {LDP_VC: ["eddsa-rdfc-2022"], JWT_VC_JSON: [self._jwt_algorithm]}
        return {
            "credential_issuer": self.base_url,
            "credential_endpoint": self.base_url + CREDENTIAL_PATH,
            "nonce_endpoint": self.base_url + NONCE_PATH,
            "display": [display],
            "credential_configurations_supported": {
                configuration: {
                    "format": credential_format,
                    "credential_definition": definition,
                    "cryptographic_binding_methods_supported": BINDING_METHODS,
                    "credential_signing_alg_values_supported": signing[configuration],
                    "proof_types_supported": proof_types,
                    "credential_metadata": {"display": [credential_display]},
                }
                for configuration, credential_format in FORMATS.items()
            },
        }

    def authorization_server_metadata(self) -> dict[str, Any]:
        """``/.well-known/oauth-authorization-server`` (RFC 8414): only the token endpoint
        of the pre-authorized code grant, which needs no client authentication."""
        return {
            "issuer": self.base_url,
            "token_endpoint": self.base_url + TOKEN_PATH,
            "grant_types_supported": [PRE_AUTHORIZED_GRANT],
            "pre-authorized_grant_anonymous_access_supported": True,
            "token_endpoint_auth_methods_supported": ["none"],
            "response_types_supported": [],
        }

    def credential_offer(self, locator: str) -> dict[str, Any]:
        """The credential offer a ``credential_offer_uri`` names.

        Raises WalletError ``offer_not_found``.
        """
        offer = self._offers.open(locator, "openid4vci")
        grant: dict[str, Any] = {"pre-authorized_code": offer.secret}
        if offer.tx_code_required:
            grant["tx_code"] = {
                "input_mode": "numeric",
                "length": 6,
                "description": TX_CODE_DESCRIPTION,
            }
        return {
            "credential_issuer": self.base_url,
            "credential_configuration_ids": list(FORMATS),
            "grants": {PRE_AUTHORIZED_GRANT: grant},
        }

    def token(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The token endpoint: a pre-authorized code (and ``tx_code``) for an access token.

        Raises WalletError ``unsupported_grant_type``, ``invalid_request`` and
        ``invalid_grant`` (as ``OfferStore.redeem_code``, and ``award_revoked``).
        """
        grant_type = form.get("grant_type")
        if grant_type != PRE_AUTHORIZED_GRANT:
            raise WalletError(
                "unsupported_grant_type",
                "grant_type_unsupported",
                f"Only the pre-authorized code grant ({PRE_AUTHORIZED_GRANT}) is supported.",
            )
        code = form.get("pre-authorized_code")
        if not code:
            raise WalletError(
                "invalid_request", "code_missing", "Send the pre-authorized_code of the offer."
            )
        access_token, credential_id = self._offers.redeem_code(code, form.get("tx_code"))
        try:
            self._binding.refuse_if_revoked(credential_id)
        except WalletError as error:
            raise WalletError("invalid_grant", error.code, error.message) from None
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        }

    def nonce(self) -> dict[str, Any]:
        """The nonce endpoint (OpenID4VCI 1.0 §7)."""
        return {"c_nonce": self._offers.new_nonce()}

    def credential(self, access_token: str, request: Any, *, address: str | None) -> dict[str, Any]:
        """The credential endpoint: check the request and its key proof, issue (or find) the
        holder-bound copy and answer it in the configuration's format.

        Raises WalletError ``invalid_token``, ``invalid_credential_request``,
        ``unknown_credential_configuration``, ``unsupported_credential_format``,
        ``invalid_proof``, ``invalid_nonce`` and ``credential_request_denied``.
        """
        grant = self._offers.grant(access_token)
        if not isinstance(request, dict):
            raise _request_invalid("The credential request must be a JSON object.")
        configuration = _configuration(request)
        token = _proof_jwt(request)
        try:
            proof = key_proof.verify_key_proof(token, audience=self.base_url, now=self._clock())
        except ProofError as error:
            raise WalletError("invalid_proof", error.code, error.message) from None
        self._offers.use_nonce(proof.nonce)
        issued = self._binding.claim(
            grant.credential_id, proof.holder.did, "openid4vci", address=address
        )
        return {"credentials": [{"credential": _in_format(issued, configuration)}]}


def _configuration(request: dict[str, Any]) -> str:
    unknown = sorted(set(request) - _REQUEST_MEMBERS)
    if unknown:
        raise _request_invalid(f"The credential request has an unknown member {unknown[0]!r}.")
    if "credential_response_encryption" in request:
        raise WalletError(
            "invalid_encryption_parameters",
            "encryption_unsupported",
            "Credential response encryption is not supported.",
        )
    if "credential_identifier" in request:
        raise WalletError(
            "unknown_credential_identifier",
            "credential_identifier_unknown",
            "This issuer hands out no credential identifiers; send credential_configuration_id.",
        )
    configuration = request.get("credential_configuration_id")
    if configuration is None and "format" in request:
        # Wallets of the drafts before 1.0 name a format instead of a configuration.
        by_format = {value: key for key, value in FORMATS.items()}
        if not isinstance(request["format"], str) or request["format"] not in by_format:
            raise WalletError(
                "unsupported_credential_format",
                "credential_format_unsupported",
                f"Formats issued here: {', '.join(FORMATS.values())}.",
            )
        return by_format[request["format"]]
    if not isinstance(configuration, str) or configuration not in FORMATS:
        raise WalletError(
            "unknown_credential_configuration",
            "credential_configuration_unknown",
            f"Credential configurations issued here: {', '.join(FORMATS)}.",
        )
    return str(configuration)


def _proof_jwt(request: dict[str, Any]) -> Any:
    """The one key proof JWT of a request (``proofs.jwt[0]``, or the older ``proof``)."""
    if "proofs" in request and "proof" in request:
        raise _request_invalid("Send proofs or proof, not both.")
    if "proofs" in request:
        proofs = request["proofs"]
        if not isinstance(proofs, dict) or list(proofs) != ["jwt"]:
            raise WalletError(
                "invalid_proof", "proof_type_unsupported", "Only proofs of type jwt are accepted."
            )
        jwts = proofs["jwt"]
        if not isinstance(jwts, list) or len(jwts) != 1:
            raise _request_invalid("Send exactly one key proof: batch issuance is not offered.")
        return jwts[0]
    proof = request.get("proof")
    if proof is None:
        raise WalletError(
            "invalid_proof",
            "proof_missing",
            "A key proof is required: the credential is bound to the wallet's key.",
        )
    if not isinstance(proof, dict) or proof.get("proof_type") != "jwt":
        raise WalletError(
            "invalid_proof", "proof_type_unsupported", "Only proofs of type jwt are accepted."
        )
    return proof.get("jwt")


def _in_format(issued: HolderCopy, configuration: str) -> Any:
    return issued.credential if FORMATS[configuration] == "ldp_vc" else issued.jwt


def _request_invalid(message: str) -> WalletError:
    return WalletError("invalid_credential_request", "credential_request_invalid", message)
