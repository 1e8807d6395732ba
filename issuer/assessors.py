"""Assessor accounts, their API tokens and what each may award."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from issuer.errors import Conflict, InvalidInput, NotFound, Unauthorized
from issuer.storage import Database
from issuer.storage.models import ApiToken, Assessor, AssessorLevel

TOKEN_PREFIX = "obi_"  # noqa: S105 - a recognisable prefix, so leaked tokens are easy to scan for


@dataclass(frozen=True)
class Principal:
    """An authenticated assessor, as the domain services see them."""

    id: int
    email: str
    name: str
    is_admin: bool
    all_levels: bool
    levels: frozenset[str]

    def may_award(self, achievement: str) -> bool:
        return self.is_admin or self.all_levels or achievement in self.levels


@dataclass(frozen=True)
class NewAssessor:
    principal: Principal
    password: str
    token: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AssessorService:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._db = db
        self._hasher = PasswordHasher()
        self._clock = clock

    def add(
        self,
        email: str,
        *,
        name: str | None,
        levels: Iterable[str],
        all_levels: bool,
        is_admin: bool,
    ) -> NewAssessor:
        """Create an account with a one-time password and a first API token.

        Raises InvalidInput ``email_invalid`` and Conflict ``assessor_exists``.
        """
        email = email.strip().lower()
        if "@" not in email or email.startswith("@") or email.endswith("@") or " " in email:
            raise InvalidInput("email_invalid", f"{email!r} is not an e-mail address.")
        password = secrets.token_urlsafe(12)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        assessor = Assessor(
            email=email,
            name=name or email.split("@")[0],
            password_hash=self._hasher.hash(password),
            is_admin=is_admin,
            all_levels=all_levels,
            created_at=now,
            levels=[AssessorLevel(achievement=level) for level in sorted(set(levels))],
        )
        try:
            with self._db.write() as session:
                session.add(assessor)
                session.flush()
                session.add(
                    ApiToken(
                        assessor_id=assessor.id,
                        label="first token",
                        token_sha256=token_digest(token),
                        created_at=now,
                    )
                )
        except IntegrityError:
            raise Conflict("assessor_exists", f"An assessor {email} already exists.") from None
        return NewAssessor(_principal(assessor), password, token)

    def count(self) -> int:
        with self._db.read() as session:
            return session.scalar(select(func.count()).select_from(Assessor)) or 0

    def by_email(self, email: str) -> Principal:
        """The assessor with this e-mail. Raises NotFound ``assessor_not_found``."""
        with self._db.read() as session:
            assessor = session.scalar(
                select(Assessor).where(Assessor.email == email.strip().lower())
            )
            if assessor is None or assessor.disabled_at is not None:
                raise NotFound("assessor_not_found", f"There is no assessor {email}.")
            return _principal(assessor)

    def authenticate_token(self, token: str) -> Principal:
        """The assessor a bearer token belongs to.

        Raises Unauthorized ``token_invalid`` for an unknown, revoked or disabled token.
        """
        digest = token_digest(token)
        with self._db.read() as session:
            row = session.execute(
                select(ApiToken, Assessor)
                .join(Assessor, Assessor.id == ApiToken.assessor_id)
                .where(ApiToken.token_sha256 == digest)
            ).first()
            # The lookup is by digest; the constant-time comparison makes the final decision
            # independent of how much of the digest matched.
            if (
                row is None
                or not hmac.compare_digest(row.ApiToken.token_sha256, digest)
                or row.ApiToken.revoked_at is not None
                or row.Assessor.disabled_at is not None
            ):
                raise Unauthorized("token_invalid", "The API token is not valid.")
            return _principal(row.Assessor)


def _principal(assessor: Assessor) -> Principal:
    return Principal(
        id=assessor.id,
        email=assessor.email,
        name=assessor.name,
        is_admin=assessor.is_admin,
        all_levels=assessor.all_levels,
        levels=frozenset(level.achievement for level in assessor.levels),
    )
