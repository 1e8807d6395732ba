"""Awards are signed outside the write lock, on a reserved status entry.

Two things must hold: another writer can commit while an award is being signed (the lock
is not held), and a status entry another process stored in the meantime is never stored
twice (the award draws again and re-signs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from issuer.assessors import Principal
from issuer.issuance import IssuanceService, IssuedAward
from issuer.proofs import data_integrity
from issuer.revocation import StatusAllocator, StatusEntryTaken
from issuer.services import Services
from issuer.storage.models import StatusEntry, StatusList

pytestmark = pytest.mark.storage

ACHIEVEMENT = "computer-user-support-specialists/proficient"


def _request(number: int) -> dict[str, Any]:
    return {
        "achievement": ACHIEVEMENT,
        "recipient": {"email": f"earner{number}@example.org", "name": f"Earner {number}"},
    }


def _service(
    services: Services, allocator: StatusAllocator, clock: Callable[[], datetime]
) -> IssuanceService:
    """An issuance service of its own over the app's database, keys and templates: what
    another worker process has."""
    return IssuanceService(
        services.db,
        services.catalog,
        services.keyring,
        issuer=services.issuer_profile,
        base_url=services.base_url,
        jwt_algorithm="RS256",
        status=allocator,
        clock=clock,
    )


def _indexes(draws: list[int]) -> Callable[[int], int]:
    """``random_below`` that gives ``draws`` in turn, then counts up from 100."""
    pending: Iterator[int] = iter(draws)
    fallback = iter(range(100, 10**6))

    def random_below(bound: int) -> int:
        return next(pending, next(fallback)) % bound

    return random_below


@pytest.fixture
def services(app: Flask) -> Services:
    services: Services = app.extensions["issuer"]
    return services


@pytest.fixture
def assessor(services: Services) -> Principal:
    return services.assessors.add(
        "signer@example.org", name="Signer", levels=[], all_levels=True, is_admin=False
    ).principal


def test_another_writer_commits_while_an_award_is_signed(
    services: Services, assessor: Principal
) -> None:
    committed = threading.Event()

    def write_elsewhere() -> None:
        services.assessors.add(
            "other@example.org", name="Other", levels=[], all_levels=True, is_admin=False
        )
        committed.set()

    calls: list[int] = []

    def clock() -> datetime:
        # The second call is the proof's creation time, while the credential is signed: a
        # writer on another connection must get through now, not after this award's
        # transaction.
        calls.append(1)
        if len(calls) == 2:
            writer = threading.Thread(target=write_elsewhere)
            writer.start()
            writer.join(timeout=20)
        return datetime.now(UTC)

    allocator = StatusAllocator(services.base_url, 8, random_below=_indexes([]))
    issued = _service(services, allocator, clock).award(assessor, _request(1))
    assert committed.is_set()
    data_integrity.verify_proof(
        issued.credential, services.keyring().signing_key("EdDSA").public_key
    )


def test_an_entry_stored_by_another_process_meanwhile_is_drawn_again(
    services: Services, assessor: Principal
) -> None:
    other: list[IssuedAward] = []
    other_process = _service(
        services,
        StatusAllocator(services.base_url, 8, random_below=_indexes([5])),
        lambda: datetime.now(UTC),
    )

    calls: list[int] = []

    def clock() -> datetime:
        # While this award is signed with entry 5 (the second call: the proof's creation
        # time), another process stores entry 5.
        calls.append(1)
        if len(calls) == 2:
            other.append(other_process.award(assessor, _request(2)))
        return datetime.now(UTC)

    allocator = StatusAllocator(services.base_url, 8, random_below=_indexes([5, 5]))
    issued = _service(services, allocator, clock).award(assessor, _request(1))

    assert other[0].credential["credentialStatus"]["statusListIndex"] == "5"
    assert issued.credential["credentialStatus"]["statusListIndex"] != "5"
    public_key = services.keyring().signing_key("EdDSA").public_key
    data_integrity.verify_proof(issued.credential, public_key)
    assert services.issuance.get(issued.id).credential == issued.credential
    with services.db.read() as session:
        entries = session.execute(select(StatusEntry.list_id, StatusEntry.status_index)).all()
    assert len(entries) == len(set(entries)) == 2


def test_one_process_never_hands_one_entry_to_two_awards(services: Services) -> None:
    allocator = StatusAllocator(services.base_url, 8, random_below=_indexes([3, 3, 3, 3, 3, 4]))
    first = allocator.reserve(services.db)
    second = allocator.reserve(services.db)
    assert (first.list_id, first.index) != (second.list_id, second.index)
    allocator.release(first)
    allocator.release(second)


def test_a_batch_draws_unused_entries_at_once_and_the_rest_one_by_one(
    services: Services, assessor: Principal
) -> None:
    # Entries 1 and 2 of the open list (8 entries) are stored; 3 is held by an award of
    # this process being signed. The batch's twelve draws hit all three, and repeat.
    batch_draws = [3, 1, 2, 3, 0, 0, 6, 1, 7, 7, 4, 4]
    allocator = StatusAllocator(
        services.base_url, 8, random_below=_indexes([1, 2, 3, *batch_draws])
    )
    service = _service(services, allocator, lambda: datetime.now(UTC))
    stored = [service.award(assessor, _request(n)).credential["credentialStatus"] for n in (1, 2)]
    assert [entry["statusListIndex"] for entry in stored] == ["1", "2"]
    signing = allocator.reserve(services.db)
    assert signing.index == 3

    batch = allocator.reserve_many(services.db, 8)

    taken = {(signing.list_id, index) for index in (1, 2, 3)}
    drawn = [(reservation.list_id, reservation.index) for reservation in batch]
    assert len(drawn) == len(set(drawn)) == 8
    assert not set(drawn) & taken
    # The draws give 0, 4, 6 and 7 at once; one by one, the first list's last entry (5),
    # then the rest from a new list.
    first_list = sorted(index for list_id, index in drawn if list_id == signing.list_id)
    assert first_list == [0, 4, 5, 6, 7]
    assert len({list_id for list_id, _index in drawn}) == 2
    # The batch's own entries are held: no later reservation of this process gets one.
    later = allocator.reserve(services.db)
    assert (later.list_id, later.index) not in set(drawn) | taken
    for reservation in [signing, later, *batch]:
        allocator.release(reservation)


def _seal_every_list(services: Services) -> None:
    """What a restore does to the lists it finds (issuer/backup.py)."""
    with services.db.write() as session:
        session.execute(update(StatusList).values(full=True))


def test_an_entry_whose_list_a_restore_sealed_meanwhile_is_drawn_again(
    services: Services, assessor: Principal
) -> None:
    calls: list[int] = []

    def clock() -> datetime:
        # While this award is signed (the second call: the proof's creation time), a
        # restore seals the list its entry was reserved in.
        calls.append(1)
        if len(calls) == 2:
            _seal_every_list(services)
        return datetime.now(UTC)

    allocator = StatusAllocator(services.base_url, 8, random_below=_indexes([]))
    issued = _service(services, allocator, clock).award(assessor, _request(1))

    with services.db.read() as session:
        entries = session.execute(
            select(StatusEntry.list_id, StatusList.full).join(
                StatusList, StatusList.id == StatusEntry.list_id
            )
        ).all()
    assert entries == [(2, False)]  # stored in the list opened after the seal, not in 1
    status = issued.credential["credentialStatus"]
    assert status["statusListCredential"].endswith("/status/2")
    data_integrity.verify_proof(
        issued.credential, services.keyring().signing_key("EdDSA").public_key
    )


def test_a_batch_whose_list_was_sealed_meanwhile_is_not_stored(
    services: Services, assessor: Principal
) -> None:
    allocator = StatusAllocator(services.base_url, 8, random_below=_indexes([]))
    service = _service(services, allocator, lambda: datetime.now(UTC))
    reservations = allocator.reserve_many(services.db, 2)
    signed = [
        service.sign(service.prepare(assessor, _request(n), None), reservation)
        for n, reservation in enumerate(reservations)
    ]
    _seal_every_list(services)
    with services.db.write() as session:
        with pytest.raises(StatusEntryTaken):
            service.store_many(session, signed)
        with pytest.raises(StatusEntryTaken):
            service.store(session, signed[0])
    with services.db.read() as session:
        assert session.execute(select(StatusEntry)).all() == []
