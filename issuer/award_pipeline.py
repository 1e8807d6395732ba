"""Awarding as the service does it: the credential, its audit record and the earner's e-mail,
stored together. One award at a time (``AwardPipeline.__call__``, the API and the pages), or
in the parts a bulk job runs apart (``prepare`` in the job's process, ``sign`` in a signing
process, the store of a whole batch back in the job's process).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from issuer.assessors import Principal
from issuer.audit import AuditLog
from issuer.issuance import (
    AwardWrite,
    IssuanceService,
    IssuedAward,
    PreparedAward,
    SignedAward,
)
from issuer.mail import MailService
from issuer.revocation import StatusReservation
from issuer.storage import Session

# Configuration values a signing process needs to build the same services (plain values
# only: they are sent to the process when it starts).
_PLAIN = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class SignedForBatch:
    """A signed award and its e-mail in the outbox's form, made by a signing process."""

    signed: SignedAward
    mail: str


class AwardPipeline:
    def __init__(
        self,
        issuance: IssuanceService,
        audit: AuditLog,
        mail: MailService,
        *,
        settings: Mapping[str, Any],
    ):
        self.issuance = issuance
        self.audit = audit
        self.mail = mail
        self.worker_settings = {
            name: value for name, value in settings.items() if isinstance(value, _PLAIN)
        }

    def __call__(
        self,
        principal: Principal,
        request: dict[str, Any],
        idempotency_key: str | None = None,
        *,
        actor: str,
        address: str | None,
        details: dict[str, Any],
        store_with: Callable[[Session, IssuedAward], None] | None = None,
    ) -> IssuedAward:
        """Issue a credential and store with it, in one transaction, its audit record, the
        earner's e-mail (delivered after the commit) and what ``store_with`` adds. An
        idempotent replay answers the first award again and stores nothing new.

        Raises as ``IssuanceService.award``.
        """

        def record(issued: IssuedAward) -> AwardWrite:
            recipient = request["recipient"]["email"]  # the request was read and is valid
            message = self.mail.render_award(issued, recipient)

            def write(session: Session) -> None:
                self.record(
                    session, issued, recipient, actor=actor, address=address, details=details
                )
                self.mail.queue_rendered_award(session, issued.id, recipient, message)
                if store_with is not None:
                    store_with(session, issued)

            return write

        issued = self.issuance.award(principal, request, idempotency_key, store_with=record)
        self.mail.wake()
        return issued

    def record(
        self,
        session: Session,
        issued: IssuedAward,
        recipient: str,
        *,
        actor: str,
        address: str | None,
        details: dict[str, Any],
    ) -> None:
        """The audit record of a new award, in its transaction."""
        self.audit.record(
            actor,
            "award.issued",
            issued.id,
            address=address,
            details=_award_details(issued, recipient, details),
            session=session,
        )

    def record_batch(
        self,
        session: Session,
        awards: Sequence[tuple[SignedForBatch, dict[str, Any]]],
        *,
        actor: str,
        address: str | None,
    ) -> None:
        """The audit records and e-mails of a batch's new awards, each (award, details) of
        ``awards``, in their transaction: one statement for all the records and one for all
        the e-mails."""
        issued = [(item, item.signed.issued(), details) for item, details in awards]
        self.audit.record_many(
            session,
            actor,
            "award.issued",
            [
                (
                    award.id,
                    _award_details(award, item.signed.prepared.award.recipient_email, details),
                )
                for item, award, details in issued
            ],
            address=address,
        )
        self.mail.queue_rendered_awards(
            session,
            [
                (award.id, item.signed.prepared.award.recipient_email, item.mail)
                for item, award, _ in issued
            ],
        )

    def sign(self, prepared: PreparedAward, reservation: StatusReservation) -> SignedForBatch:
        """Sign ``prepared`` and render its e-mail; no database work (a signing process runs
        this). Raises as ``IssuanceService.sign``."""
        signed = self.issuance.sign(prepared, reservation)
        return SignedForBatch(
            signed, self.mail.render_award(signed.issued(), prepared.award.recipient_email)
        )


def _award_details(issued: IssuedAward, recipient: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"achievement": issued.achievement, "recipient": recipient, **details}
