"""Issuance: one pipeline from an award request to a stored, doubly signed credential.

The order is fixed: template → unsigned credential → status entry → schema check → sign
(Data Integrity, then VC-JWT) → store → respond. The status entry is reserved
(``StatusAllocator.reserve``) so that checking and signing, the costly part, run outside the
write lock; the store is one short transaction holding the entry, the credential and what
the caller adds (audit record, outbox message). Nothing is returned before the signed
credential, its JWT and the recipient's address are committed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer import schemas
from issuer.assessors import Principal
from issuer.awarding import (
    Award,
    Evidence,
    IssuerProfile,
    build_credential,
    looks_like_email,
    normalize_email,
)
from issuer.errors import Conflict, Forbidden, InvalidInput, NotFound
from issuer.frameworks import TemplateCatalog
from issuer.keyring import Keyring
from issuer.proofs import data_integrity, fast_canonical, vc_jwt
from issuer.revocation import StatusAllocator, StatusEntryTaken, StatusReservation
from issuer.storage import Database, is_uuid
from issuer.storage.models import IdempotencyKey, IssuedCredential

MAX_IDEMPOTENCY_KEY_LENGTH = 200
# Rounds of reserve-sign-store before giving up; another round is needed only when another
# process stored the same status entry first.
MAX_SIGNING_ROUNDS = 8


@dataclass(frozen=True)
class IssuedAward:
    """A stored credential in both its forms."""

    id: str
    credential: dict[str, Any]
    jwt: str
    achievement: str
    recipient_name: str
    issued_at: datetime
    valid_until: datetime | None


# What a caller stores with a new award, in the award's own transaction: its audit record,
# the earner's e-mail in the outbox, a bulk row's outcome. Not called on an idempotent replay.
AwardHook = Callable[[Session, IssuedAward], None]


class IssuanceService:
    def __init__(
        self,
        db: Database,
        catalog: TemplateCatalog,
        keyring: Callable[[], Keyring],
        *,
        issuer: IssuerProfile,
        base_url: str,
        jwt_algorithm: str,
        status: StatusAllocator,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_uuid: Callable[[], uuid.UUID] = uuid.uuid4,
        new_salt: Callable[[], str] = lambda: secrets.token_hex(16),
    ):
        self._db = db
        self._catalog = catalog
        self._keyring = keyring
        self._issuer = issuer
        self._base_url = base_url
        self._jwt_algorithm = jwt_algorithm
        self._status = status
        self._clock = clock
        self._new_uuid = new_uuid
        self._new_salt = new_salt

    def award(
        self,
        assessor: Principal,
        request: dict[str, Any],
        idempotency_key: str | None = None,
        *,
        store_with: AwardHook | None = None,
    ) -> IssuedAward:
        """Issue, sign and store the credential ``request`` asks for, and what ``store_with``
        adds, in one transaction: all of it is stored or none.

        Raises InvalidInput for a malformed request, NotFound ``achievement_not_found``,
        Forbidden ``level_not_allowed``, and Conflict ``idempotency_key_reused`` when the key
        was used before with another request.
        """
        award = parse_award_request(request)
        framework, _, level = award.achievement.partition("/")
        template = self._catalog.get(framework, level)
        if not assessor.may_award(award.achievement):
            raise Forbidden("level_not_allowed", f"You may not award {award.achievement}.")
        request_digest = _request_digest(request)
        if idempotency_key is not None:
            _check_idempotency_key(idempotency_key)
            replay = self._replay(assessor, idempotency_key, request_digest)
            if replay is not None:
                return replay

        credential_uuid = self._new_uuid()
        unsigned = build_credential(
            template,
            award,
            issuer=self._issuer,
            base_url=self._base_url,
            now=self._clock(),
            credential_id=credential_uuid,
            subject_id=self._new_uuid(),
            salt=self._new_salt(),
        )
        keyring = self._keyring()
        data_integrity_key = keyring.signing_key("EdDSA")
        jwt_key = keyring.signing_key(self._jwt_algorithm)
        issued_at = datetime.fromisoformat(unsigned["validFrom"])
        valid_until = award.valid_until.astimezone(UTC) if award.valid_until else None
        for _ in range(MAX_SIGNING_ROUNDS):
            # The status entry is inside the signed bytes: it is reserved first, the
            # credential checked and signed outside any write lock, and the entry stored
            # with the credential in one short transaction. A failure anywhere leaves no
            # entry behind, and a stored entry always has its credential.
            reservation = self._status.reserve(self._db)
            try:
                record, signed = self._sign(
                    unsigned,
                    reservation,
                    credential_uuid,
                    award,
                    assessor,
                    data_integrity_key,
                    jwt_key,
                    issued_at=issued_at,
                    valid_until=valid_until,
                )
                issued = _issued(record, signed)
                with self._db.write() as session:
                    self._status.claim(session, reservation, record.id)
                    session.add(record)
                    if idempotency_key is not None:
                        session.flush()
                        session.add(
                            IdempotencyKey(
                                assessor_id=assessor.id,
                                key=idempotency_key,
                                request_sha256=request_digest,
                                credential_id=record.id,
                                created_at=issued_at,
                            )
                        )
                    if store_with is not None:
                        session.flush()
                        store_with(session, issued)
            except StatusEntryTaken:
                # Another process stored this entry between our read and our write.
                continue
            except IntegrityError:
                # Another worker stored the same idempotency key first; answer as it did.
                if idempotency_key is None:
                    raise
                replay = self._replay(assessor, idempotency_key, request_digest)
                if replay is None:
                    raise
                return replay
            finally:
                self._status.release(reservation)
            return issued
        raise Conflict(
            "status_allocation_failed", "No status list entry could be allocated; try again."
        )

    def _sign(
        self,
        unsigned: dict[str, Any],
        reservation: StatusReservation,
        credential_uuid: uuid.UUID,
        award: Award,
        assessor: Principal,
        data_integrity_key: Any,
        jwt_key: Any,
        *,
        issued_at: datetime,
        valid_until: datetime | None,
    ) -> tuple[IssuedCredential, dict[str, Any]]:
        """The credential with ``reservation``'s status entry, checked, signed both ways,
        as the row to store and the signed document (no database work).

        Raises InvalidInput ``credential_invalid`` when it fails the OB 3.0 schema.
        """
        unsigned = {**unsigned, "credentialStatus": reservation.credential_status}
        schemas.check(
            "open-badge-credential", unsigned, error=InvalidInput, code="credential_invalid"
        )
        signed = data_integrity.add_proof(
            unsigned,
            private_key=data_integrity_key.private_key,
            verification_method=data_integrity_key.kid,
            created=self._clock(),
            engine=fast_canonical.fast_rdfc,
        )
        token = vc_jwt.sign_vc_jwt(unsigned, jwt_key)
        record = IssuedCredential(
            id=str(credential_uuid),
            achievement=award.achievement,
            assessor_id=assessor.id,
            recipient_email=normalize_email(award.recipient_email),
            recipient_name=award.recipient_name or "",
            issued_at=issued_at,
            valid_until=valid_until,
            credential_json=json.dumps(signed, ensure_ascii=False, separators=(",", ":")),
            jwt=token,
            data_integrity_kid=data_integrity_key.kid,
            jwt_kid=jwt_key.kid,
        )
        return record, signed

    def get(self, credential_id: str) -> IssuedAward:
        """The stored credential. Raises NotFound ``credential_not_found``."""
        if not is_uuid(credential_id):
            raise NotFound("credential_not_found", "There is no such credential.")
        with self._db.read() as session:
            record = session.get(IssuedCredential, credential_id)
        if record is None:
            raise NotFound("credential_not_found", "There is no such credential.")
        return _issued(record, json.loads(record.credential_json))

    def _replay(self, assessor: Principal, key: str, request_digest: str) -> IssuedAward | None:
        with self._db.read() as session:
            row = session.execute(
                select(IdempotencyKey, IssuedCredential)
                .join(IssuedCredential, IssuedCredential.id == IdempotencyKey.credential_id)
                .where(IdempotencyKey.assessor_id == assessor.id, IdempotencyKey.key == key)
            ).first()
        if row is None:
            return None
        if row.IdempotencyKey.request_sha256 != request_digest:
            raise Conflict(
                "idempotency_key_reused",
                "This Idempotency-Key was used before with a different request.",
            )
        record = row.IssuedCredential
        return _issued(record, json.loads(record.credential_json))


def parse_award_request(request: dict[str, Any]) -> Award:
    """Check an award request against its schema and read it.

    Raises InvalidInput ``request_invalid`` (naming the JSON path), ``email_invalid``,
    ``evidence_url_invalid`` or ``valid_until_invalid``.
    """
    schemas.check("award-request", request, error=InvalidInput, code="request_invalid")
    recipient = request["recipient"]
    email = recipient["email"].strip()
    if not looks_like_email(email):
        raise InvalidInput("email_invalid", "recipient.email is not an e-mail address.")
    evidence = []
    for index, item in enumerate(request.get("evidence", [])):
        url = item.get("url")
        if url is not None and not _is_absolute_http_url(url):
            raise InvalidInput(
                "evidence_url_invalid",
                f"evidence[{index}].url must be an absolute http(s) URL.",
            )
        evidence.append(Evidence(narrative=item.get("narrative"), url=url, name=item.get("name")))
    valid_until = None
    if "validUntil" in request:
        valid_until = _parse_datetime(request["validUntil"])
    statements = request.get("statements")
    return Award(
        achievement=request["achievement"],
        recipient_email=email,
        recipient_name=(recipient.get("name") or "").strip() or None,
        statements=tuple(statements) if statements is not None else None,
        evidence=tuple(evidence),
        valid_until=valid_until,
    )


def _parse_datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in text:
        raise InvalidInput(
            "valid_until_invalid",
            "validUntil must be a date-time with a time zone, e.g. 2030-01-31T00:00:00Z.",
        )
    return moment


def _is_absolute_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url


def _check_idempotency_key(key: str) -> None:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            "idempotency_key_invalid",
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters.",
        )


def _request_digest(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _issued(record: IssuedCredential, credential: dict[str, Any]) -> IssuedAward:
    return IssuedAward(
        id=record.id,
        credential=credential,
        jwt=record.jwt,
        achievement=record.achievement,
        recipient_name=record.recipient_name,
        issued_at=record.issued_at,
        valid_until=record.valid_until,
    )
