"""Assessor accounts, their API tokens and what each may award."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.awarding import looks_like_email, normalize_email
from issuer.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from issuer.storage import Database
from issuer.storage.models import ApiToken, Assessor, AssessorLevel, SignInFailure, WebSession

TOKEN_PREFIX = "obi_"  # noqa: S105 - a recognisable prefix, so leaked tokens are easy to scan for

# Sign-in throttling: within the window, this many failures lock the account (whoever
# tries) and, more generously because offices share addresses, the address.
SIGN_IN_WINDOW = timedelta(minutes=15)
ACCOUNT_FAILURE_LIMIT = 5
ADDRESS_FAILURE_LIMIT = 20
SESSION_LIFETIME = timedelta(hours=8)
# A one-time password (new account or reset) signs in once within this time; that session
# can do nothing but choose the account's own password.
ONE_TIME_PASSWORD_LIFETIME = timedelta(days=3)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
MAX_LABEL_LENGTH = 200
SIGN_IN_FAILED = "The e-mail address or the password is not right."
ONE_TIME_EXPIRED = (
    "This one-time password has expired. Ask an administrator of this service for a new one."
)


class SignInThrottled(Forbidden):
    """Too many failed sign-ins; ``retry_after`` says in how many seconds to try again."""

    code = "sign_in_throttled"

    def __init__(self, retry_after: int):
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            "sign_in_throttled",
            f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            {"retryAfter": retry_after},
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class AssessorSummary:
    """An account as admins see it in the list."""

    id: int
    email: str
    name: str
    is_admin: bool
    all_levels: bool
    levels: tuple[str, ...]
    created_at: datetime
    disabled: bool


@dataclass(frozen=True)
class TokenSummary:
    """An API token without its secret (which is shown once, when created)."""

    id: int
    label: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class Principal:
    """An authenticated assessor, as the domain services see them."""

    id: int
    email: str
    name: str
    is_admin: bool
    all_levels: bool
    levels: frozenset[str]
    # Signed in with a one-time password: must choose a password before anything else.
    must_change_password: bool = False

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
        self._decoy: str | None = None

    def add(
        self,
        email: str,
        *,
        name: str | None,
        levels: Iterable[str],
        all_levels: bool,
        is_admin: bool,
    ) -> NewAssessor:
        """Create an account with a one-time password (see ``sign_in``) and a first API
        token.

        Raises InvalidInput ``email_invalid`` and Conflict ``assessor_exists``.
        """
        email = normalize_email(email)
        if not looks_like_email(email):
            raise InvalidInput("email_invalid", f"{email!r} is not an e-mail address.")
        password = secrets.token_urlsafe(12)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        assessor = Assessor(
            email=email,
            name=name or email.split("@")[0],
            password_hash=self._hasher.hash(password),
            one_time_until=now + ONE_TIME_PASSWORD_LIFETIME,
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
                select(Assessor).where(Assessor.email == normalize_email(email))
            )
            if assessor is None or assessor.disabled_at is not None:
                raise NotFound("assessor_not_found", f"There is no assessor {email}.")
            return _principal(assessor)

    def authenticate_token(self, token: str) -> Principal:
        """The assessor a bearer token belongs to.

        Raises Unauthorized ``token_invalid`` for an unknown, revoked or disabled token.
        """
        digest = token_digest(token)
        with self._db.read_connection() as connection:
            rows = connection.execute(_TOKEN_LOOKUP, {"digest": digest}).all()
        # The lookup is by digest; the constant-time comparison makes the final decision
        # independent of how much of the digest matched.
        row = rows[0] if rows else None
        if (
            row is None
            or not hmac.compare_digest(row.token_sha256, digest)
            or row.revoked_at is not None
            or row.disabled_at is not None
        ):
            raise Unauthorized("token_invalid", "The API token is not valid.")
        return Principal(
            id=row.id,
            email=row.email,
            name=row.name,
            is_admin=row.is_admin,
            all_levels=row.all_levels,
            levels=frozenset(found.achievement for found in rows if found.achievement),
            must_change_password=row.must_change_password,
        )

    def by_id(self, assessor_id: int) -> Principal:
        """The enabled assessor with this id. Raises NotFound ``assessor_not_found``."""
        with self._db.read() as session:
            assessor = session.get(Assessor, assessor_id)
            if assessor is None or assessor.disabled_at is not None:
                raise NotFound("assessor_not_found", "There is no such assessor.")
            return _principal(assessor)

    def sign_in(self, email: str, password: str, *, address: str) -> Principal:
        """The assessor these credentials belong to.

        Raises SignInThrottled (before looking at the password) when the account or the
        address failed too often lately, and Unauthorized ``sign_in_failed`` with the same
        message whether the e-mail is unknown or the password wrong.

        A one-time password works once, before it expires (Unauthorized
        ``one_time_password_expired`` after): using it replaces it with a random hash nobody
        knows, and the principal comes back with ``must_change_password`` set.

        Each attempt is counted as a failure before the password is checked, in the
        transaction that checks the limit, so parallel guesses cannot all pass the check
        before any of them is counted; a right password then takes its own count back.
        """
        email = normalize_email(email)
        scopes = (f"account:{email}"[:400], f"address:{address}"[:400])
        attempt = self._count_attempt(scopes)
        with self._db.read() as session:
            assessor = session.scalar(select(Assessor).where(Assessor.email == email))
        stored_hash = assessor.password_hash if assessor is not None else self._decoy_hash()
        verified = _verify(self._hasher, stored_hash, password)
        if not verified or assessor is None or assessor.disabled_at is not None:
            raise Unauthorized("sign_in_failed", SIGN_IN_FAILED)
        if assessor.one_time_until is not None and assessor.one_time_until <= self._clock():
            raise Unauthorized("one_time_password_expired", ONE_TIME_EXPIRED)
        signed_in = _principal(assessor)
        with self._db.write() as session:
            if assessor.one_time_until is not None:
                stored = session.get(Assessor, assessor.id, with_for_update=True)
                # Another sign-in with the same one-time password may have used it since it
                # was read: the hash it was checked against must still be the stored one.
                if stored is None or not hmac.compare_digest(stored.password_hash, stored_hash):
                    raise Unauthorized("sign_in_failed", SIGN_IN_FAILED)
                stored.password_hash = self._hasher.hash(secrets.token_urlsafe(32))
                stored.one_time_until = None
                stored.must_change_password = True
                signed_in = _principal(stored)
            elif self._hasher.check_needs_rehash(stored_hash):
                # Parameters grew stronger since this hash was made; upgrade it now, while
                # the password is at hand.
                stored = session.get(Assessor, assessor.id)
                if stored is not None:
                    stored.password_hash = self._hasher.hash(password)
            session.execute(
                delete(SignInFailure).where(
                    or_(SignInFailure.scope == scopes[0], SignInFailure.id.in_(attempt))
                )
            )
        return signed_in

    def _count_attempt(self, scopes: tuple[str, str]) -> list[int]:
        """Count an attempt in both ``scopes`` unless one of them is over its limit (then
        raise SignInThrottled); returns the ids of the rows counting it."""
        now = self._clock()
        since = now - SIGN_IN_WINDOW
        retry_after = 0
        with self._db.write() as session:
            for scope in sorted(scopes):  # one order everywhere: no deadlock
                self._db.lock(session, f"sign-in:{scope}")
            session.execute(
                delete(SignInFailure).where(
                    SignInFailure.scope.in_(scopes), SignInFailure.failed_at <= since
                )
            )
            for scope, limit in zip(
                scopes, (ACCOUNT_FAILURE_LIMIT, ADDRESS_FAILURE_LIMIT), strict=True
            ):
                times = session.scalars(
                    select(SignInFailure.failed_at)
                    .where(SignInFailure.scope == scope, SignInFailure.failed_at > since)
                    .order_by(SignInFailure.failed_at.desc())
                    .limit(limit)
                ).all()
                if len(times) >= limit:
                    # Locked until the oldest of the last ``limit`` failures leaves the window.
                    waited = (times[-1] + SIGN_IN_WINDOW - now).total_seconds()
                    retry_after = max(retry_after, int(waited) + 1)
            if retry_after:
                raise SignInThrottled(retry_after)
            rows = [SignInFailure(scope=scope, failed_at=now) for scope in scopes]
            session.add_all(rows)
            session.flush()
            return [row.id for row in rows]

    def _decoy_hash(self) -> str:
        # Verifying against a real hash for unknown e-mail addresses takes as long as for
        # known ones, so the answer time does not tell which addresses have accounts.
        if self._decoy is None:
            self._decoy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._decoy

    def start_session(self, assessor_id: int) -> str:
        """A new browser session for the assessor; returns its secret token."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._db.write() as session:
            session.execute(delete(WebSession).where(WebSession.expires_at <= now))
            session.add(
                WebSession(
                    token_sha256=token_digest(token),
                    assessor_id=assessor_id,
                    created_at=now,
                    expires_at=now + SESSION_LIFETIME,
                )
            )
        return token

    def session_principal(self, token: str) -> Principal:
        """The assessor a browser session belongs to.

        Raises Unauthorized ``session_invalid`` for an unknown, expired or ended session
        and for a disabled account.
        """
        digest = token_digest(token)
        with self._db.read() as session:
            row = session.execute(
                select(WebSession, Assessor)
                .join(Assessor, Assessor.id == WebSession.assessor_id)
                .where(WebSession.token_sha256 == digest)
            ).first()
            if (
                row is None
                or not hmac.compare_digest(row.WebSession.token_sha256, digest)
                or row.WebSession.expires_at <= self._clock()
                or row.Assessor.disabled_at is not None
            ):
                raise Unauthorized("session_invalid", "Please sign in.")
            return _principal(row.Assessor)

    def end_session(self, token: str) -> None:
        with self._db.write() as session:
            session.execute(
                delete(WebSession).where(WebSession.token_sha256 == token_digest(token))
            )

    def change_password(self, principal: Principal, current: str, new: str) -> None:
        """Set a new password after checking the current one; ends the assessor's other
        sessions.

        Raises Unauthorized ``password_wrong`` and InvalidInput ``password_weak``.
        """
        _check_new_password(new)
        with self._db.write() as session:
            assessor = session.get(Assessor, principal.id)
            if assessor is None or not _verify(self._hasher, assessor.password_hash, current):
                raise Unauthorized("password_wrong", "The current password is not right.")
            assessor.password_hash = self._hasher.hash(new)
            _end_sessions(session, principal.id)

    def choose_password(self, principal: Principal, new: str) -> None:
        """Set the password of an account that signed in with its one-time password (which
        is already used up, so it is not asked for); ends the account's sessions.

        Raises InvalidInput ``password_weak`` and Forbidden ``password_not_one_time`` when the
        account did not sign in with a one-time password (it must give its current one).
        """
        _check_new_password(new)
        with self._db.write() as session:
            assessor = session.get(Assessor, principal.id, with_for_update=True)
            if assessor is None or not assessor.must_change_password:
                raise Forbidden(
                    "password_not_one_time", "Change your password on the account page."
                )
            assessor.password_hash = self._hasher.hash(new)
            assessor.must_change_password = False
            _end_sessions(session, principal.id)

    def reset_password(self, assessor_id: int) -> str:
        """Give the account a new one-time password (returned) and end its sessions.

        Raises NotFound ``assessor_not_found``.
        """
        password = secrets.token_urlsafe(12)
        with self._db.write() as session:
            assessor = session.get(Assessor, assessor_id)
            if assessor is None:
                raise NotFound("assessor_not_found", "There is no such assessor.")
            assessor.password_hash = self._hasher.hash(password)
            assessor.one_time_until = self._clock() + ONE_TIME_PASSWORD_LIFETIME
            assessor.must_change_password = False
            _end_sessions(session, assessor_id)
        return password

    def set_disabled(self, assessor_id: int, disabled: bool) -> None:
        """Disable (or enable again) an account; a disabled account's sessions and tokens
        stop working at once. Raises NotFound ``assessor_not_found``."""
        with self._db.write() as session:
            assessor = session.get(Assessor, assessor_id)
            if assessor is None:
                raise NotFound("assessor_not_found", "There is no such assessor.")
            assessor.disabled_at = self._clock() if disabled else None
            if disabled:
                _end_sessions(session, assessor_id)

    def list_assessors(self) -> list[AssessorSummary]:
        with self._db.read() as session:
            rows = session.scalars(select(Assessor).order_by(Assessor.email)).all()
            return [
                AssessorSummary(
                    id=row.id,
                    email=row.email,
                    name=row.name,
                    is_admin=row.is_admin,
                    all_levels=row.all_levels,
                    levels=tuple(sorted(level.achievement for level in row.levels)),
                    created_at=row.created_at,
                    disabled=row.disabled_at is not None,
                )
                for row in rows
            ]

    def create_token(self, assessor_id: int, label: str) -> tuple[TokenSummary, str]:
        """A new API token with a label; the secret is returned only here.

        Raises InvalidInput ``label_invalid`` and NotFound ``assessor_not_found``.
        """
        label = label.strip()
        if not label or len(label) > MAX_LABEL_LENGTH or not label.isprintable():
            raise InvalidInput(
                "label_invalid", f"Give the token a label of 1 to {MAX_LABEL_LENGTH} characters."
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db.write() as session:
            if session.get(Assessor, assessor_id) is None:
                raise NotFound("assessor_not_found", "There is no such assessor.")
            row = ApiToken(
                assessor_id=assessor_id,
                label=label,
                token_sha256=token_digest(token),
                created_at=self._clock(),
            )
            session.add(row)
            session.flush()
            return _token_summary(row), token

    def list_tokens(self, assessor_id: int) -> list[TokenSummary]:
        with self._db.read() as session:
            rows = session.scalars(
                select(ApiToken).where(ApiToken.assessor_id == assessor_id).order_by(ApiToken.id)
            ).all()
            return [_token_summary(row) for row in rows]

    def revoke_token(self, assessor_id: int, token_id: int) -> TokenSummary:
        """Revoke one of the assessor's tokens (again is harmless).

        Raises NotFound ``token_not_found`` also for another assessor's token.
        """
        with self._db.write() as session:
            row = session.get(ApiToken, token_id)
            if row is None or row.assessor_id != assessor_id:
                raise NotFound("token_not_found", "There is no such token.")
            if row.revoked_at is None:
                row.revoked_at = self._clock()
            return _token_summary(row)


def _verify(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_new_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            "password_weak",
            f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.",
        )


def _end_sessions(session: Session, assessor_id: int) -> None:
    session.execute(delete(WebSession).where(WebSession.assessor_id == assessor_id))


def _token_summary(row: ApiToken) -> TokenSummary:
    return TokenSummary(
        id=row.id, label=row.label, created_at=row.created_at, revoked_at=row.revoked_at
    )


# Every API request starts here: one prepared query of plain columns (the token, its
# assessor and the assessor's levels, one row per level) on the session's connection, no
# ORM objects.
_TOKEN_LOOKUP = (
    select(
        ApiToken.token_sha256,
        ApiToken.revoked_at,
        Assessor.id,
        Assessor.email,
        Assessor.name,
        Assessor.is_admin,
        Assessor.all_levels,
        Assessor.must_change_password,
        Assessor.disabled_at,
        AssessorLevel.achievement,
    )
    .join(Assessor, Assessor.id == ApiToken.assessor_id)
    .outerjoin(AssessorLevel, AssessorLevel.assessor_id == Assessor.id)
    .where(ApiToken.token_sha256 == bindparam("digest"))
)


def _principal(assessor: Assessor) -> Principal:
    return Principal(
        id=assessor.id,
        email=assessor.email,
        name=assessor.name,
        is_admin=assessor.is_admin,
        all_levels=assessor.all_levels,
        levels=frozenset(level.achievement for level in assessor.levels),
        must_change_password=assessor.must_change_password,
    )
