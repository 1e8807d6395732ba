"""Issuance: one pipeline from an award request to a stored, doubly signed credential.

The order is fixed: template → unsigned credential → status entry → schema check → sign
(Data Integrity, then VC-JWT) → store → respond. The status entry is reserved
(``StatusAllocator.reserve``) so that checking and signing, the costly part, run outside the
write lock; the store is one short transaction holding the entry, the credential and what
the caller adds (audit record, outbox message). Nothing is returned before the signed
credential, its JWT and the recipient's address are committed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
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
from issuer.frameworks import Template, TemplateCatalog
from issuer.keyring import Keyring
from issuer.proofs import data_integrity, fast_canonical, vc_jwt
from issuer.revocation import (
    StatusAllocator,
    StatusEntryTaken,
    StatusReservation,
    closed_lists,
)
from issuer.storage import Database, is_uuid
from issuer.storage.models import IdempotencyKey, IssuedCredential, StatusEntry

MAX_IDEMPOTENCY_KEY_LENGTH = 200
# Rounds of reserve-sign-store before giving up; another round is needed only when another
# process stored the same status entry first.
MAX_SIGNING_ROUNDS = 8
# Built once, their values bound when they run: no statement tree to build and walk per award.
_INSERT_CREDENTIAL = insert(IssuedCredential)
_INSERT_IDEMPOTENCY_KEY = insert(IdempotencyKey)


@dataclass(frozen=True)
class IssuedAward:
    """A stored credential in both its forms."""

    id: str
    credential: dict[str, Any]
    credential_json: str  # the credential as stored, signed and served
    jwt: str
    achievement: str
    recipient_name: str
    issued_at: datetime
    valid_until: datetime | None


@dataclass(frozen=True)
class PreparedAward:
    """An award read, checked and built, waiting for its status entry and signatures. Plain
    values only, so that it can go to a signing process."""

    id: str
    award: Award
    assessor_id: int
    unsigned: dict[str, Any]
    request_sha256: str
    idempotency_key: str | None
    issued_at: datetime
    valid_until: datetime | None


@dataclass(frozen=True)
class SignedAward:
    """A prepared award with its status entry, signed both ways, not stored yet."""

    prepared: PreparedAward
    reservation: StatusReservation
    credential: dict[str, Any]
    credential_json: str
    jwt: str
    data_integrity_kid: str
    jwt_kid: str

    def row(self) -> dict[str, Any]:
        """The ``credentials`` row, as column values."""
        prepared = self.prepared
        return {
            "id": prepared.id,
            "achievement": prepared.award.achievement,
            "assessor_id": prepared.assessor_id,
            "recipient_email": normalize_email(prepared.award.recipient_email),
            "recipient_name": prepared.award.recipient_name or "",
            "issued_at": prepared.issued_at,
            "valid_until": prepared.valid_until,
            "credential_json": self.credential_json,
            "jwt": self.jwt,
            "data_integrity_kid": self.data_integrity_kid,
            "jwt_kid": self.jwt_kid,
            "page_hidden": False,
        }

    def issued(self) -> IssuedAward:
        prepared = self.prepared
        return IssuedAward(
            id=prepared.id,
            credential=self.credential,
            credential_json=self.credential_json,
            jwt=self.jwt,
            achievement=prepared.award.achievement,
            recipient_name=prepared.award.recipient_name or "",
            issued_at=prepared.issued_at,
            valid_until=prepared.valid_until,
        )


# What a caller stores with a new award, in the award's own transaction: its audit record,
# the earner's e-mail in the outbox. Given the signed award before the transaction (so that
# rendering an e-mail holds no lock), it returns the writes to make in it; these write
# through the session only, as they run again when another award of their group commit
# fails (``Database.write_grouped``). Not called on an idempotent replay.
AwardWrite = Callable[[Session], None]
AwardHook = Callable[[IssuedAward], AwardWrite]


def other_issuer_identity(db: Database, issuer_did: str) -> str | None:
    """The DID of stored credentials issued under another identity than ``issuer_did`` (the
    service moved to a new base URL), or None; None too for a database not set up yet."""
    try:
        with db.read() as session:
            kid = session.scalar(
                select(IssuedCredential.data_integrity_kid)
                .where(
                    ~IssuedCredential.data_integrity_kid.startswith(
                        f"{issuer_did}#", autoescape=True
                    )
                )
                .limit(1)
            )
    except SQLAlchemyError:  # no tables yet: nothing was issued
        return None
    return kid.split("#", 1)[0] if kid else None


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
        template = self._catalog.shared(framework, level)
        if not assessor.may_award(award.achievement):
            raise Forbidden("level_not_allowed", f"You may not award {award.achievement}.")
        request_digest = award_request_digest(request)
        if idempotency_key is not None:
            _check_idempotency_key(idempotency_key)
            replay = self._replay(assessor, idempotency_key, request_digest)
            if replay is not None:
                return replay

        prepared = self._prepare(assessor, award, template, request_digest, idempotency_key)
        for _ in range(MAX_SIGNING_ROUNDS):
            # The status entry is inside the signed bytes: it is reserved first, the
            # credential checked and signed outside any write lock, and the entry stored
            # with the credential in one short transaction. A failure anywhere leaves no
            # entry behind, and a stored entry always has its credential.
            reservation = self._status.reserve(self._db)
            try:
                signed = self.sign(prepared, reservation)
                also = store_with(signed.issued()) if store_with is not None else None
                # Committed with the awards of other threads that come at the same time.
                issued = self._db.write_grouped(
                    functools.partial(self._store_with, signed=signed, also=also)
                )
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

    def prepare(
        self, assessor: Principal, request: dict[str, Any], idempotency_key: str | None
    ) -> PreparedAward:
        """Read and check ``request`` and build its unsigned credential, as ``award`` does,
        without looking for a replay of ``idempotency_key`` (see ``replays``).

        Raises as ``award``.
        """
        award = parse_award_request(request)
        framework, _, level = award.achievement.partition("/")
        template = self._catalog.shared(framework, level)
        if not assessor.may_award(award.achievement):
            raise Forbidden("level_not_allowed", f"You may not award {award.achievement}.")
        if idempotency_key is not None:
            _check_idempotency_key(idempotency_key)
        return self._prepare(
            assessor, award, template, award_request_digest(request), idempotency_key
        )

    def _prepare(
        self,
        assessor: Principal,
        award: Award,
        template: Template,
        request_digest: str,
        idempotency_key: str | None,
    ) -> PreparedAward:
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
        return PreparedAward(
            id=str(credential_uuid),
            award=award,
            assessor_id=assessor.id,
            unsigned=unsigned,
            request_sha256=request_digest,
            idempotency_key=idempotency_key,
            issued_at=datetime.fromisoformat(unsigned["validFrom"]),
            valid_until=award.valid_until.astimezone(UTC) if award.valid_until else None,
        )

    def sign(self, prepared: PreparedAward, reservation: StatusReservation) -> SignedAward:
        """The credential of ``prepared`` with ``reservation``'s status entry, checked and
        signed both ways (no database work, so a signing process can run it).

        Raises InvalidInput ``credential_invalid`` when it fails the OB 3.0 schema, and
        KeyringError when the keys are unusable.
        """
        keyring = self._keyring()
        data_integrity_key = keyring.signing_key("EdDSA")
        jwt_key = keyring.signing_key(self._jwt_algorithm)
        unsigned = {**prepared.unsigned, "credentialStatus": reservation.credential_status}
        schemas.check(
            "open-badge-credential", unsigned, error=InvalidInput, code="credential_invalid"
        )
        signed = data_integrity.add_proof(
            unsigned,
            private_key=data_integrity_key.private_key,
            verification_method=data_integrity_key.kid,
            created=self._clock(),
            canonicalizer=fast_canonical.canonicalize,
        )
        return SignedAward(
            prepared=prepared,
            reservation=reservation,
            credential=signed,
            credential_json=json.dumps(signed, ensure_ascii=False, separators=(",", ":")),
            jwt=vc_jwt.sign_vc_jwt(unsigned, jwt_key),
            data_integrity_kid=data_integrity_key.kid,
            jwt_kid=jwt_key.kid,
        )

    def store(self, session: Session, signed: SignedAward) -> IssuedAward:
        """Store ``signed`` in the caller's write transaction: its status entry, the
        credential and its idempotency key.

        Raises StatusEntryTaken (the transaction stays usable: sign again with another
        entry) and IntegrityError when the idempotency key was stored meanwhile.
        """
        prepared = signed.prepared
        self._status.claim(session, signed.reservation, prepared.id)
        # Core statements on the session's connection: the ORM would add only cost here.
        connection = session.connection()
        connection.execute(_INSERT_CREDENTIAL, signed.row())
        if prepared.idempotency_key is not None:
            connection.execute(
                _INSERT_IDEMPOTENCY_KEY,
                {
                    "assessor_id": prepared.assessor_id,
                    "key": prepared.idempotency_key,
                    "request_sha256": prepared.request_sha256,
                    "credential_id": prepared.id,
                    "created_at": prepared.issued_at,
                },
            )
        return signed.issued()

    def _store_with(
        self, session: Session, signed: SignedAward, also: AwardWrite | None
    ) -> IssuedAward:
        issued = self.store(session, signed)
        if also is not None:
            also(session)
        return issued

    def store_many(self, session: Session, batch: Sequence[SignedAward]) -> list[IssuedAward]:
        """Store a batch of signed awards in the caller's write transaction, with one
        statement per table.

        Raises IntegrityError, inside a savepoint that leaves the transaction usable, when
        any status entry or idempotency key was stored meanwhile, and StatusEntryTaken when
        a list of the batch's entries was closed meanwhile (``StatusAllocator.claim``): the
        caller then stores the batch one by one (``store``), which tells which.
        """
        if not batch:
            return []
        if closed_lists(session, [signed.reservation.list_id for signed in batch]):
            raise StatusEntryTaken
        with session.begin_nested():
            session.execute(
                insert(StatusEntry),
                [
                    {
                        "credential_id": signed.prepared.id,
                        "list_id": signed.reservation.list_id,
                        "status_index": signed.reservation.index,
                    }
                    for signed in batch
                ],
            )
            session.execute(insert(IssuedCredential), [signed.row() for signed in batch])
            keys = [
                {
                    "assessor_id": signed.prepared.assessor_id,
                    "key": signed.prepared.idempotency_key,
                    "request_sha256": signed.prepared.request_sha256,
                    "credential_id": signed.prepared.id,
                    "created_at": signed.prepared.issued_at,
                }
                for signed in batch
                if signed.prepared.idempotency_key is not None
            ]
            if keys:
                session.execute(insert(IdempotencyKey), keys)
        return [signed.issued() for signed in batch]

    def release(self, reservation: StatusReservation) -> None:
        """Forget a reservation once its entry is stored or will never be."""
        self._status.release(reservation)

    def reserve_many(self, count: int) -> list[StatusReservation]:
        """``count`` status entries for a batch (``StatusAllocator.reserve_many``).

        Raises Conflict ``status_allocation_failed``.
        """
        return self._status.reserve_many(self._db, count)

    def replays(self, assessor_id: int, keys: Sequence[str]) -> dict[str, tuple[str, IssuedAward]]:
        """The awards ``keys`` of this assessor produced already, each with the digest of
        its request, read in one query per few hundred keys."""
        found: dict[str, tuple[str, IssuedAward]] = {}
        with self._db.read() as session:
            for start in range(0, len(keys), 400):
                rows = session.execute(
                    select(IdempotencyKey, IssuedCredential)
                    .join(IssuedCredential, IssuedCredential.id == IdempotencyKey.credential_id)
                    .where(
                        IdempotencyKey.assessor_id == assessor_id,
                        IdempotencyKey.key.in_(keys[start : start + 400]),
                    )
                ).all()
                for row in rows:
                    record = row.IssuedCredential
                    found[row.IdempotencyKey.key] = (
                        row.IdempotencyKey.request_sha256,
                        _issued(record, json.loads(record.credential_json)),
                    )
        return found

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
        # One rule for evidence links, on the form, in the API and in bulk files: https
        # only, so a link in a credential never leads the reader over plain HTTP.
        if url is not None and not _is_absolute_https_url(url):
            raise InvalidInput(
                "evidence_url_invalid",
                f"evidence[{index}].url must be an absolute https:// URL.",
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


def _is_absolute_https_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and " " not in url


def _check_idempotency_key(key: str) -> None:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            "idempotency_key_invalid",
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters.",
        )


def award_request_digest(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _issued(record: IssuedCredential, credential: dict[str, Any]) -> IssuedAward:
    return IssuedAward(
        id=record.id,
        credential=credential,
        credential_json=record.credential_json,
        jwt=record.jwt,
        achievement=record.achievement,
        recipient_name=record.recipient_name,
        issued_at=record.issued_at,
        valid_until=record.valid_until,
    )
