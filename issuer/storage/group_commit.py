"""Group commit: the small writes of many threads of a process, in one transaction.

Under load every award would be a transaction of its own: a turn at the SQLite file (or a
PostgreSQL commit) and a flush to disk each, while the other threads queue behind it. Here
the threads that arrive while a transaction is being written wait; the next of them to get
in writes all that waits, one work after the other in one transaction, and the one commit
answers them all. Alone, a work is written as at once as before.

A work that raises rolls the whole group back: each of the group is then written again in a
transaction of its own, so that it commits or fails alone, as it would have without the
group. So a work may run twice, the first time rolled back: it must do nothing outside the
session it is given. An error of the transaction itself (the database is locked, down or
full) is every work's answer, with no second try.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")

_NOTHING = object()


class _Work(Generic[T]):
    def __init__(self, write: Callable[[Session], T]):
        self.write = write
        self.taken = False
        self.done = threading.Event()
        self.result: Any = _NOTHING
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        if self.result is _NOTHING:
            raise RuntimeError("The thread writing this work stopped before it was written.")
        result: T = self.result
        return result


class _WorkFailed(Exception):
    """A work of the group raised: the group is written again one by one."""


class GroupCommit:
    """Works written in groups, each in ``transaction()`` (``Database.write``)."""

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Session]],
        *,
        timeout: float,
        timed_out: Callable[[], Exception],
    ):
        self._transaction = transaction
        self._timeout = timeout
        self._timed_out = timed_out
        self._writing = threading.Lock()  # held by the thread writing a group
        self._waiting_lock = threading.Lock()
        self._waiting: list[_Work[Any]] = []

    @property
    def waiting(self) -> int:
        """How many works wait for the next group."""
        with self._waiting_lock:
            return len(self._waiting)

    def run(self, write: Callable[[Session], T]) -> T:
        """Run ``write`` in a write transaction, maybe with other threads' works, and return
        what it returned once that transaction has committed; or raise what it raised, or
        the transaction's error. After ``timeout`` waiting for the group before, the error
        ``timed_out`` makes (nothing written)."""
        work = _Work(write)
        with self._waiting_lock:
            self._waiting.append(work)
        if not self._writing.acquire(timeout=self._timeout):
            with self._waiting_lock:
                if not work.taken:
                    self._waiting.remove(work)
                    raise self._timed_out()
            work.done.wait()  # a group holding it is being written now
            return work.outcome()
        try:
            if not work.taken:  # else a group before wrote it
                self._write_group(work)
        finally:
            self._writing.release()
        return work.outcome()

    def _take_waiting(self) -> list[_Work[Any]]:
        with self._waiting_lock:
            group, self._waiting = self._waiting, []
        for work in group:
            work.taken = True
        return group

    def _write_group(self, own: _Work[Any]) -> None:
        group: list[_Work[Any]] = []
        try:
            try:
                with self._transaction() as session:
                    # Taken once the transaction has begun: whoever arrived while it waited
                    # for its turn is in it too.
                    group = self._take_waiting()
                    results = [self._written(work, session) for work in group]
            except _WorkFailed:
                for work in group:
                    self._write_alone(work)
                return
            except Exception as error:
                if not group:  # the transaction did not begin: only this work is answered
                    with self._waiting_lock:
                        self._waiting.remove(own)
                    own.taken = True
                    group = [own]
                for work in group:
                    work.error = error
                return
            for work, result in zip(group, results, strict=True):
                work.result = result
        finally:
            for work in group:
                work.done.set()

    @staticmethod
    def _written(work: _Work[Any], session: Session) -> Any:
        try:
            return work.write(session)
        except Exception as error:
            raise _WorkFailed from error

    def _write_alone(self, work: _Work[Any]) -> None:
        try:
            with self._transaction() as session:
                result = work.write(session)
        except Exception as error:
            work.error = error
        else:
            work.result = result
