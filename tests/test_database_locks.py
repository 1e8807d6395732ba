"""Database.lock: the named locks a write transaction holds until it ends, so that a
check-then-write on a name runs alone; many names are taken in one statement."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from issuer.storage import Database

pytestmark = pytest.mark.storage


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.mark.parametrize("second", ["a", "c", "b"])
def test_a_transaction_waits_for_any_name_another_holds(db: Database, second: str) -> None:
    held = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        with db.write() as session:
            db.lock(session, "c", "a", "b", "a")
            held.set()
            release.wait(10)
            order.append("first ends")

    def other() -> None:
        with db.write() as session:
            db.lock(session, second)
            order.append("second holds")

    holder = threading.Thread(target=first)
    holder.start()
    assert held.wait(10)
    waiter = threading.Thread(target=other)
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive(), "the second transaction took a name the first holds"
    release.set()
    holder.join(10)
    waiter.join(10)
    assert order == ["first ends", "second holds"]


def test_names_that_overlap_in_any_order_do_not_deadlock(db: Database) -> None:
    names = [f"holder:{n}" for n in range(40)]
    errors: list[BaseException] = []

    def lock_all(order: list[str]) -> None:
        try:
            for _ in range(20):
                with db.write() as session:
                    db.lock(session, *order)
        except Exception as error:
            errors.append(error)

    threads = [
        threading.Thread(target=lock_all, args=(ordering,))
        for ordering in (names, names[::-1], names[::2] + names[1::2])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
