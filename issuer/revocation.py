"""Revocation: status list entries for new credentials, revoking, and publishing the lists.

Every rule that must hold across workers and hosts is kept by the database:

- an entry (list, index) is allocated at most once: a unique constraint, and a collision
  with a concurrent award is retried with another index;
- at most one list is open (not ``full``) at a time, so that every credential shares its
  list with as many others as possible (herd privacy): a partial unique index
  (``uq_status_lists_open``), and a worker that loses the race to open a list (on a fresh
  database, when the open one is full, after a restore sealed every list) uses the
  winner's;
- bits are flipped and the list's ``version`` bumped only while holding the list row's
  lock (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite every write transaction is
  ``BEGIN IMMEDIATE`` and so already alone), so concurrent revocations never lose one
  another's bits and the version only increases;
- a credential is revoked at most once: the revocation row's primary key.

The signed list credential is a cache on the list row, tagged with the version it was
signed for; it is re-signed, under the row lock, when a reader finds it older than the
list or close to its ``validUntil``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection, Select, bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from issuer import status_list
from issuer.assessors import Principal
from issuer.awarding import format_datetime
from issuer.digits import whole_number
from issuer.errors import Conflict, Forbidden, InvalidInput, IssuerError, NotFound
from issuer.keyring import Keyring
from issuer.proofs import data_integrity, vc_jwt
from issuer.status_archive import StatusArchive
from issuer.storage import Database, insert_unless_taken, is_uuid
from issuer.storage.models import (
    Assessor,
    IssuedCredential,
    Revocation,
    StatusEntry,
    StatusList,
)

log = logging.getLogger("issuer.revocation")

# How long verifiers may cache a list (the list's ``ttl``, and the HTTP max-age).
TTL_MILLISECONDS = 300_000
# A signed list is valid for a day: long enough that a verifier's clock or a brief outage
# does not break verification, short enough that a copy from before a revocation cannot be
# replayed for long. It is re-signed once less than half of that remains.
LIST_VALIDITY = timedelta(hours=24)
RESIGN_WHEN_LESS_THAN = timedelta(hours=12)
# Random candidates tried before falling back to drawing among the free indexes computed
# from the database; more than a few collisions mean the list is well over half full.
RANDOM_CANDIDATES = 4
MAX_ALLOCATION_ROUNDS = 32
MAX_REASON_LENGTH = 2000
MAX_BULK_CREDENTIALS = 10_000
CLI_ACTOR = "cli"

_FILTER_KEYS = frozenset({"assessor", "issuedFrom", "issuedUntil", "achievement"})


class CredentialStatus(NamedTuple):
    """Whether a credential is revoked, read from the database (never a cache)."""

    revoked: bool
    revoked_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class RevokedCredential:
    id: str
    revoked_at: datetime
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "revoked": True,
            "revokedAt": format_datetime(self.revoked_at),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class BulkRevocation:
    revoked: tuple[str, ...]
    already_revoked: tuple[str, ...]
    revoked_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "revoked": len(self.revoked),
            "alreadyRevoked": len(self.already_revoked),
            "credentials": list(self.revoked),
            "revokedAt": format_datetime(self.revoked_at),
        }


@dataclass(frozen=True)
class PublishedStatusList:
    """A status list credential as signed, in both forms, and the list version it shows."""

    list_id: int
    version: int
    document: dict[str, Any]
    jwt: str
    signed_at: datetime
    valid_until: datetime

    @property
    def etag(self) -> str:
        """Changes with the bits (version) and with every re-signing of the same bits."""
        return f"{self.version}-{int(self.signed_at.timestamp())}"


@dataclass(frozen=True)
class StatusReservation:
    """A status list entry drawn for a credential not stored yet (``StatusAllocator.reserve``)."""

    list_id: int
    index: int
    credential_status: dict[str, Any]


class StatusEntryTaken(Exception):
    """Another process stored the reserved entry first, or its list was closed meanwhile
    (full, or sealed by a restore); draw another one."""


class StatusAllocator:
    """Draws a random unused entry of the open revocation list: inside the caller's write
    transaction (``allocate``), or ahead of it for a credential to be signed outside the
    write lock (``reserve``, then ``claim`` in the transaction that stores it)."""

    def __init__(
        self,
        base_url: str,
        list_size: int,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        random_below: Callable[[int], int] = secrets.randbelow,
    ):
        status_list.empty(list_size)
        self._base_url = base_url
        self._list_size = list_size
        self._clock = clock
        self._random_below = random_below
        self._reservations: set[tuple[int, int]] = set()
        self._reservations_lock = threading.Lock()

    @property
    def list_size(self) -> int:
        return self._list_size

    def list_url(self, list_id: int) -> str:
        return f"{self._base_url}/status/{list_id}"

    def allocate(self, session: Session, credential_id: str) -> dict[str, Any]:
        """Record an entry for ``credential_id`` and return its ``credentialStatus`` object.

        The index is drawn uniformly among the list's unused ones; a list with none left
        is marked full and a new one opened. Must run inside ``Database.write()``.

        Raises Conflict ``status_allocation_failed`` if no entry could be had after many
        rounds (only under extreme contention).
        """
        for _ in range(MAX_ALLOCATION_ROUNDS):
            open_list = self._open_list(session)
            if open_list is None:
                continue
            index = self._draw_index(session.connection(), open_list)
            if index is None:
                self._mark_full(session, open_list.id)
                continue
            try:
                # A savepoint, so that losing a race for this index to another worker
                # leaves the surrounding transaction usable (PostgreSQL aborts it otherwise).
                with session.begin_nested():
                    session.add(
                        StatusEntry(
                            credential_id=credential_id,
                            list_id=open_list.id,
                            status_index=index,
                        )
                    )
            except IntegrityError:
                continue
            return status_list.status_entry(self.list_url(open_list.id), index)
        raise Conflict(
            "status_allocation_failed", "No status list entry could be allocated; try again."
        )

    def reserve(self, db: Database) -> StatusReservation:
        """Draw an entry for a credential that is yet to be signed, outside any write lock.

        The index is drawn as ``allocate`` draws it, from a read of the database, and held
        in this process until ``release``: no two awards of this process get it. Another
        process may draw it too; the unique (list, index) constraint lets only one of them
        store it (``claim``), and the other draws again. A reserved index that is never
        stored is simply left free. Opening a list, or marking one full, takes a short
        write transaction of its own.

        Raises Conflict ``status_allocation_failed`` if no entry could be had after many
        rounds (only under extreme contention).
        """
        for _ in range(MAX_ALLOCATION_ROUNDS):
            list_id: int | None = None
            index: int | None = None
            with db.read_connection() as connection:
                open_list = self._find_open_list(connection)
                if open_list is not None:
                    list_id = open_list.id
                    index = self._draw_index(connection, open_list, self._reserved_in(list_id))
            if list_id is None:
                with db.write() as session:
                    self._open_list(session)
                continue
            if index is None:
                with db.write() as session:
                    self._mark_full(session, list_id)
                continue
            with self._reservations_lock:
                if (list_id, index) in self._reservations:
                    continue
                self._reservations.add((list_id, index))
            return StatusReservation(
                list_id, index, status_list.status_entry(self.list_url(list_id), index)
            )
        raise Conflict(
            "status_allocation_failed", "No status list entry could be allocated; try again."
        )

    def reserve_many(self, db: Database, count: int) -> list[StatusReservation]:
        """``count`` reservations as ``reserve`` draws them, for a batch: the open list's
        unused indexes drawn at random in one read of the database, as many as it has;
        the rest (a list that fills up, or none open) one by one with ``reserve``.

        Raises as ``reserve``, holding none of the batch.
        """
        drawn: list[tuple[int, int]] = []
        with db.read_connection() as connection:
            open_list = self._find_open_list(connection)
            if open_list is not None and count > 0:
                held = self._reserved_in(open_list.id)
                candidates = {
                    self._random_below(open_list.size) for _ in range(count + RANDOM_CANDIDATES)
                } - held
                used = set(
                    connection.execute(
                        _ENTRIES_AMONG, {"list_id": open_list.id, "indexes": sorted(candidates)}
                    ).scalars()
                )
                drawn = [(open_list.id, index) for index in candidates if index not in used]
        reservations: list[StatusReservation] = []
        with self._reservations_lock:
            for list_id, index in drawn[:count]:
                if (list_id, index) not in self._reservations:
                    self._reservations.add((list_id, index))
                    entry = status_list.status_entry(self.list_url(list_id), index)
                    reservations.append(StatusReservation(list_id, index, entry))
        try:
            while len(reservations) < count:
                reservations.append(self.reserve(db))
        except BaseException:
            for reservation in reservations:
                self.release(reservation)
            raise
        return reservations

    def claim(self, session: Session, reservation: StatusReservation, credential_id: str) -> None:
        """Store the reserved entry for ``credential_id`` in the caller's write transaction.

        Raises StatusEntryTaken when another process stored that entry first, or when its
        list is no longer open: a restore meanwhile sealed it, as its indexes handed out
        after the backup are unknown (the transaction stays usable; the caller draws again
        and re-signs).
        """
        if closed_lists(session, [reservation.list_id]):
            raise StatusEntryTaken
        stored = insert_unless_taken(
            session,
            StatusEntry,
            {
                "credential_id": credential_id,
                "list_id": reservation.list_id,
                "status_index": reservation.index,
            },
            unique=("list_id", "status_index"),
        )
        if not stored:
            raise StatusEntryTaken

    def release(self, reservation: StatusReservation) -> None:
        """Forget a reservation of this process: its entry is stored, or will never be."""
        with self._reservations_lock:
            self._reservations.discard((reservation.list_id, reservation.index))

    def _reserved_in(self, list_id: int) -> frozenset[int]:
        with self._reservations_lock:
            return frozenset(index for held, index in self._reservations if held == list_id)

    def _find_open_list(self, connection: Connection) -> _OpenList | None:
        row = connection.execute(_OPEN_LIST).first()
        return None if row is None else _OpenList(row.id, row.size)

    def _open_list(self, session: Session) -> _OpenList | None:
        """The open list, opened now if there is none; None if another worker opened one
        at the same time and it is already full again (the caller draws again).

        The database keeps one list open (``uq_status_lists_open``), so of two workers
        opening one at once the second fails to store its list (on PostgreSQL once the
        first commits) and uses the first one's instead.
        """
        found = self._find_open_list(session.connection())
        if found is not None:
            return found
        created = StatusList(
            purpose=status_list.PURPOSE_REVOCATION,
            size=self._list_size,
            bits=status_list.empty(self._list_size),
            version=1,
            full=False,
            created_at=self._clock(),
        )
        try:
            # A savepoint, so that losing the race leaves the surrounding transaction usable.
            with session.begin_nested():
                session.add(created)
        except IntegrityError:
            return self._find_open_list(session.connection())
        log.info("Opened status list %d of %d entries", created.id, created.size)
        return _OpenList(created.id, created.size)

    def _draw_index(
        self, connection: Connection, target: _OpenList, held: frozenset[int] = frozenset()
    ) -> int | None:
        """A random index of ``target`` neither stored nor in ``held``, or None when it has
        none left.

        Random candidates first (cheap while the list is mostly free); after a few
        collisions, uniformly among the free indexes read from the database, so that a
        nearly full list never makes us loop.
        """
        for _ in range(RANDOM_CANDIDATES):
            candidate = self._random_below(target.size)
            if candidate not in held and not _entry_exists(connection, target.id, candidate):
                return candidate
        used = held | set(
            connection.execute(
                select(StatusEntry.status_index).where(StatusEntry.list_id == target.id)
            ).scalars()
        )
        if len(used) >= target.size:
            return None
        free = [index for index in range(target.size) if index not in used]
        return free[self._random_below(len(free))]

    def _mark_full(self, session: Session, list_id: int) -> None:
        locked = _lock_list(session, list_id)
        locked.full = True
        session.flush()
        log.info("Status list %d is full", list_id)


# What a caller stores with revocations, in their transaction (the audit records): called
# with the session, the ids revoked now, and the reason.
RevocationHook = Callable[[Session, Sequence[str], str], None]


class RevocationService:
    def __init__(
        self,
        db: Database,
        keyring: Callable[[], Keyring],
        allocator: StatusAllocator,
        *,
        issuer_id: str,
        jwt_algorithm: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        archive: StatusArchive | None = None,
    ):
        self._db = db
        self._keyring = keyring
        self._allocator = allocator
        self._issuer_id = issuer_id
        self._jwt_algorithm = jwt_algorithm
        self._clock = clock
        self._archive = archive

    @property
    def allocator(self) -> StatusAllocator:
        return self._allocator

    def revoke(
        self,
        credential_id: str,
        reason: object,
        *,
        by: Principal | None,
        store_with: RevocationHook | None = None,
    ) -> RevokedCredential:
        """Revoke one credential, permanently, and store what ``store_with`` adds in the same
        transaction. ``by`` None is the operator (the CLI).

        Raises InvalidInput ``reason_required`` / ``reason_invalid``, NotFound
        ``credential_not_found`` (also when ``by`` may not manage its level, so that
        existence does not leak) and Conflict ``already_revoked``.
        """
        checked_reason = _check_reason(reason)
        now = self._clock()
        with self._db.write() as session:
            targets = _targets_by_id(session, [credential_id], by)
            revoked, already = _revoke_targets(session, targets, checked_reason, _actor(by), now)
            if already:
                raise Conflict("already_revoked", "This credential was revoked before.")
            if store_with is not None:
                store_with(session, revoked, checked_reason)
        return RevokedCredential(id=revoked[0], revoked_at=now, reason=checked_reason)

    def revoke_many(
        self,
        request: dict[str, Any],
        *,
        by: Principal | None,
        store_with: RevocationHook | None = None,
    ) -> BulkRevocation:
        """Revoke many credentials atomically: all of them (with what ``store_with`` adds for
        those revoked now), or none if any is unknown.

        ``request`` is ``{"credentials": [ids]}`` or (operator and admins only)
        ``{"filter": {"assessor", "issuedFrom", "issuedUntil", "achievement"}}``, with a
        ``reason``. Credentials revoked before are counted, not revoked again.

        Raises InvalidInput ``reason_required`` / ``reason_invalid`` / ``request_invalid``,
        Forbidden ``admin_required`` for a filter from a non-admin, NotFound
        ``credential_not_found`` naming the ids that are unknown or not the caller's.
        """
        if not isinstance(request, dict) or set(request) - {"credentials", "filter", "reason"}:
            raise InvalidInput(
                "request_invalid", "Send credentials or filter, and reason; nothing else."
            )
        checked_reason = _check_reason(request.get("reason"))
        if ("credentials" in request) == ("filter" in request):
            raise InvalidInput("request_invalid", "Send either credentials or filter.")
        now = self._clock()
        with self._db.write() as session:
            if "credentials" in request:
                targets = _targets_by_id(session, _credential_ids(request["credentials"]), by)
            else:
                if by is not None and not by.is_admin:
                    raise Forbidden("admin_required", "Only an admin may revoke by filter.")
                targets = _targets_by_filter(session, request["filter"])
            revoked, already = _revoke_targets(session, targets, checked_reason, _actor(by), now)
            if store_with is not None:
                store_with(session, revoked, checked_reason)
        return BulkRevocation(
            revoked=tuple(revoked), already_revoked=tuple(already), revoked_at=now
        )

    def status_of(self, credential_id: str) -> CredentialStatus:
        """Whether ``credential_id`` is revoked, when and why, read from the database.

        Raises NotFound ``credential_not_found``.
        """
        if not is_uuid(credential_id):
            raise NotFound("credential_not_found", "There is no such credential.")
        with self._db.read() as session:
            row = session.execute(
                select(IssuedCredential.id, Revocation)
                .outerjoin(Revocation, Revocation.credential_id == IssuedCredential.id)
                .where(IssuedCredential.id == credential_id)
            ).first()
        if row is None:
            raise NotFound("credential_not_found", "There is no such credential.")
        revocation = row.Revocation
        if revocation is None:
            return CredentialStatus(revoked=False, revoked_at=None, reason=None)
        return CredentialStatus(
            revoked=True, revoked_at=revocation.revoked_at, reason=revocation.reason
        )

    def list_credential(
        self, list_id: str, form: Literal["json", "jwt"] = "json"
    ) -> dict[str, Any] | str:
        """The signed status list credential: the Data Integrity JSON, or the VC-JWT.

        Raises NotFound ``status_list_not_found``, and KeyringError when it must be
        re-signed and the keys are unusable.
        """
        published = self.publish(list_id)
        return published.jwt if form == "jwt" else published.document

    def publish(self, list_id: str) -> PublishedStatusList:
        """The list as currently signed, re-signing it first when it changed or is about
        to expire.

        Raises NotFound ``status_list_not_found``, and KeyringError when it must be
        re-signed and the keys are unusable.
        """
        number = _list_number(list_id)
        with self._db.read_connection() as connection:
            found = connection.execute(_SIGNED_LIST, {"list_id": number}).first()
        if found is None:
            raise NotFound("status_list_not_found", "There is no such status list.")
        signed = _SignedList(*found)
        if self._is_current(signed):
            return _published(signed)
        try:
            with self._db.write() as session:
                # Under the row lock, so that two workers do not both sign the same change.
                locked = _lock_list(session, number)
                if not self._is_current(locked):
                    self._sign(locked)
                    self._keep(locked)
                return _published(locked)
        except OperationalError as error:
            # A database that cannot be written now (read-only, full, locked too long) still
            # holds the bits: sign what was read, unstored, so that reading a list never
            # needs a write and verifiers keep seeing every revocation.
            log.warning("Status list %d signed without storing it: %s", number, error.orig)
            with self._db.read() as session:
                row = session.get(StatusList, number)
            if row is None:
                raise NotFound("status_list_not_found", "There is no such status list.") from error
            self._sign(row)
            self._keep(row)
            return _published(row)

    def publish_changed(self) -> None:
        """Sign now every list whose bits changed since it was last signed, so that a
        revocation is published (and archived) when it is made, not when first read.

        Raises KeyringError when the keys are unusable; a database error is logged (the
        next reader signs the list).
        """
        try:
            with self._db.read() as session:
                numbers = list(
                    session.execute(
                        select(StatusList.id).where(
                            (StatusList.signed_version.is_(None))
                            | (StatusList.signed_version != StatusList.version)
                        )
                    ).scalars()
                )
            for number in numbers:
                self.publish(str(number))
        except SQLAlchemyError as error:
            log.warning("Changed status lists not signed yet: %s", error)

    def _keep(self, row: StatusList) -> None:
        """Also keep the signed version outside the database (``issuer.status_archive``), so
        that a restore from an older backup cannot undo a revocation it published."""
        if self._archive is None or row.signed_json is None or row.signed_at is None:
            return
        try:
            self._archive.keep(row.id, row.version, row.signed_at, json.loads(row.signed_json))
        except OSError as error:
            log.error("Status list %d version %d not archived: %s", row.id, row.version, error)

    def _is_current(self, row: StatusList | _SignedList) -> bool:
        return (
            row.signed_version == row.version
            and row.signed_valid_until is not None
            and row.signed_valid_until - self._clock() > RESIGN_WHEN_LESS_THAN
        )

    def _sign(self, row: StatusList) -> None:
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        valid_until = now + LIST_VALIDITY
        unsigned = status_list.status_list_credential(
            list_url=self._allocator.list_url(row.id),
            issuer_id=self._issuer_id,
            bits=row.bits,
            valid_from=format_datetime(now),
            valid_until=format_datetime(valid_until),
            ttl_milliseconds=TTL_MILLISECONDS,
        )
        keyring = self._keyring()
        data_integrity_key = keyring.signing_key("EdDSA")
        signed = data_integrity.add_proof(
            unsigned,
            private_key=data_integrity_key.private_key,
            verification_method=data_integrity_key.kid,
            created=now,
            proof_as_list=False,
        )
        token = vc_jwt.sign_vc_jwt(unsigned, keyring.signing_key(self._jwt_algorithm))
        row.signed_version = row.version
        row.signed_at = now
        row.signed_valid_until = valid_until
        row.signed_json = json.dumps(signed, ensure_ascii=False, separators=(",", ":"))
        row.signed_jwt = token


@dataclass(frozen=True)
class _Target:
    credential_id: str
    list_id: int | None
    status_index: int | None


def _revoke_targets(
    session: Session, targets: Sequence[_Target], reason: str, actor: str, now: datetime
) -> tuple[list[str], list[str]]:
    """Flip the targets' bits and record their revocations; return (revoked, already).

    Each list row is locked before anything is read about its revocations, in ascending
    id order so that two bulk revocations cannot deadlock.
    """
    locked = {
        list_id: _lock_list(session, list_id)
        for list_id in sorted({t.list_id for t in targets if t.list_id is not None})
    }
    ids = [target.credential_id for target in targets]
    previously: set[str] = set()
    for chunk in _chunks(ids, 500):
        previously.update(
            session.execute(
                select(Revocation.credential_id).where(Revocation.credential_id.in_(chunk))
            ).scalars()
        )
    revoked: list[str] = []
    changed: set[int] = set()
    for target in targets:
        if target.credential_id in previously:
            continue
        if target.list_id is not None and target.status_index is not None:
            row = locked[target.list_id]
            row.bits = status_list.set_bit(row.bits, target.status_index)
            changed.add(target.list_id)
        session.add(
            Revocation(
                credential_id=target.credential_id,
                list_id=target.list_id,
                status_index=target.status_index,
                revoked_at=now,
                actor=actor,
                reason=reason,
            )
        )
        revoked.append(target.credential_id)
    for list_id in changed:
        locked[list_id].version += 1
    try:
        session.flush()
    except IntegrityError as error:
        # Only a credential without a status entry is revoked without a list lock; two
        # concurrent revocations of it meet here.
        raise Conflict("already_revoked", "This credential was revoked before.") from error
    already = [target.credential_id for target in targets if target.credential_id in previously]
    return revoked, already


def _targets_by_id(
    session: Session, credential_ids: Sequence[str], by: Principal | None
) -> list[_Target]:
    """The credentials named, with their entries. Raises NotFound ``credential_not_found``
    for any that is unknown or that ``by`` may not manage."""
    wanted = [cid for cid in dict.fromkeys(credential_ids) if is_uuid(cid)]
    rows: list[Any] = []
    for chunk in _chunks(wanted, 500):
        rows.extend(session.execute(_target_query().where(IssuedCredential.id.in_(chunk))).all())
    allowed = {
        row.id: _Target(row.id, row.list_id, row.status_index)
        for row in rows
        if by is None or by.may_award(row.achievement)
    }
    missing = [cid for cid in dict.fromkeys(credential_ids) if cid not in allowed]
    if missing and len(credential_ids) == 1:
        raise NotFound("credential_not_found", "There is no such credential.")
    if missing:
        raise NotFound(
            "credential_not_found",
            f"{len(missing)} of the credentials do not exist or are not yours to revoke.",
            {"credentials": missing[:100]},
        )
    return [allowed[cid] for cid in dict.fromkeys(credential_ids)]


def _targets_by_filter(session: Session, criteria: object) -> list[_Target]:
    """The credentials a bulk filter selects. Raises InvalidInput ``request_invalid``."""
    if not isinstance(criteria, dict) or not criteria or set(criteria) - _FILTER_KEYS:
        raise InvalidInput(
            "request_invalid",
            f"filter is an object with one or more of: {', '.join(sorted(_FILTER_KEYS))}.",
        )
    for key, value in criteria.items():
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput("request_invalid", f"filter.{key} must be a non-empty string.")
    query = _target_query()
    if "assessor" in criteria:
        query = query.join(Assessor, Assessor.id == IssuedCredential.assessor_id).where(
            Assessor.email == criteria["assessor"].strip().lower()
        )
    if "achievement" in criteria:
        query = query.where(IssuedCredential.achievement == criteria["achievement"])
    if "issuedFrom" in criteria:
        query = query.where(
            IssuedCredential.issued_at >= _filter_moment(criteria["issuedFrom"], "issuedFrom")
        )
    if "issuedUntil" in criteria:
        until = _filter_moment(criteria["issuedUntil"], "issuedUntil")
        if len(criteria["issuedUntil"].strip()) == len("2025-01-31"):
            # A bare date means the whole of that day.
            until += timedelta(days=1)
        query = query.where(IssuedCredential.issued_at < until)
    rows = session.execute(query.order_by(IssuedCredential.issued_at)).all()
    return [_Target(row.id, row.list_id, row.status_index) for row in rows]


def _target_query() -> Select[str, str, int, int]:
    return select(
        IssuedCredential.id,
        IssuedCredential.achievement,
        StatusEntry.list_id,
        StatusEntry.status_index,
    ).outerjoin(StatusEntry, StatusEntry.credential_id == IssuedCredential.id)


def _filter_moment(text: str, name: str) -> datetime:
    """A filter bound: a date (midnight UTC) or a date-time with a time zone.

    Raises InvalidInput ``request_invalid``.
    """
    text = text.strip()
    try:
        if "T" not in text:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(
            "request_invalid",
            f"filter.{name} must be a date (2025-01-31) or a date-time with a time zone.",
        )
    return moment.astimezone(UTC)


def _credential_ids(value: object) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_BULK_CREDENTIALS
        or not all(isinstance(item, str) for item in value)
    ):
        raise InvalidInput(
            "request_invalid",
            f"credentials is a list of 1 to {MAX_BULK_CREDENTIALS} credential ids.",
        )
    return [_bare_id(item) for item in value]


def _bare_id(credential_id: str) -> str:
    """A credential id as stored: its UUID, also when given as the credential's URL."""
    return credential_id.rstrip("/").rsplit("/", 1)[-1]


