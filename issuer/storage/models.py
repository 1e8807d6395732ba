"""The tables. Every uniqueness rule that must hold across workers is a database constraint."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names, so that Alembic migrations can refer to them on any backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no time zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class Assessor(Base):
    __tablename__ = "assessors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    all_levels: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set while the password is a one-time password (made by ``add`` or a reset): it signs
    # in once, before this time, and is then replaced by a random hash.
    one_time_until: Mapped[datetime | None] = mapped_column(default=None)
    # Set when a one-time password was used: every page but "choose your password" is shut.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    levels: Mapped[list[AssessorLevel]] = relationship(
        back_populates="assessor", cascade="all, delete-orphan", lazy="selectin"
    )


class AssessorLevel(Base):
    """One achievement (``<framework>/<level>``) an assessor may award."""

    __tablename__ = "assessor_levels"

    assessor_id: Mapped[int] = mapped_column(ForeignKey("assessors.id"), primary_key=True)
    achievement: Mapped[str] = mapped_column(String(200), primary_key=True)

    assessor: Mapped[Assessor] = relationship(back_populates="levels")


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("assessors.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class IssuedCredential(Base):
    """A signed credential exactly as it was issued. Rows are never deleted."""

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    achievement: Mapped[str] = mapped_column(String(200), index=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("assessors.id"), index=True)
    recipient_email: Mapped[str] = mapped_column(String(320), index=True)
    recipient_name: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(index=True)
    valid_until: Mapped[datetime | None] = mapped_column()
    credential_json: Mapped[str] = mapped_column(Text)
    jwt: Mapped[str] = mapped_column(Text)
    data_integrity_kid: Mapped[str] = mapped_column(String(500))
    jwt_kid: Mapped[str] = mapped_column(String(500))
    # The earner may hide the credential's HTML page; the credential keeps verifying.
    page_hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class IdempotencyKey(Base):
    """Remembers which credential an assessor's ``Idempotency-Key`` produced."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("assessor_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("assessors.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))
    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"))
    created_at: Mapped[datetime] = mapped_column()


Index(
    "ix_credentials_achievement_recipient",
    IssuedCredential.achievement,
    IssuedCredential.recipient_email,
)


class StatusList(Base):
    """A Bitstring Status List: its bits, its version, and its last signed form.

    ``version`` only increases: every change of the bits bumps it, under the row lock.
    The signed forms are a cache of what was published for ``signed_version``.
    """

    __tablename__ = "status_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer)
    full: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column()
    signed_version: Mapped[int | None] = mapped_column(Integer, default=None)
    signed_at: Mapped[datetime | None] = mapped_column(default=None)
    signed_valid_until: Mapped[datetime | None] = mapped_column(default=None)
    signed_json: Mapped[str | None] = mapped_column(Text, default=None)
    signed_jwt: Mapped[str | None] = mapped_column(Text, default=None)


# One open list per purpose, whatever the concurrency: lists opened side by side would each
# hold a handful of credentials, and a handful is no herd to hide a revocation in.
Index(
    "uq_status_lists_open",
    StatusList.purpose,
    unique=True,
    sqlite_where=~StatusList.full,
    postgresql_where=~StatusList.full,
)


