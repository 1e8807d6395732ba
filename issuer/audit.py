"""The audit log: who did what, when, and from which address.

Rows are only ever added. The migration installs triggers that make the database refuse an
UPDATE or DELETE of an audit row, so not even a bug here can rewrite history.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from issuer.storage import Database
from issuer.storage.models import AuditEvent

MAX_PAGE_SIZE = 200
EXPORT_BATCH = 1000
SYSTEM_ACTOR = "system"

# A cell that starts with one of these is read as a formula by spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Built once, its values bound when it runs (an event is recorded with every award).
_INSERT_EVENT = insert(AuditEvent)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    address: str
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    page: int
    pages: int
    total: int


def neutralise_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text: formula-like text gets a leading ``'``."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_line(cells: list[object]) -> str:
    """One CSV line (with its line end), every cell neutralised."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([neutralise_cell(cell) for cell in cells])
    return buffer.getvalue()


class AuditLog:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._db = db
        self._clock = clock

    def record(
        self,
        actor: str,
        action: str,
        subject: str,
        *,
        address: str | None,
        details: dict[str, Any] | None = None,
        session: Session | None = None,
    ) -> None:
        """Append one event; inside ``session`` when given, so that it commits with the
        change it describes, else in a transaction of its own."""
        event = self._event(actor, action, subject, address, details)
        if session is not None:
            session.connection().execute(_INSERT_EVENT, event)
            return
        with self._db.write() as own:
            own.connection().execute(_INSERT_EVENT, event)

    def record_many(
        self,
        session: Session,
        actor: str,
        action: str,
        events: Sequence[tuple[str, dict[str, Any]]],
        *,
        address: str | None,
    ) -> None:
        """Append one event per (subject, details) of ``events`` inside ``session``, in one
        statement (a bulk batch's awards)."""
        if events:
            at = self._clock()
            session.connection().execute(
                _INSERT_EVENT,
                [
                    self._event(actor, action, subject, address, details, at=at)
                    for subject, details in events
                ],
            )

    def _event(
        self,
        actor: str,
        action: str,
        subject: str,
        address: str | None,
        details: dict[str, Any] | None,
        *,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        return {
            "at": at or self._clock(),
            "actor": actor[:320],
            "action": action[:64],
            "subject": subject[:400],
            "address": (address or "")[:64],
            "details": json.dumps(details or {}, ensure_ascii=False, sort_keys=True),
        }

    def browse(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> AuditPage:
        """The newest events first, optionally only one actor's or one action's."""
        page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        query = select(AuditEvent)
        count = select(func.count()).select_from(AuditEvent)
        if actor:
            query = query.where(AuditEvent.actor == actor.strip().lower())
            count = count.where(AuditEvent.actor == actor.strip().lower())
        if action:
            query = query.where(AuditEvent.action == action.strip())
            count = count.where(AuditEvent.action == action.strip())
        with self._db.read() as session:
            total = session.scalar(count) or 0
            pages = max(1, -(-total // page_size))
            page = max(1, min(page, pages))
            rows = session.scalars(
                query.order_by(AuditEvent.id.desc()).offset((page - 1) * page_size).limit(page_size)
            ).all()
        return AuditPage([_entry(row) for row in rows], page, pages, total)

    def export_csv(self) -> Iterator[str]:
        """The whole log as CSV lines, oldest first, read in batches (it can be large)."""
        yield csv_line(["id", "at", "actor", "action", "subject", "address", "details"])
        last_id = 0
        while True:
            with self._db.read() as session:
                rows = session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.id > last_id)
                    .order_by(AuditEvent.id)
                    .limit(EXPORT_BATCH)
                ).all()
            if not rows:
                return
            for row in rows:
                yield csv_line(
                    [
                        row.id,
                        row.at.isoformat(),
                        row.actor,
                        row.action,
                        row.subject,
                        row.address,
                        row.details,
                    ]
                )
            last_id = rows[-1].id


def _entry(row: AuditEvent) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        address=row.address,
        details=json.loads(row.details),
    )
