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
    MetaData,
    String,
    Text,
    UniqueConstraint,
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