def _check_reason(reason: object) -> str:
    """The reason, trimmed. Raises InvalidInput ``reason_required`` when it is missing or
    empty, ``reason_invalid`` when too long or holding control characters."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason_required", "Say why the credential is revoked (reason).")
    reason = reason.strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(
            "reason_invalid", f"The reason may be at most {MAX_REASON_LENGTH} characters."
        )
    if any((ord(char) < 32 and char not in "\n\r") or ord(char) == 127 for char in reason):
        raise InvalidInput("reason_invalid", "The reason holds a control character.")
    return reason


def _actor(by: Principal | None) -> str:
    return CLI_ACTOR if by is None else by.email


class _OpenList(NamedTuple):
    """The open list, as allocation needs it."""

    id: int
    size: int


def _lock_list(session: Session, list_id: int) -> StatusList:
    """The list row, locked until the transaction ends (a no-op on SQLite, whose write
    transactions are already exclusive)."""
    return session.execute(
        select(StatusList)
        .where(StatusList.id == list_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


# Every award reads these two, so they are built once and run on the session's connection.
# The open list's id and size only: its row also holds the bits and the signed list.
_OPEN_LIST = (
    select(StatusList.id, StatusList.size)
    .where(StatusList.purpose == status_list.PURPOSE_REVOCATION, ~StatusList.full)
    .order_by(StatusList.id)
    .limit(1)
)
_ENTRY = select(StatusEntry.credential_id).where(
    StatusEntry.list_id == bindparam("list_id"), StatusEntry.status_index == bindparam("index")
)


_ENTRIES_AMONG = select(StatusEntry.status_index).where(
    StatusEntry.list_id == bindparam("list_id"),
    StatusEntry.status_index.in_(bindparam("indexes", expanding=True)),
)


_CLOSED_AMONG = select(StatusList.id).where(
    StatusList.id.in_(bindparam("list_ids", expanding=True)), StatusList.full
)


def closed_lists(session: Session, list_ids: Sequence[int]) -> list[int]:
    """Which of ``list_ids`` take no new entries any more (full, or sealed by a restore), read
    in the caller's transaction: an entry reserved before must not be stored in one."""
    found = session.connection().execute(_CLOSED_AMONG, {"list_ids": sorted(set(list_ids))})
    return list(found.scalars())


