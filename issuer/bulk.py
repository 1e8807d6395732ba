"""Bulk awards from a CSV file: read it, check every row in plain words, then issue the good
rows as a background job that any worker may run and that survives a restart.

A job lives in the database. A worker claims it with an update guarded by its status and
lease; while it works it renews the lease after every small batch, and a job whose lease ran
out (its process stopped) is claimed by the next worker that looks: every serving process
looks when it starts and then every ``JOB_POLL_SECONDS`` (``JobRunner``), without a request.
Each row is awarded with an idempotency key made of the job id and the row number, so
running a row twice still issues one credential.
"""

from __future__ import annotations

import atexit
import codecs
import csv
import io
import json
import logging
import os
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, String, Table, Text, bindparam, column, func, select, update, values
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.assessors import AssessorService, Principal
from issuer.audit import AuditLog, csv_line
from issuer.award_pipeline import AwardPipeline, SignedForBatch
from issuer.awarding import normalize_email, select_statements
from issuer.digits import whole_number
from issuer.errors import InvalidInput, IssuerError, NotFound, PayloadTooLarge
from issuer.frameworks import Template, TemplateCatalog
from issuer.issuance import award_request_digest, parse_award_request
from issuer.revocation import StatusEntryTaken
from issuer.signing_pool import (
    InProcessSigner,
    Signer,
    SignFailure,
    SigningPool,
    SignItem,
    SignOutcome,
)
from issuer.storage import Database, is_uuid
from issuer.storage.models import (
    BulkJob,
    BulkJobRow,
    IssuedCredential,
    Revocation,
)

log = logging.getLogger("issuer.bulk")

COLUMNS = (
    "name",
    "email",
    "level",
    "statements",
    "evidence_narrative",
    "evidence_url",
    "valid_until",
)
REQUIRED_COLUMNS = ("name", "email", "level")
BATCH_SIZE = 100
# Batches prepared ahead of the one being stored, so that the signers never wait.
BATCHES_IN_FLIGHT = 3
# Passes over the job's rows: a row is left pending only when another process stored its
# status entry first, so a second pass almost always finishes the job.
MAX_PASSES = 5
POOL_MIN_ROWS = 200
LEASE = timedelta(seconds=60)
# A serving process looks for jobs to claim this often (and when a job is started on it).
JOB_POLL_SECONDS = 15.0
# How long stopping the runner waits for the batch it is storing.
STOP_SECONDS = 30.0
QUERY_CHUNK = 400

# Row states. A draft job's rows are ``pending`` or ``invalid``; issuing turns each pending
# row into ``issued``, ``duplicate`` or ``failed``.
PENDING, INVALID, ISSUED, DUPLICATE, FAILED = "pending", "invalid", "issued", "duplicate", "failed"
# Job states.
DRAFT, QUEUED, RUNNING, DONE = "draft", "queued", "running", "done"

_ROWS = cast(Table, BulkJobRow.__table__)
# A pending row's outcome, run once per row of a batch (SQLite: ``BulkService._set_rows``).
_SET_ROW = (
    update(_ROWS)
    .where(
        _ROWS.c.job_id == bindparam("job"),
        _ROWS.c.row_number == bindparam("row"),
        _ROWS.c.status == PENDING,
    )
    .values(
        status=bindparam("status"),
        credential_id=bindparam("credential"),
        error=bindparam("error"),
    )
)

EXAMPLE_CSV = (
    "name,email,level,statements,evidence_narrative,evidence_url,valid_until\r\n"
    "Grace Hopper,grace@example.org,computer-user-support-specialists/proficient,,"
    "Resolved a network outage for 40 users.,https://example.org/evidence/1,\r\n"
    "Alan Turing,alan@example.org,Emerging,1;2;3;4;5;6;7;8;9;10,,,2030-12-31\r\n"
)


@dataclass(frozen=True)
class RowCheck:
    """One data row of the file, as checked: ``number`` is its line in the spreadsheet
    (the header is line 1)."""

    number: int
    name: str
    email: str
    level: str
    achievement: str | None
    request: dict[str, Any] | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class DryRun:
    rows: tuple[RowCheck, ...]

    @property
    def good(self) -> list[RowCheck]:
        return [row for row in self.rows if row.ok]

    @property
    def bad(self) -> list[RowCheck]:
        return [row for row in self.rows if not row.ok]


