"""The holder-bound copy of an award: the credential a wallet receives.

It is the award with three changes and nothing else: ``credentialSubject.id`` is the
holder's DID (the wallet's ``did:key`` or ``did:jwk``, proven by the protocol), the
credential ``id`` is a fresh ``<base>/wallet/credentials/<uuid>`` (the OB 3.0 schema asks
for an http(s) URL; it is not served: the copy is the holder's), and it carries a fresh
proof. The achievement, results, evidence, hashed e-mail, name, dates and **the same
``credentialStatus`` entry** are the award's, so revoking the award revokes every copy
with no change to revocation.
Both forms are signed as every credential is (``data_integrity.add_proof`` with the
issuer's Ed25519 key, ``vc_jwt.sign_vc_jwt`` with the configured algorithm) after the
same schema check.

One copy per award and holder (a database constraint): the same wallet key claiming
again gets the stored copy, not a new one. A revoked award is not claimed. Each new copy
is stored linked to its award with an audit record (``wallet.claimed``), in one transaction.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from issuer import schemas
from issuer.audit import AuditLog
from issuer.errors import InvalidInput
from issuer.issuance import IssuanceService
from issuer.keyring import Keyring
from issuer.proofs import data_integrity, vc_jwt
from issuer.revocation import RevocationService
from issuer.storage import Database
from issuer.storage.models import WalletClaim
from issuer.wallet.offers import WalletError

EARNER_ACTOR = "earner"
COPIES_PATH = "/wallet/credentials/"


@dataclass(frozen=True)
class HolderCopy:
    """A stored holder-bound copy in both forms."""

    id: str
    award_id: str
    holder: str
    credential: dict[str, Any]
    jwt: str
    new: bool


def bind_to_holder(award: dict[str, Any], holder: str, *, copy_id: str) -> dict[str, Any]:
    """The unsigned copy of the signed ``award`` bound to ``holder``. Pure."""
    unsigned = {key: copy.deepcopy(value) for key, value in award.items() if key != "proof"}
    unsigned["id"] = copy_id
    unsigned["credentialSubject"]["id"] = holder
    return unsigned


def holder_digest(holder: str) -> str:
    return hashlib.sha256(holder.encode("utf-8")).hexdigest()


class HolderBinding:
    def __init__(
        self,
        db: Database,
        issuance: IssuanceService,
        revocation: RevocationService,
        keyring: Callable[[], Keyring],
        audit: AuditLog,
        *,
        base_url: str,
        jwt_algorithm: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_uuid: Callable[[], uuid.UUID] = uuid.uuid4,
    ):
        self._db = db
        self._issuance = issuance
        self._revocation = revocation
        self._keyring = keyring
        self._audit = audit
        self._base_url = base_url
        self._jwt_algorithm = jwt_algorithm
        self._clock = clock
        self._new_uuid = new_uuid

    def refuse_if_revoked(self, award_id: str) -> None:
        """Raises WalletError ``credential_request_denied`` (``award_revoked``)."""
        if self._revocation.status_of(award_id).revoked:
            raise WalletError(
                "credential_request_denied",
                "award_revoked",
                "This badge was revoked by the issuer; it cannot be added to a wallet.",
            )

    def claim(
        self, award_id: str, holder: str, protocol: str, *, address: str | None
    ) -> HolderCopy:
        """The copy of ``award_id`` bound to ``holder``: the stored one, or a new one signed,
        stored and audited now.

        Raises WalletError ``credential_request_denied`` for a revoked award, NotFound
        ``credential_not_found``, and KeyringError when the keys cannot sign.
        """
        stored = self._stored(award_id, holder)
        if stored is not None:
            return stored
        self.refuse_if_revoked(award_id)
        award = self._issuance.get(award_id)
        copy_uuid = self._new_uuid()
        copy_id = f"{self._base_url}{COPIES_PATH}{copy_uuid}"
        unsigned = bind_to_holder(award.credential, holder, copy_id=copy_id)
        schemas.check(
            "open-badge-credential", unsigned, error=InvalidInput, code="credential_invalid"
        )
        keyring = self._keyring()
        data_integrity_key = keyring.signing_key("EdDSA")
        jwt_key = keyring.signing_key(self._jwt_algorithm)
        signed = data_integrity.add_proof(
            unsigned,
            private_key=data_integrity_key.private_key,
            verification_method=data_integrity_key.kid,
            created=self._clock(),
        )
        token = vc_jwt.sign_vc_jwt(unsigned, jwt_key)
        try:
            with self._db.write() as session:
                session.add(
                    WalletClaim(
                        id=str(copy_uuid),
                        credential_id=award_id,
                        holder=holder,
                        holder_sha256=holder_digest(holder),
                        protocol=protocol,
                        claimed_at=self._clock(),
                        credential_json=json.dumps(
                            signed, ensure_ascii=False, separators=(",", ":")
                        ),
                        jwt=token,
                        data_integrity_kid=data_integrity_key.kid,
                        jwt_kid=jwt_key.kid,
                    )
                )
                self._audit.record(
                    EARNER_ACTOR,
                    "wallet.claimed",
                    award_id,
                    address=address,
                    details={"protocol": protocol, "copy": copy_id, "holder": holder},
                    session=session,
                )
        except IntegrityError:
            # The same wallet claimed at the same moment in another request; answer with
            # the copy that request stored.
            stored = self._stored(award_id, holder)
            if stored is None:
                raise
            return stored
        return HolderCopy(str(copy_uuid), award_id, holder, signed, token, new=True)

    def count(self, award_id: str) -> int:
        """How many wallets hold a copy of ``award_id``."""
        with self._db.read() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(WalletClaim)
                    .where(WalletClaim.credential_id == award_id)
                )
                or 0
            )

    def copies(self, award_id: str) -> list[HolderCopy]:
        """Every copy of ``award_id``, oldest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(WalletClaim)
                .where(WalletClaim.credential_id == award_id)
                .order_by(WalletClaim.claimed_at)
            ).all()
        return [_copy(row) for row in rows]

    def _stored(self, award_id: str, holder: str) -> HolderCopy | None:
        with self._db.read() as session:
            row = session.scalars(
                select(WalletClaim).where(
                    WalletClaim.credential_id == award_id,
                    WalletClaim.holder_sha256 == holder_digest(holder),
                )
            ).first()
        return _copy(row) if row is not None else None


def _copy(row: WalletClaim) -> HolderCopy:
    return HolderCopy(
        row.id, row.credential_id, row.holder, json.loads(row.credential_json), row.jwt, new=False
    )
