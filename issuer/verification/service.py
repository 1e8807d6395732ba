"""The verification service: what the web page, the API and ``issuer verify`` call.

One rule everywhere: something that cannot be read at all raises (the API answers 4xx);
a credential that was read gets a report, ``verified`` false when any check failed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from issuer.did import VerificationKey
from issuer.did_resolution import IssuerKeyResolver
from issuer.errors import IssuerError, ProofError
from issuer.fetch import Fetcher, FetchError, parse_allow_hosts
from issuer.verification import budget
from issuer.verification.checks import (
    AllOf,
    Check,
    RecipientCheck,
    SchemaCheck,
    StructureCheck,
    ValidityCheck,
    VerificationContext,
)
from issuer.verification.identity import proven_identity
from issuer.verification.proof import ProofCheck, issuer_id_of
from issuer.verification.reading import (
    PresentedCredential,
    read_document,
    read_jwt,
    read_presented,
)
from issuer.verification.report import FAIL, PASS, CheckOutcome, VerificationReport, summarize
from issuer.verification.status import StatusCheck, StatusLists, StatusListSource

MAX_BATCH = 50
# Our own credential's bytes for a link to it (its page, .json, .jwt, ...), None for any other
# link. Raises NotFound for a link of ours to no credential.
OwnCredentialSource = Callable[[str], bytes | None]
_ACCEPT = "application/vc+ld+json, application/vc+jwt, application/json, image/png, image/svg+xml"


class VerificationService:
    """Verifies credentials with a fixed pipeline of checks (see ``issuer.verification``)."""

    def __init__(
        self,
        resolver: IssuerKeyResolver,
        status_lists: StatusListSource,
        fetcher: Fetcher | None,
        *,
        own_credentials: OwnCredentialSource | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_json_depth: int = 32,
    ) -> None:
        self._resolver = resolver
        self._fetcher = fetcher
        self._own_credentials = own_credentials
        self._clock = clock
        self._max_json_depth = max_json_depth
        self._policy = AllOf(
            [
                StructureCheck(),
                SchemaCheck(),
                ProofCheck(resolver),
                StatusCheck(status_lists, resolver),
                ValidityCheck(),
            ]
        )

    @classmethod
    def build(
        cls,
        *,
        own_did: str,
        own_keys: Callable[[], Iterable[VerificationKey]],
        base_url: str,
        allow_hosts: str | Iterable[str] | None = None,
        own_status_list: StatusListSource | None = None,
        own_credentials: OwnCredentialSource | None = None,
        documents: Mapping[str, dict[str, Any]] | None = None,
        fetcher: Fetcher | None = None,
        clock: Callable[[], datetime] | None = None,
        max_json_depth: int = 32,
    ) -> VerificationService:
        """The service for our issuer: own keys, status lists and credentials locally, others
        over https.

        Raises InvalidInput ``fetch_allow_hosts_invalid``.
        """
        if fetcher is None:
            fetcher = Fetcher(parse_allow_hosts(allow_hosts))
        resolver = IssuerKeyResolver(
            own_did=own_did, own_keys=own_keys, fetcher=fetcher, documents=documents
        )
        status_lists = StatusLists(
            own_prefix=f"{base_url}/status/",
            own=own_status_list,
            fetcher=fetcher,
            documents=documents,
        )
        return cls(
            resolver,
            status_lists,
            fetcher,
            own_credentials=own_credentials,
            clock=clock or (lambda: datetime.now(UTC)),
            max_json_depth=max_json_depth,
        )

    @property
    def check_names(self) -> list[str]:
        return ["read", *self._policy.names, "recipient"]

    def verify_bytes(self, data: bytes, *, recipient: str | None = None) -> VerificationReport:
        """Verify a credential given as bytes (image, JSON or VC-JWT). Raises IssuerError when
        it cannot be read."""
        return self.verify_presented(
            read_presented(data, max_depth=self._max_json_depth), recipient=recipient
        )

    def verify_document(self, document: Any, *, recipient: str | None = None) -> VerificationReport:
        """Verify a credential already parsed from JSON. Raises InvalidInput when it is not an
        object."""
        return self.verify_presented(read_document(document), recipient=recipient)

    def verify_jwt(self, token: Any, *, recipient: str | None = None) -> VerificationReport:
        """Verify a compact VC-JWT. Raises ProofError ``jwt_malformed`` when it is unreadable."""
        if not isinstance(token, str):
            raise ProofError("jwt_malformed", "A VC-JWT is a string.")
        return self.verify_presented(read_jwt(token), recipient=recipient)

    def verify_url(self, url: Any, *, recipient: str | None = None) -> VerificationReport:
        """Verify what ``url`` holds: one of our credentials read locally (an employer pastes
        the earner's page link), anything else fetched through the one fetcher.

        Raises FetchError (``fetch_*``) when it cannot be fetched, NotFound
        ``credential_not_found`` for a link of ours to no credential, and as ``verify_bytes``.
        """
        if not isinstance(url, str):
            raise FetchError("fetch_url_invalid", "The link is not a URL.")
        body = self._own_credentials(url) if self._own_credentials is not None else None
        if body is None:
            if self._fetcher is None:
                raise FetchError("fetch_disabled", "Fetching credentials from links is turned off.")
            body = self._fetcher.get(url, accept=_ACCEPT).body
        return dataclasses.replace(self.verify_bytes(body, recipient=recipient), source=url)

    def verify_presented(
        self, presented: PresentedCredential, *, recipient: str | None = None
    ) -> VerificationReport:
        """Run every check on a credential that has been read; never raises."""
        read = CheckOutcome("read", PASS, "ok", presented.describe())
        if not budget.spend(presented.credential):
            refused = CheckOutcome(
                "proof",
                FAIL,
                "verification_budget_exceeded",
                "Not checked: this request already used the verification work it may ask "
                "for. Send this credential in a request of its own.",
            )
            return VerificationReport(
                (read, refused), summarize(presented.credential, form=presented.form)
            )
        context = VerificationContext(
            presented=presented,
            now=self._clock(),
            recipient_email=recipient,
            own_issuer=issuer_id_of(presented.credential) == self._resolver.own_did,
        )
        checks: list[Check] = []
        if recipient:
            checks.append(RecipientCheck())
        outcomes = [read, *self._policy.run(context)]
        if checks:
            outcomes.extend(AllOf(checks).run(context))
        issuer_id = issuer_id_of(presented.credential)
        proven = any(outcome.check == "proof" and outcome.status != FAIL for outcome in outcomes)
        return VerificationReport(
            tuple(outcomes),
            summarize(presented.credential, form=presented.form),
            issuer_identity=(
                proven_identity(issuer_id, own_did=self._resolver.own_did)
                if proven and issuer_id is not None
                else None
            ),
        )

    @staticmethod
    def unreadable(error: IssuerError, *, source: str | None = None) -> VerificationReport:
        """The report of one item of a batch that could not be read at all."""
        return VerificationReport(
            (CheckOutcome("read", FAIL, error.code, error.message),), None, source=source
        )