class StatusEntry(Base):
    """The status list entry allocated to a credential; (list, index) is never reused.

    The entry is written before the credential (it is inside the signed bytes), so the
    foreign key to the credential is checked at commit.
    """

    __tablename__ = "status_entries"
    __table_args__ = (UniqueConstraint("list_id", "status_index"),)

    credential_id: Mapped[str] = mapped_column(
        ForeignKey("credentials.id", deferrable=True, initially="DEFERRED"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(ForeignKey("status_lists.id"))
    status_index: Mapped[int] = mapped_column(Integer)


class Revocation(Base):
    """A credential taken back: who, when and why. Permanent; one per credential."""

    __tablename__ = "revocations"

    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"), primary_key=True)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("status_lists.id"), default=None)
    status_index: Mapped[int | None] = mapped_column(Integer, default=None)
    revoked_at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text)


class WebSession(Base):
    """A signed-in browser session of the assessors' workspace; only the SHA-256 of its
    token is stored, so that a copy of the database cannot be used to sign in."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("assessors.id"), index=True)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SignInFailure(Base):
    """One failed sign-in, counted per account and per address to slow down guessing."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(400))
    failed_at: Mapped[datetime] = mapped_column()


Index("ix_sign_in_failures_scope_failed_at", SignInFailure.scope, SignInFailure.failed_at)


class AuditEvent(Base):
    """Who did what, when, from which address. Append-only: the database refuses changes."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(320), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(400))
    address: Mapped[str] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)


class BulkJob(Base):
    """A CSV of awards: checked (``draft``), then ``queued``, ``running`` and ``done``.

    A worker owns a running job while its lease lasts; a job whose lease ran out (its
    process stopped) is taken over by the next worker that looks.
    """

    __tablename__ = "bulk_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("assessors.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    total_rows: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)


class BulkJobRow(Base):
    """One row of a bulk job: the award request it became, or why it could not."""

    __tablename__ = "bulk_job_rows"

    job_id: Mapped[str] = mapped_column(ForeignKey("bulk_jobs.id"), primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    recipient_email: Mapped[str] = mapped_column(String(320))
    achievement: Mapped[str] = mapped_column(String(200))
    request_json: Mapped[str | None] = mapped_column(Text, default=None)
    credential_id: Mapped[str | None] = mapped_column(String(36), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


Index("ix_bulk_job_rows_job_id_status", BulkJobRow.job_id, BulkJobRow.status)


class OutgoingMail(Base):
    """A message waiting in the outbox, or sent. Written in the award's own transaction and
    delivered from here after it commits, with retries, so a mail failure never loses or
    blocks an award.

    ``next_attempt_at`` is when to try again (None once sent or given up); a worker claims a
    message by moving ``claimed_until`` forward, so two workers never send it at once.
    """

    __tablename__ = "outgoing_mail"
    __table_args__ = (UniqueConstraint("credential_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credential_id: Mapped[str | None] = mapped_column(ForeignKey("credentials.id"))
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(320))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class WalletOffer(Base):
    """An offer to put an award into a wallet, made on the earner's private page.

    ``protocol`` is ``openid4vci`` (a credential offer with a pre-authorized code) or
    ``vc_api`` (an exchange with a DIDAuth challenge). Only SHA-256 digests of the secrets
    are stored: the offer's locator (the secret in its URL), the pre-authorized code or
    challenge, the transaction code and the access token. ``redeemed_at`` is set once, when
    the code is exchanged for a token or the challenge answered.
    """

    __tablename__ = "wallet_offers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"), index=True)
    protocol: Mapped[str] = mapped_column(String(16))
    locator_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    tx_code_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    tx_code_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)
    redeemed_at: Mapped[datetime | None] = mapped_column(default=None)
    access_token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    access_expires_at: Mapped[datetime | None] = mapped_column(default=None)


class WalletNonce(Base):
    """A ``c_nonce`` from the OpenID4VCI nonce endpoint: its digest, single use."""

    __tablename__ = "wallet_nonces"

    nonce_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class WalletClaim(Base):
    """A holder-bound copy of an award: ``credentialSubject.id`` is the wallet's DID.

    It shares its award's ``credentialStatus`` entry, so revoking the award revokes it.
    One copy per award and holder: the same wallet claiming again gets this one.
    """

    __tablename__ = "wallet_claims"
    __table_args__ = (UniqueConstraint("credential_id", "holder_sha256"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"), index=True)
    holder: Mapped[str] = mapped_column(Text)
    holder_sha256: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(16))
    claimed_at: Mapped[datetime] = mapped_column()
    credential_json: Mapped[str] = mapped_column(Text)
    jwt: Mapped[str] = mapped_column(Text)
    data_integrity_kid: Mapped[str] = mapped_column(String(500))
    jwt_kid: Mapped[str] = mapped_column(String(500))


class PublishedKey(Base):
    """A public key the issuer publishes, written here by whichever host made or loaded it,
    so that every host's DID document and verifier know it before anything is signed with
    it (``issuer.key_publication``). Never deleted: a retired key keeps old credentials
    verifiable."""

    __tablename__ = "published_keys"

    kid: Mapped[str] = mapped_column(String(512), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_key_pem: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column()
    retired_at: Mapped[datetime | None] = mapped_column(default=None)