@dataclass(frozen=True)
class JobProgress:
    id: str
    status: str
    filename: str
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    created_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def processed(self) -> int:
        return sum(self.counts.get(state, 0) for state in (ISSUED, DUPLICATE, FAILED))

    @property
    def to_issue(self) -> int:
        return self.total - self.counts.get(INVALID, 0)

    @property
    def percent(self) -> int:
        return 100 if not self.to_issue else round(100 * self.processed / self.to_issue)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "total": self.total,
            "toIssue": self.to_issue,
            "processed": self.processed,
            "issued": self.counts.get(ISSUED, 0),
            "duplicate": self.counts.get(DUPLICATE, 0),
            "failed": self.counts.get(FAILED, 0),
            "invalid": self.counts.get(INVALID, 0),
            "percent": self.percent,
            "done": self.status == DONE,
        }


@dataclass(frozen=True)
class JobRow:
    number: int
    status: str
    recipient_email: str
    achievement: str
    credential_id: str | None
    error: str | None


def read_csv(data: bytes, *, max_rows: int, max_bytes: int) -> list[dict[str, str]]:
    """The data rows of a CSV file, keyed by normalised column names.

    Raises PayloadTooLarge ``csv_too_large``, InvalidInput ``csv_not_utf8``, ``csv_empty``,
    ``csv_columns_missing``, ``csv_columns_unknown``, ``csv_malformed`` and
    ``csv_too_many_rows``.
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            "csv_too_large",
            f"The file is larger than {max_bytes // 1024} KiB. Split it into smaller files.",
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            "csv_not_utf8",
            "The file is not UTF-8 text. In your spreadsheet program, save it as "
            "“CSV UTF-8” and upload it again.",
        ) from None
    if not text.strip():
        raise InvalidInput("csv_empty", "The file is empty.")
    first_line = text.splitlines()[0]
    delimiter = "," if "," in first_line else ";" if ";" in first_line else "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [_column_name(cell) for cell in next(reader)]
        missing = [column for column in REQUIRED_COLUMNS if column not in header]
        if missing:
            raise InvalidInput(
                "csv_columns_missing",
                f"The first line must name the columns; missing: {', '.join(missing)}. "
                f"The columns are: {', '.join(COLUMNS)}.",
            )
        unknown = [column for column in header if column and column not in COLUMNS]
        if unknown:
            raise InvalidInput(
                "csv_columns_unknown",
                f"Unknown column: {', '.join(unknown)}. The columns are: {', '.join(COLUMNS)}.",
            )
        rows: list[dict[str, str]] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= max_rows:
                raise InvalidInput(
                    "csv_too_many_rows",
                    f"The file has more than {max_rows} rows. Split it into smaller files.",
                )
            rows.append(
                {
                    column: (cells[i].strip() if i < len(cells) else "")
                    for i, column in enumerate(header)
                    if column
                }
                | {"_line": str(reader.line_num)}
            )
    except csv.Error as error:
        raise InvalidInput(
            "csv_malformed", f"Line {reader.line_num} cannot be read as CSV: {error}."
        ) from None
    if not rows:
        raise InvalidInput("csv_empty", "The file has a header line but no rows.")
    return rows


def _column_name(cell: str) -> str:
    return re.sub(r"[\s-]+", "_", cell.strip().lower())


class LevelIndex:
    """Finds a level from what people write: ``framework/level``, the level's slug or its
    label (when only one framework has it)."""

    def __init__(self, catalog: TemplateCatalog):
        self._templates: dict[str, Template] = {}
        names: dict[str, set[str]] = {}
        for framework in catalog.frameworks():
            for template in catalog.levels(framework.slug):
                achievement = f"{framework.slug}/{template.level_slug}"
                self._templates[achievement] = template
                for name in (template.level_slug, template.level_label.lower()):
                    names.setdefault(name, set()).add(achievement)
        self._names = names

    def find(self, text: str) -> tuple[str, Template]:
        """The achievement and template. Raises InvalidInput ``level_unknown``."""
        key = text.strip().lower()
        if key in self._templates:
            return key, self._templates[key]
        found = self._names.get(key, set())
        if len(found) == 1:
            achievement = next(iter(found))
            return achievement, self._templates[achievement]
        if len(found) > 1:
            raise InvalidInput(
                "level_unknown",
                f"The level “{text}” exists in more than one framework; write it as "
                f"framework/level, e.g. {sorted(found)[0]}.",
            )
        raise InvalidInput("level_unknown", f"There is no level “{text}”.")


def check_rows(
    rows: Sequence[dict[str, str]],
    levels: LevelIndex,
    principal: Principal,
    existing: set[tuple[str, str]],
    *,
    now: datetime,
) -> DryRun:
    """Check every row; nothing is issued. ``existing`` holds (e-mail, achievement) pairs
    that already have a credential that is not revoked."""
    seen: dict[tuple[str, str], int] = {}
    checked = []
    for row in rows:
        result = _check_row(row, levels, principal, now)
        problems = list(result.problems)
        if result.achievement is not None and result.email:
            key = (result.email.lower(), result.achievement)
            if key in seen:
                problems.append(f"Same earner and level as line {seen[key]}.")
            else:
                seen[key] = result.number
                if key in existing:
                    problems.append(f"{result.email} already holds this badge.")
        checked.append(
            RowCheck(
                number=result.number,
                name=result.name,
                email=result.email,
                level=result.level,
                achievement=result.achievement,
                request=result.request if not problems else None,
                problems=tuple(problems),
            )
        )
    return DryRun(tuple(checked))


def _check_row(
    row: dict[str, str], levels: LevelIndex, principal: Principal, now: datetime
) -> RowCheck:
    problems: list[str] = []
    name, email, level = row.get("name", ""), row.get("email", ""), row.get("level", "")
    if not name:
        problems.append("The name is empty.")
    if not email:
        problems.append("The e-mail address is empty.")
    achievement: str | None = None
    template: Template | None = None
    if not level:
        problems.append("The level is empty.")
    else:
        try:
            achievement, template = levels.find(level)
        except InvalidInput as error:
            problems.append(error.message)
        if achievement is not None and not principal.may_award(achievement):
            problems.append(f"You may not award {template.level_label if template else level}.")
    request: dict[str, Any] = {
        "achievement": achievement or "",
        "recipient": {"email": email, "name": name},
    }
    if template is not None:
        statements = _statements(row.get("statements", ""), template, problems)
        if statements is not None:
            request["statements"] = statements
    evidence = {
        key: value
        for key, value in (
            ("narrative", row.get("evidence_narrative", "")),
            ("url", row.get("evidence_url", "")),
        )
        if value
    }
    if evidence.get("url") and not re.match(r"https://[^\s/]+", evidence["url"]):
        problems.append("The evidence link must be a web address starting with https://.")
    if evidence:
        request["evidence"] = [evidence]
    valid_until = row.get("valid_until", "")
    if valid_until:
        moment = _valid_until(valid_until, problems)
        if moment is not None:
            if moment <= now:
                problems.append("The expiry date is in the past.")
            request["validUntil"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if not problems:
        try:
            parse_award_request(request)
        except InvalidInput as error:
            problems.append(_plain(error))
    return RowCheck(
        number=int(row.get("_line", "0")),
        name=name,
        email=email,
        level=level,
        achievement=achievement,
        request=request,
        problems=tuple(problems),
    )


def _statements(text: str, template: Template, problems: list[str]) -> list[int] | None:
    """The 0-based indexes for 1-based numbers separated by spaces, commas or semicolons;
    None (all of them) when empty."""
    count = len(template["achievement"]["resultDescription"])
    tokens = [token for token in re.split(r"[\s;,]+", text) if token]
    if not tokens:
        return None
    numbers = []
    for token in tokens:
        number = whole_number(token, max_digits=6)
        if number is None:
            problems.append(f"Statement “{token}” is not a number.")
            return None
        if not 1 <= number <= count:
            problems.append(
                f"Statement {number} does not exist: this level has statements 1 to {count}."
            )
            return None
        numbers.append(number - 1)
    if len(set(numbers)) != len(numbers):
        problems.append("A statement number is listed twice.")
        return None
    try:
        select_statements(template, numbers)
    except InvalidInput as error:
        problems.append(error.message)
        return None
    return sorted(numbers)


def _valid_until(text: str, problems: list[str]) -> datetime | None:
    try:
        if "T" in text or " " in text.strip():
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        day = date.fromisoformat(text)
    except ValueError:
        problems.append(f"The expiry date “{text}” is not a date such as 2030-12-31.")
        return None
    # A bare date means the credential is good through the end of that day (UTC).
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


def _plain(error: InvalidInput) -> str:
    if error.code == "email_invalid":
        return "The e-mail address is not valid."
    if error.code == "evidence_url_invalid":
        return "The evidence link must be a web address starting with https://."
    if error.code == "request_invalid":
        return f"A value is too long or holds characters that are not allowed ({error.message})."
    return error.message


class BulkService:
    def __init__(
        self,
        db: Database,
        catalog: TemplateCatalog,
        award: AwardPipeline,
        assessors: AssessorService,
        audit: AuditLog,
        *,
        max_rows: int,
        max_bytes: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        signing_processes: int | None = None,
    ):
        self._db = db
        self._levels = LevelIndex(catalog)
        self._award = award
        self._assessors = assessors
        self._audit = audit
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._clock = clock
        self.signing_processes = signing_processes or _cores()
        # A job with fewer rows to issue signs in its own thread: starting the signing
        # processes (each imports the service and loads the keys) costs about a second.
        self.pool_min_rows = POOL_MIN_ROWS

    def dry_run(self, principal: Principal, data: bytes) -> DryRun:
        """Read and check a file; nothing is stored or issued.

        Raises InvalidInput / PayloadTooLarge for a file that cannot be read at all.
        """
        rows = read_csv(data, max_rows=self.max_rows, max_bytes=self.max_bytes)
        pairs = set()
        for row in rows:
            try:
                achievement, _ = self._levels.find(row.get("level", ""))
            except InvalidInput:
                continue
            pairs.add((normalize_email(row.get("email", "")), achievement))
        return check_rows(rows, self._levels, principal, self._existing(pairs), now=self._clock())

    def create_job(
        self, principal: Principal, filename: str, data: bytes, *, address: str
    ) -> tuple[str, DryRun]:
        """Check a file and keep the result as a draft job, to be started with ``start``.

        Raises InvalidInput / PayloadTooLarge for a file that cannot be read at all.
        """
        checked = self.dry_run(principal, data)
        job_id = str(uuid.uuid4())
        with self._db.write() as session:
            session.add(
                BulkJob(
                    id=job_id,
                    assessor_id=principal.id,
                    filename=(filename or "upload.csv")[:200],
                    address=address[:64],
                    status=DRAFT,
                    total_rows=len(checked.rows),
                    created_at=self._clock(),
                )
            )
            session.flush()
            session.add_all(
                BulkJobRow(
                    job_id=job_id,
                    row_number=row.number,
                    status=PENDING if row.ok else INVALID,
                    recipient_email=row.email[:320],
                    achievement=(row.achievement or row.level)[:200],
                    request_json=json.dumps(row.request) if row.ok else None,
                    error=" ".join(row.problems) or None,
                )
                for row in checked.rows
            )
        return job_id, checked

    def start(self, principal: Principal, job_id: str) -> None:
        """Queue a draft job for issuing (starting it again is harmless).

        Raises NotFound ``job_not_found`` for a job that is not the assessor's.
        """
        self._job(principal, job_id)
        with self._db.write() as session:
            session.execute(
                update(BulkJob)
                .where(BulkJob.id == job_id, BulkJob.status == DRAFT)
                .values(status=QUEUED)
            )
            self._audit.record(
                principal.email,
                "bulk.started",
                job_id,
                address=None,
                session=session,
            )

    def progress(self, principal: Principal, job_id: str) -> JobProgress:
        """How far the job is. Raises NotFound ``job_not_found``."""
        job = self._job(principal, job_id)
        with self._db.read() as session:
            counts = dict(
                session.execute(
                    select(BulkJobRow.status, func.count())
                    .where(BulkJobRow.job_id == job_id)
                    .group_by(BulkJobRow.status)
                ).all()
            )
        return JobProgress(
            id=job.id,
            status=job.status,
            filename=job.filename,
            total=job.total_rows,
            counts={str(k): int(v) for k, v in counts.items()},
            created_at=job.created_at,
            finished_at=job.finished_at,
        )

    def job_rows(self, principal: Principal, job_id: str, *, problems_only: bool) -> list[JobRow]:
        """The job's rows in file order. Raises NotFound ``job_not_found``."""
        self._job(principal, job_id)
        query = select(BulkJobRow).where(BulkJobRow.job_id == job_id)
        if problems_only:
            query = query.where(BulkJobRow.status.in_((INVALID, DUPLICATE, FAILED)))
        with self._db.read() as session:
            rows = session.scalars(query.order_by(BulkJobRow.row_number)).all()
        return [_job_row(row) for row in rows]

    def result_csv(self, principal: Principal, job_id: str, base_url: str) -> Iterator[str]:
        """The result file: every row with its outcome, credential id and page, or the
        error; cells neutralised against spreadsheet formulas. Raises NotFound."""
        rows = self.job_rows(principal, job_id, problems_only=False)
        yield csv_line(["row", "email", "level", "outcome", "credential_id", "page", "error"])
        for row in rows:
            page = f"{base_url}/credentials/{row.credential_id}" if row.credential_id else ""
            yield csv_line(
                [
                    row.number,
                    row.recipient_email,
                    row.achievement,
                    row.status,
                    row.credential_id or "",
                    page,
                    row.error or "",
                ]
            )

    def recent_jobs(self, principal: Principal, limit: int = 10) -> list[JobProgress]:
        with self._db.read() as session:
            jobs = session.scalars(
                select(BulkJob)
                .where(BulkJob.assessor_id == principal.id)
                .order_by(BulkJob.created_at.desc())
                .limit(limit)
            ).all()
        return [
            JobProgress(j.id, j.status, j.filename, j.total_rows, {}, j.created_at, j.finished_at)
            for j in jobs
        ]

    def has_claimable(self) -> bool:
        now = self._clock()
        with self._db.read() as session:
            return (
                session.scalar(select(func.count()).select_from(BulkJob).where(_claimable(now)))
                or 0
            ) > 0

    def run_next(self, worker: str, *, stopping: Callable[[], bool] = lambda: False) -> bool:
        """Claim one job that is queued or whose lease ran out, and work it to the end,
        until the lease is lost, or until ``stopping()`` says so after a batch (the job's
        lease is then let go, for any worker to go on at once). Returns False when there
        was nothing to claim."""
        job_id = self._claim(worker)
        if job_id is None:
            return False
        self._run(job_id, worker, stopping)
        return True

    def run_all(self, worker: str, *, stopping: Callable[[], bool] = lambda: False) -> int:
        """Run jobs until none is left to claim, or ``stopping()``; returns how many were run."""
        count = 0
        while not stopping() and self.run_next(worker, stopping=stopping):
            count += 1
        return count

    def _claim(self, worker: str) -> str | None:
        now = self._clock()
        with self._db.read() as session:
            candidates = session.scalars(
                select(BulkJob.id).where(_claimable(now)).order_by(BulkJob.created_at).limit(5)
            ).all()
        for job_id in candidates:
            with self._db.write() as session:
                # The guard repeats the claimable condition: of two workers racing for the
                # job, the second one's update matches no row.
                claimed = session.execute(
                    update(BulkJob)
                    .where(BulkJob.id == job_id, _claimable(now))
                    .values(
                        status=RUNNING,
                        lease_owner=worker,
                        lease_until=now + LEASE,
                        started_at=func.coalesce(BulkJob.started_at, now),
                    )
                )
            if _rowcount(claimed):
                log.info("Bulk job %s claimed by %s", job_id, worker)
                return job_id
        return None

    def _run(self, job_id: str, worker: str, stopping: Callable[[], bool]) -> None:
        """Issue the job's pending rows, a batch at a time: the job's thread prepares a
        batch (reads the request, reserves its status entries) and hands it to the signer,
        prepares the next one while that is signed, then stores the first batch in one
        transaction. A row left pending (its status entry taken meanwhile by another
        process) is done again in a later pass."""
        with self._db.read() as session:
            job = session.get(BulkJob, job_id)
            pending = session.scalar(
                select(func.count())
                .select_from(BulkJobRow)
                .where(BulkJobRow.job_id == job_id, BulkJobRow.status == PENDING)
            )
        if job is None:
            return
        try:
            principal: Principal | None = self._assessors.by_id(job.assessor_id)
        except NotFound:
            principal = None
        signer: Signer
        if (pending or 0) >= self.pool_min_rows and self.signing_processes > 1:
            signer = SigningPool(self._award.worker_settings, self.signing_processes)
            log.info("Bulk job %s: %d signing processes", job_id, self.signing_processes)
        else:
            signer = InProcessSigner(self._award)
        in_flight: deque[_Batch] = deque()
        try:
            for _ in range(MAX_PASSES):
                after = 0
                while True:
                    while len(in_flight) < BATCHES_IN_FLIGHT:
                        rows = self._pending_rows(job_id, after)
                        if not rows:
                            break
                        after = rows[-1].row_number
                        in_flight.append(self._dispatch(job, principal, rows, signer))
                    if not in_flight:
                        break
                    self._store_batch(job, principal, in_flight.popleft())
                    if not self._renew(job_id, worker):
                        log.warning(
                            "Bulk job %s: lease lost by %s; another worker goes on", job_id, worker
                        )
                        return
                    if stopping():
                        self._let_go(job_id, worker)
                        return
                if not self._pending_rows(job_id, 0):
                    break
            self._finish(job_id, worker)
        finally:
            for batch in in_flight:
                self._release(batch)
            signer.close()

    def _pending_rows(self, job_id: str, after: int) -> list[BulkJobRow]:
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(BulkJobRow)
                    .where(
                        BulkJobRow.job_id == job_id,
                        BulkJobRow.status == PENDING,
                        BulkJobRow.row_number > after,
                    )
                    .order_by(BulkJobRow.row_number)
                    .limit(BATCH_SIZE)
                ).all()
            )

    def _dispatch(
        self, job: BulkJob, principal: Principal | None, rows: list[BulkJobRow], signer: Signer
    ) -> _Batch:
        """Prepare ``rows`` and send them to the signer. A row that is a replay (its key
        was used already), or that cannot be prepared, gets its outcome now."""
        batch = _Batch(rows)
        if principal is None:
            for row in rows:
                batch.outcomes[row.row_number] = (
                    FAILED,
                    None,
                    "The assessor's account is disabled.",
                )
            return batch
        issuance = self._award.issuance
        keys = {row.row_number: _row_key(job.id, row.row_number) for row in rows}
        replays = issuance.replays(principal.id, list(keys.values()))
        unsigned: list[tuple[BulkJobRow, dict[str, Any], str]] = []
        for row in rows:
            request = json.loads(row.request_json or "{}")
            key = keys[row.row_number]
            replay = replays.get(key)
            if replay is not None:
                digest, issued = replay
                if digest != award_request_digest(request):
                    batch.outcomes[row.row_number] = (
                        FAILED,
                        None,
                        "This Idempotency-Key was used before with a different request.",
                    )
                else:
                    batch.outcomes[row.row_number] = (ISSUED, issued.id, None)
                continue
            unsigned.append((row, request, key))
        try:
            reservations = issuance.reserve_many(len(unsigned))
        except IssuerError as failure:
            for row, _request, _key in unsigned:
                batch.outcomes[row.row_number] = (FAILED, None, failure.message)
            return batch
        items = [
            SignItem(principal, request, key, reservation)
            for (_row, request, key), reservation in zip(unsigned, reservations, strict=True)
        ]
        rows_signed = [row for row, _request, _key in unsigned]
        share = max(1, -(-len(items) // signer.processes))
        batch.items = items
        batch.chunks = [
            (rows_signed[start : start + share], signer.submit(items[start : start + share]))
            for start in range(0, len(items), share)
        ]
        return batch

    def _store_batch(self, job: BulkJob, principal: Principal | None, batch: _Batch) -> None:
        """Store a signed batch: its credentials, status entries, idempotency keys, audit
        records, e-mails and row outcomes in one transaction, which also makes sure each
        earner holds no active badge of that level (another job may be awarding the same
        file at the same time: a lock per earner and level)."""
        signed: list[SignedForBatch] = []
        try:
            for rows, future in batch.chunks:
                for row, outcome in zip(rows, future.result(), strict=True):
                    if isinstance(outcome, SignFailure):
                        batch.outcomes[row.row_number] = (FAILED, None, outcome.message)
                    else:
                        batch.rows_by_award[outcome.signed.prepared.id] = row
                        signed.append(outcome)
        except Exception:
            # The signing process died or could not start: the rows stay pending, and the
            # job goes on after its lease.
            log.exception("Bulk job %s: a batch could not be signed", job.id)
            self._release(batch)
            raise
        try:
            with self._db.write() as session:
                fresh = self._drop_duplicates(session, batch, signed)
                stored = self._store_awards(session, batch, fresh)
                rows = [batch.rows_by_award[item.signed.prepared.id] for item in stored]
                self._award.record_batch(
                    session,
                    [
                        (item, {"via": "bulk", "bulkJob": job.id, "row": row.row_number})
                        for item, row in zip(stored, rows, strict=True)
                    ],
                    actor=principal.email if principal else "",
                    address=job.address,
                )
                for item, row in zip(stored, rows, strict=True):
                    batch.outcomes[row.row_number] = (ISSUED, item.signed.prepared.id, None)
                self._set_rows(session, job.id, batch.outcomes)
        finally:
            self._release(batch)
        self._award.mail.wake()

    def _drop_duplicates(
        self, session: Session, batch: _Batch, signed: list[SignedForBatch]
    ) -> list[SignedForBatch]:
        """The signed awards whose earner holds no active badge of the level; the others'
        rows become duplicates."""
        pairs = sorted(
            {
                (
                    normalize_email(s.signed.prepared.award.recipient_email),
                    s.signed.prepared.award.achievement,
                )
                for s in signed
            }
        )
        self._db.lock(session, *(f"holder:{email}:{achievement}" for email, achievement in pairs))
        held: set[tuple[str, str]] = {
            (str(email), str(achievement))
            for email, achievement in session.execute(
                _active_awards().where(
                    IssuedCredential.recipient_email.in_({email for email, _ in pairs})
                )
            ).all()
        }
        fresh = []
        for item in signed:
            award = item.signed.prepared.award
            pair = (normalize_email(award.recipient_email), award.achievement)
            if pair in held:
                row = batch.rows_by_award[item.signed.prepared.id]
                batch.outcomes[row.row_number] = (
                    DUPLICATE,
                    None,
                    f"{row.recipient_email} already holds this badge.",
                )
                continue
            held.add(pair)
            fresh.append(item)
        return fresh

    def _store_awards(
        self, session: Session, batch: _Batch, fresh: list[SignedForBatch]
    ) -> list[SignedForBatch]:
        """Store ``fresh`` with one statement per table; when any of its status entries or
        idempotency keys was stored meanwhile by another process, or a list of its entries
        was closed (a restore sealed it), one by one instead, each in a savepoint: that row
        stays pending and is done again (its key then replays, or it draws a new entry)."""
        issuance = self._award.issuance
        try:
            issuance.store_many(session, [item.signed for item in fresh])
            return fresh
        except (IntegrityError, StatusEntryTaken):
            pass
        stored = []
        for item in fresh:
            try:
                with session.begin_nested():
                    issuance.store(session, item.signed)
                    session.flush()
            except (StatusEntryTaken, IntegrityError):
                row = batch.rows_by_award[item.signed.prepared.id]
                batch.outcomes.pop(row.row_number, None)
                continue
            stored.append(item)
        return stored

    def _release(self, batch: _Batch) -> None:
        for item in batch.items:
            self._award.issuance.release(item.reservation)
        batch.items = []

    def _set_rows(
        self,
        session: Session,
        job_id: str,
        outcomes: dict[int, tuple[str, str | None, str | None]],
    ) -> None:
        if not outcomes:
            return
        if self._db.is_sqlite:
            # In process, a run per row costs little (and SQLite's VALUES names no columns).
            session.connection().execute(
                _SET_ROW,
                [
                    {
                        "job": job_id,
                        "row": number,
                        "status": status,
                        "credential": credential,
                        "error": error,
                    }
                    for number, (status, credential, error) in outcomes.items()
                ],
            )
            return
        # On PostgreSQL one statement for the batch, not a round of the server's work per row.
        table = values(
            column("row", Integer),
            column("status", String),
            column("credential", String),
            column("error", Text),
            name="outcomes",
        ).data([(number, *outcome) for number, outcome in outcomes.items()])
        session.connection().execute(
            update(_ROWS)
            .where(
                _ROWS.c.job_id == job_id,
                _ROWS.c.row_number == table.c.row,
                _ROWS.c.status == PENDING,
            )
            .values(status=table.c.status, credential_id=table.c.credential, error=table.c.error)
        )

    def _renew(self, job_id: str, worker: str) -> bool:
        with self._db.write() as session:
            return bool(
                _rowcount(
                    session.execute(
                        update(BulkJob)
                        .where(
                            BulkJob.id == job_id,
                            BulkJob.lease_owner == worker,
                            BulkJob.status == RUNNING,
                        )
                        .values(lease_until=self._clock() + LEASE)
                    )
                )
            )

    def _let_go(self, job_id: str, worker: str) -> None:
        """End this worker's lease now: the process stops, and any worker may go on."""
        with self._db.write() as session:
            session.execute(
                update(BulkJob)
                .where(BulkJob.id == job_id, BulkJob.lease_owner == worker)
                .values(lease_until=self._clock())
            )
        log.info("Bulk job %s let go by %s, which stops", job_id, worker)

    def _finish(self, job_id: str, worker: str) -> None:
        with self._db.write() as session:
            session.execute(
                update(BulkJob)
                .where(BulkJob.id == job_id, BulkJob.lease_owner == worker)
                .values(status=DONE, finished_at=self._clock(), lease_until=None)
            )
        log.info("Bulk job %s done", job_id)

    def _job(self, principal: Principal, job_id: str) -> BulkJob:
        with self._db.read() as session:
            job = session.get(BulkJob, job_id) if is_uuid(job_id) else None
        if job is None or (job.assessor_id != principal.id and not principal.is_admin):
            raise NotFound("job_not_found", "There is no such bulk award.")
        return job

    def _existing(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (e-mail, achievement) pairs already have a credential that is not revoked."""
        pairs = list(pairs)
        emails = sorted({email for email, _ in pairs})
        found: set[tuple[str, str]] = set()
        with self._db.read() as session:
            for start in range(0, len(emails), QUERY_CHUNK):
                chunk = emails[start : start + QUERY_CHUNK]
                found.update(
                    (email, achievement)
                    for email, achievement in session.execute(
                        _active_awards().where(IssuedCredential.recipient_email.in_(chunk))
                    ).all()
                )
        return found & set(pairs)

    @staticmethod
    def _active_holders(session: Session, email: str, achievement: str) -> list[str]:
        return list(
            session.scalars(
                select(IssuedCredential.id)
                .outerjoin(Revocation, Revocation.credential_id == IssuedCredential.id)
                .where(
                    IssuedCredential.recipient_email == normalize_email(email),
                    IssuedCredential.achievement == achievement,
                    Revocation.credential_id.is_(None),
                )
            ).all()
        )


class JobRunner:
    """Runs bulk jobs in one background thread of this process.

    A serving process calls ``start`` when it starts: the thread then runs for good,
    claiming every job that is queued or whose lease ran out (a process that stopped
    mid-job) and looking again every ``JOB_POLL_SECONDS``, or at once when ``kick``ed; at
    exit it stops after the batch it is storing and lets the job go. Without ``start``
    (tests, a command), ``kick`` runs the jobs in a thread that ends when none is left.
    """

    def __init__(self, bulk: BulkService):
        self._bulk = bulk
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._serving = False
        self._wakeup = threading.Event()
        self._stopped = threading.Event()
        self.worker = f"worker-{uuid.uuid4().hex[:12]}"

    def start(self) -> None:
        """Run the thread for good in this process (see the class)."""
        with self._lock:
            if self._serving:
                return
            self._serving = True
            self._stopped.clear()
            # Its own name in each process: an app built before a fork (gunicorn --preload)
            # would give every worker the same one, and leases could not tell them apart.
            self.worker = f"worker-{uuid.uuid4().hex[:12]}"
            atexit.register(self.stop)
            self._start_thread()
        log.info("Bulk jobs looked for by %s in process %d", self.worker, os.getpid())

    def kick(self) -> None:
        """Look for jobs now: start the thread unless it runs already."""
        with self._lock:
            self._wakeup.set()
            self._start_thread()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop the thread after the batch it is storing (waiting up to ``timeout`` s)."""
        with self._lock:
            self._serving = False
            self._stopped.set()
            self._wakeup.set()
        self.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _start_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="bulk-jobs", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        failing = False
        while True:
            self._wakeup.clear()
            try:
                self._bulk.run_all(self.worker, stopping=self._stopped.is_set)
                failing = False
            except Exception:
                # A broken job must not kill the process; its lease runs out and it is
                # retried. Said once while it lasts (a database not migrated yet).
                if not failing:
                    log.exception("Bulk job runner failed; it tries again")
                failing = True
            with self._lock:
                # Decided under the lock, so that a ``start`` or ``kick`` meanwhile either
                # sees this thread go on or starts another one.
                if (not self._serving and not self._wakeup.is_set()) or self._stopped.is_set():
                    self._thread = None
                    return
            self._wakeup.wait(JOB_POLL_SECONDS)


@dataclass
class _Batch:
    """Rows on their way: those already decided (``outcomes``: status, credential, error),
    and the prepared awards sent to the signer in chunks, with their reservations."""

    rows: list[BulkJobRow]
    outcomes: dict[int, tuple[str, str | None, str | None]] = field(default_factory=dict)
    rows_by_award: dict[str, BulkJobRow] = field(default_factory=dict)
    items: list[SignItem] = field(default_factory=list)
    chunks: list[tuple[list[BulkJobRow], Future[list[SignOutcome]]]] = field(default_factory=list)


def _row_key(job_id: str, row_number: int) -> str:
    """The idempotency key of a job's row: running the row twice issues one credential."""
    return f"bulk:{job_id}:{row_number}"


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _claimable(now: datetime) -> Any:
    return (BulkJob.status == QUEUED) | ((BulkJob.status == RUNNING) & (BulkJob.lease_until < now))


def _active_awards() -> Any:
    return (
        select(IssuedCredential.recipient_email, IssuedCredential.achievement)
        .outerjoin(Revocation, Revocation.credential_id == IssuedCredential.id)
        .where(Revocation.credential_id.is_(None))
    )


def _job_row(row: BulkJobRow) -> JobRow:
    return JobRow(
        number=row.row_number,
        status=row.status,
        recipient_email=row.recipient_email,
        achievement=row.achievement,
        credential_id=row.credential_id,
        error=row.error,
    )


def _rowcount(result: Any) -> int:
    """How many rows an UPDATE matched (a CursorResult's count, which mypy cannot see)."""
    return int(result.rowcount)
