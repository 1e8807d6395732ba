"""Group commit (storage.GroupCommit): the works of threads that arrive while a transaction
is being written share the next one; a work that fails fails alone, the others of its group
still commit; a transaction that fails is every work's answer; a work that waited too long
for its group is never written."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.storage import Database
from issuer.storage.group_commit import GroupCommit

pytestmark = pytest.mark.storage


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    with database.write() as session:
        session.execute(text("CREATE TABLE grouped (name VARCHAR(20) PRIMARY KEY, tx BIGINT)"))
    yield database
    database.dispose()


_transactions = itertools.count()


def _insert(name: str) -> Callable[[Session], str]:
    """A work storing ``name`` with the number of the transaction that stored it (each
    transaction of ``Database.write`` has a session of its own)."""

    def write(session: Session) -> str:
        session.execute(
            text("INSERT INTO grouped (name, tx) VALUES (:name, :tx)"),
            {"name": name, "tx": session.info.setdefault("tx", next(_transactions))},
        )
        return name

    return write


def _stored(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {name: tx for name, tx in session.execute(text("SELECT name, tx FROM grouped"))}


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the works never queued"
        time.sleep(0.005)


def _group_behind_a_held_transaction(
    db: Database, group: GroupCommit, works: dict[str, Callable[[Session], str]]
) -> dict[str, Future[str]]:
    """``works`` sent while a first work holds its transaction open, so that they queue
    and are written together once it commits; their futures, by name."""
    inside, release = threading.Event(), threading.Event()

    def first(session: Session) -> str:
        inside.set()
        release.wait(10)
        return _insert("first")(session)

    pool = ThreadPoolExecutor(len(works) + 1)
    futures = {"first": pool.submit(group.run, first)}
    assert inside.wait(10)
    futures |= {name: pool.submit(group.run, work) for name, work in works.items()}
    _wait_until(lambda: group.waiting == len(works))
    release.set()
    pool.shutdown(wait=True)
    return futures


def test_works_waiting_together_are_written_in_one_transaction(db: Database) -> None:
    group = GroupCommit(db.write, timeout=30, timed_out=lambda: TimeoutError("locked"))
    futures = _group_behind_a_held_transaction(
        db, group, {name: _insert(name) for name in ("a", "b", "c")}
    )
    assert {name: future.result() for name, future in futures.items()} == {
        name: name for name in ("first", "a", "b", "c")
    }
    stored = _stored(db)
    assert set(stored) == {"first", "a", "b", "c"}
    assert stored["a"] == stored["b"] == stored["c"] != stored["first"]
    # Alone, a work is written at once, in a transaction of its own.
    assert group.run(_insert("alone")) == "alone"
    assert _stored(db)["alone"] not in set(stored.values())


def test_a_failing_work_fails_alone_and_the_rest_of_its_group_commits(db: Database) -> None:
    group = GroupCommit(db.write, timeout=30, timed_out=lambda: TimeoutError("locked"))
    ran: list[str] = []

    def refused(session: Session) -> str:
        _insert("refused")(session)
        ran.append("refused")
        raise ValueError("refused")

    futures = _group_behind_a_held_transaction(
        db, group, {"a": _insert("a"), "refused": refused, "b": _insert("b")}
    )
    with pytest.raises(ValueError, match="refused"):
        futures["refused"].result()
    assert futures["a"].result() == "a"
    assert futures["b"].result() == "b"
    stored = _stored(db)
    assert set(stored) == {"first", "a", "b"}
    # Rolled back with its group, then run again alone: a and b committed apart from it.
    assert ran == ["refused", "refused"]
    assert stored["a"] != stored["b"]


def test_a_constraint_one_work_breaks_is_that_works_error_only(db: Database) -> None:
    group = GroupCommit(db.write, timeout=30, timed_out=lambda: TimeoutError("locked"))
    group.run(_insert("taken"))
    futures = _group_behind_a_held_transaction(
        db, group, {"a": _insert("a"), "taken": _insert("taken")}
    )
    with pytest.raises(IntegrityError):
        futures["taken"].result()
    assert futures["a"].result() == "a"
    assert set(_stored(db)) == {"taken", "first", "a"}


def test_a_transaction_that_cannot_begin_answers_every_work_with_its_error(
    db: Database,
) -> None:
    def broken() -> Iterator[Session]:
        raise ConnectionError("the database is down")

    group = GroupCommit(
        contextmanager(broken), timeout=30, timed_out=lambda: TimeoutError("locked")
    )
    with pytest.raises(ConnectionError, match="down"):
        group.run(_insert("a"))
    assert group.waiting == 0
    assert _stored(db) == {}


def test_a_work_that_waits_too_long_is_answered_and_never_written(db: Database) -> None:
    group = GroupCommit(db.write, timeout=0.2, timed_out=lambda: TimeoutError("locked"))
    inside, release = threading.Event(), threading.Event()

    def slow(session: Session) -> str:
        inside.set()
        release.wait(10)
        return _insert("slow")(session)

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(group.run, slow)
        assert inside.wait(10)
        with pytest.raises(TimeoutError, match="locked"):
            group.run(_insert("late"))
        assert group.waiting == 0
        release.set()
        assert first.result() == "slow"
    assert set(_stored(db)) == {"slow"}
