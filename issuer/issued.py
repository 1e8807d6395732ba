"""What an assessor issued: search, status and pagination over the stored credentials."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from issuer.assessors import Principal
from issuer.errors import InvalidInput
from issuer.storage import Database
from issuer.storage.models import IssuedCredential, Revocation, WalletClaim

PAGE_SIZE = 25
STATUSES = ("", "active", "revoked")


@dataclass(frozen=True)
class AwardSearch:
    """The search form: every field optional; dates are whole UTC days, both included."""

    text: str = ""
    achievement: str = ""
    issued_from: date | None = None
    issued_until: date | None = None
    status: str = ""
    page: int = 1


@dataclass(frozen=True)
class IssuedSummary:
    id: str
    achievement: str
    recipient_name: str
    recipient_email: str
    issued_at: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    # Holder-bound copies taken into wallets (``issuer.wallet``); they share the award's
    # status, so revoking the award revokes them too.
    wallet_claims: int = 0
    last_claimed_at: datetime | None = None

    @property
    def status(self) -> str:
        return "revoked" if self.revoked_at is not None else "active"


@dataclass(frozen=True)
class IssuedPage:
    awards: list[IssuedSummary]
    page: int
    pages: int
    total: int


def parse_search(arguments: dict[str, str]) -> AwardSearch:
    """The search form's fields, read.

    Raises InvalidInput ``search_invalid`` naming the field that cannot be read.
    """
    status = arguments.get("status", "").strip()
    if status not in STATUSES:
        raise InvalidInput("search_invalid", "Status is active, revoked or empty.")
    try:
        page = max(1, int(arguments.get("page", "1") or "1"))
    except ValueError:
        page = 1
    return AwardSearch(
        text=arguments.get("q", "").strip()[:320],
        achievement=arguments.get("achievement", "").strip()[:200],
        issued_from=_day(arguments.get("from", ""), "From"),
        issued_until=_day(arguments.get("until", ""), "Until"),
        status=status,
        page=page,
    )


def search(db: Database, principal: Principal, criteria: AwardSearch) -> IssuedPage:
    """The awards ``principal`` issued (admins: everyone's), newest first, one page."""
    query = _filtered(principal, criteria)
    with db.read() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(criteria.page, pages)
        rows = session.execute(
            query.order_by(IssuedCredential.issued_at.desc(), IssuedCredential.id)
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        ).all()
        claims = _wallet_claims(session, [row.IssuedCredential.id for row in rows])
    awards = [_summary(row) for row in rows]
    awards = [
        dataclasses.replace(
            award, wallet_claims=claims[award.id][0], last_claimed_at=claims[award.id][1]
        )
        if award.id in claims
        else award
        for award in awards
    ]
    return IssuedPage(awards, page, pages, total)


def _wallet_claims(session: Any, ids: list[str]) -> dict[str, tuple[int, datetime]]:
    """For each award among ``ids`` that has wallet copies: how many, and the latest."""
    if not ids:
        return {}
    rows = session.execute(
        select(WalletClaim.credential_id, func.count(), func.max(WalletClaim.claimed_at))
        .where(WalletClaim.credential_id.in_(ids))
        .group_by(WalletClaim.credential_id)
    ).all()
    return {credential_id: (count, latest) for credential_id, count, latest in rows}


def _filtered(principal: Principal, criteria: AwardSearch) -> Any:
    query = select(IssuedCredential, Revocation).outerjoin(
        Revocation, Revocation.credential_id == IssuedCredential.id
    )
    if not principal.is_admin:
        query = query.where(IssuedCredential.assessor_id == principal.id)
    if criteria.text:
        # LIKE wildcards typed by the user are matched literally.
        escaped = (
            criteria.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        )
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                func.lower(IssuedCredential.recipient_name).like(pattern, escape="\\"),
                IssuedCredential.recipient_email.like(pattern, escape="\\"),
            )
        )
    if criteria.achievement:
        query = query.where(IssuedCredential.achievement == criteria.achievement)
    if criteria.issued_from:
        query = query.where(IssuedCredential.issued_at >= _midnight(criteria.issued_from))
    if criteria.issued_until:
        until = _midnight(criteria.issued_until) + timedelta(days=1)
        query = query.where(IssuedCredential.issued_at < until)
    if criteria.status == "active":
        query = query.where(Revocation.credential_id.is_(None))
    elif criteria.status == "revoked":
        query = query.where(Revocation.credential_id.is_not(None))
    return query


def _day(text: str, label: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            "search_invalid", f"{label} must be a date such as 2025-01-31."
        ) from None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _summary(row: Any) -> IssuedSummary:
    credential, revocation = row.IssuedCredential, row.Revocation
    return IssuedSummary(
        id=credential.id,
        achievement=credential.achievement,
        recipient_name=credential.recipient_name,
        recipient_email=credential.recipient_email,
        issued_at=credential.issued_at,
        valid_until=credential.valid_until,
        revoked_at=revocation.revoked_at if revocation is not None else None,
        revocation_reason=revocation.reason if revocation is not None else None,
    )


def recipient_email(db: Database, credential_id: str) -> str | None:
    """The address a credential was issued to (kept so that it can be mailed again)."""
    with db.read() as session:
        return session.scalar(
            select(IssuedCredential.recipient_email).where(IssuedCredential.id == credential_id)
        )