def _entry_exists(connection: Connection, list_id: int, index: int) -> bool:
    found = connection.execute(_ENTRY, {"list_id": list_id, "index": index})
    return found.first() is not None


class _SignedList(NamedTuple):
    """A list's row without its bits: what serving the signed list needs."""

    id: int
    version: int
    signed_json: str | None
    signed_jwt: str | None
    signed_version: int | None
    signed_at: datetime | None
    signed_valid_until: datetime | None


# Every status check and every GET of a list reads this: the row without its bits (16 kB
# for a list of 131,072 entries), built once, on the session's connection.
_SIGNED_LIST = select(
    StatusList.id,
    StatusList.version,
    StatusList.signed_json,
    StatusList.signed_jwt,
    StatusList.signed_version,
    StatusList.signed_at,
    StatusList.signed_valid_until,
).where(StatusList.id == bindparam("list_id"))


def _published(row: StatusList | _SignedList) -> PublishedStatusList:
    if (
        row.signed_json is None
        or row.signed_jwt is None
        or row.signed_version is None
        or row.signed_at is None
        or row.signed_valid_until is None
    ):
        raise IssuerError("status_list_unsigned", "The status list has not been signed.")
    return PublishedStatusList(
        list_id=row.id,
        version=row.signed_version,
        document=json.loads(row.signed_json),
        jwt=row.signed_jwt,
        signed_at=row.signed_at,
        valid_until=row.signed_valid_until,
    )


def _list_number(list_id: str) -> int:
    number = whole_number(list_id, max_digits=9)
    if number is None:
        raise NotFound("status_list_not_found", "There is no such status list.")
    return number


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
