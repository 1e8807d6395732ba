"""SQLite writers take turns (storage.WriteTurn): threads of one process and separate
processes alike, a waiting writer gets in as soon as the other is done, and a turn held
too long ends in SQLite's own "database is locked" error, never a hang."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from issuer.storage import Database, WriteTurn


def _database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'turns.sqlite3'}")
    with db.write() as session:
        session.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        session.execute(text("INSERT INTO counter VALUES (0)"))
    return db


def _increment(db: Database, times: int) -> None:
    for _ in range(times):
        with db.write() as session:
            value = session.execute(text("SELECT n FROM counter")).scalar_one()
            session.execute(text("UPDATE counter SET n = :n"), {"n": value + 1})


def _increment_in_process(url: str, times: int) -> None:
    _increment(Database(url), times)


def test_threads_and_processes_take_turns_and_lose_no_write(tmp_path: Path) -> None:
    db = _database(tmp_path)
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_increment_in_process, args=(db.url, 60)) for _ in range(2)]
    threads = [threading.Thread(target=_increment, args=(db, 60)) for _ in range(4)]
    for worker in [*processes, *threads]:
        worker.start()
    for thread in threads:
        thread.join()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    with db.read() as session:
        # A read-modify-write lost to a concurrent writer would leave the count short.
        assert session.execute(text("SELECT n FROM counter")).scalar_one() == 6 * 60
    assert (tmp_path / "turns.sqlite3-writer.lock").exists()


def _hold_turn(lock_path: str, held: object, release: object) -> None:
    turn = WriteTurn(lock_path)
    with turn:
        held.set()  # type: ignore[attr-defined]
        release.wait(30)  # type: ignore[attr-defined]


def test_a_turn_another_process_holds_ends_in_database_locked_then_is_free(
    tmp_path: Path,
) -> None:
    lock_path = str(tmp_path / "db.sqlite3-writer.lock")
    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_turn, args=(lock_path, held, release))
    holder.start()
    try:
        assert held.wait(10)
        waiting = WriteTurn(lock_path, timeout=0.3)
        began = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"), waiting:
            pass
        assert time.monotonic() - began < 5
    finally:
        release.set()
        holder.join(10)
    with waiting:  # the holder is gone: the turn is free at once
        pass


def test_a_forked_child_does_not_share_its_parents_turn(tmp_path: Path) -> None:
    # The parent holds its turn while it forks: the child must still have to wait for it
    # (a descriptor inherited across a fork shares its lock), and must not be stuck on the
    # parent's thread lock once the parent lets go.
    lock_path = str(tmp_path / "db.sqlite3-writer.lock")
    turn = WriteTurn(lock_path, timeout=0.3)
    context = multiprocessing.get_context("fork")
    outcome = context.Queue()

    def child() -> None:
        try:
            with turn:
                outcome.put("entered")
        except OperationalError:
            outcome.put("locked")

    with turn:
        first = context.Process(target=child)
        first.start()
        assert outcome.get(timeout=10) == "locked"
        first.join(10)
    second = context.Process(target=child)
    with turn:
        pass
    second.start()
    assert outcome.get(timeout=10) == "entered"
    second.join(10)
