"""Storage: one SQLAlchemy implementation that runs on SQLite and on PostgreSQL.

SQLite is the embedded default. It runs in WAL mode with ``synchronous=FULL`` (a committed
credential survives a power cut) and every write transaction starts with ``BEGIN IMMEDIATE``,
so two writers never both read and then fail to upgrade their lock. A new database file is
made readable by its owner only (0600; SQLite gives its WAL and shared-memory files the same
mode): it holds e-mail addresses and password hashes. PostgreSQL is how the service scales
out; the same code runs there unchanged.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Insert, Table, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from issuer.storage.group_commit import GroupCommit

# Session is re-exported: it is the handle a service passes to another so that both write in
# one transaction, without the passer touching the database itself.
__all__ = [
    "MIGRATIONS_DIR",
    "UNAVAILABLE_ERRORS",
    "Database",
    "Session",
    "insert_unless_taken",
    "is_uuid",
]

# What a database that is down, read-only, full, locked or too slow raises: the web answers
# these with 503 and Retry-After (issuer/web/errors.py), never 500.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

T = TypeVar("T")

# SQLite waits this long for another writer's lock before giving up.
_SQLITE_BUSY_TIMEOUT_SECONDS = 30
# PostgreSQL: a server that accepts connections but does not answer, or a statement that
# runs too long, fails within these bounds instead of holding a worker (gunicorn: 30 s).
POSTGRESQL_CONNECT_TIMEOUT_SECONDS = 5
POSTGRESQL_STATEMENT_TIMEOUT_MS = 15_000
# Advisory locks on a sorted array of keys: unnest yields them in the array's order.
_ADVISORY_LOCKS = text(
    "SELECT pg_advisory_xact_lock(key) FROM unnest(CAST(:keys AS BIGINT[])) AS locks(key)"
)
# Below this much free space a SQLite database is reported full (a write may fail).
_MINIMUM_FREE_BYTES = 16 * 1024 * 1024


class Database:
    """The engine, and sessions that are either read-only or writing."""

    def __init__(self, url: str, **engine_options: Any):
        self.url = url
        self.engine = _create_engine(url, **engine_options)
        self._writer = sessionmaker(
            bind=self.engine.execution_options(issuer_write=True), expire_on_commit=False
        )
        self._reader = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._turn = _write_turn(self.engine) if self.is_sqlite else None
        self._group_commit = GroupCommit(
            self.write, timeout=_SQLITE_BUSY_TIMEOUT_SECONDS, timed_out=_database_locked
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back on any error.

        On SQLite, writers take turns (``WriteTurn``) before ``BEGIN IMMEDIATE``.
        """
        if self._turn is None:
            with self._writer() as session, session.begin():
                yield session
            return
        with self._turn, self._writer() as session, session.begin():
            yield session

    def write_grouped(self, write: Callable[[Session], T]) -> T:
        """``write(session)`` in a write transaction, maybe shared with other threads' (a
        group commit, ``GroupCommit``): what it returned, once committed. ``write`` may run
        twice, the first time rolled back, so it must do nothing outside the session."""
        return self._group_commit.run(write)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (its transaction is rolled back, never committed)."""
        with self._reader() as session:
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A read-only connection for Core statements (its transaction is rolled back when
        it closes, never committed): for the reads every request makes, a quarter cheaper
        than a session."""
        with self.engine.connect() as connection:
            yield connection

    def lock(self, session: Session, *names: str) -> None:
        """Hold the locks ``names`` until ``session``'s write transaction ends, so that a
        check-then-write on each name runs alone. On PostgreSQL transaction-scoped advisory
        locks, taken in one statement and always in the same order (two transactions that
        lock overlapping sets cannot deadlock); on SQLite every write transaction is alone
        already (``BEGIN IMMEDIATE``)."""
        if self.is_sqlite or not names:
            return
        keys = sorted(
            {
                int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
                for name in names
            }
        )
        session.execute(_ADVISORY_LOCKS, {"keys": keys})

    def migrate(self) -> None:
        """Bring the schema to the newest migration (safe to run again)."""
        with self.engine.begin() as connection:
            config = AlembicConfig()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def ping(self) -> None:
        """Run a trivial query; raises the driver's error when the database is unusable."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def schema_versions(self) -> tuple[str | None, str]:
        """The migration the database is at (None before any) and the newest one there is."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        head = ScriptDirectory.from_config(config).get_current_head() or ""
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current, head

    def storage_problem(self) -> str | None:
        """Why a SQLite file cannot take writes (``read_only``, ``disk_full``), found
        without writing; None when it can, and always on PostgreSQL."""
        if not self.is_sqlite:
            return None
        url = make_url(self.url)
        path = url.database
        if not path or path == ":memory:":
            return None
        if "mode=ro" in str(url) or url.query.get("mode") == "ro":
            return "read_only"
        folder = os.path.dirname(os.path.abspath(path))
        try:
            status = os.statvfs(folder)
        except OSError:
            return "read_only"
        if status.f_flag & os.ST_RDONLY or not os.access(path, os.W_OK):
            return "read_only"
        if status.f_bavail * status.f_frsize < _MINIMUM_FREE_BYTES:
            return "disk_full"
        return None

    def dispose(self) -> None:
        self.engine.dispose()


class WriteTurn:
    """Turns at writing one SQLite file, taken before ``BEGIN IMMEDIATE``, so that a writer
    waiting for another is woken when it finishes instead of sleeping in SQLite's busy
    handler (1 ms at least, then longer and longer).

    The threads of a process queue on a lock; the processes on an ``flock`` of a file
    beside the database (``<file>-writer.lock``), polled every 0.1-1 ms. Both waits end
    after ``timeout`` (SQLite's busy timeout) with the "database is locked" error SQLite
    itself gives (a 503). Where the lock file cannot be made (a read-only folder), the
    processes fall back on SQLite's own locking. Reentrant: a write inside a write in one
    thread waits for nothing here (SQLite's lock then decides, as before).
    """

    def __init__(self, lock_path: str | None, timeout: float = _SQLITE_BUSY_TIMEOUT_SECONDS):
        self._lock_path = lock_path
        self._timeout = timeout
        self._forget_turns()
        _every_turn.add(self)

    def _forget_turns(self) -> None:
        """A new lock, and the file to be opened again (at start, and in a forked child,
        where a turn a parent's thread held would otherwise never end). Closing the
        inherited descriptor leaves the parent's lock as it is (the parent holds its own)."""
        inherited = getattr(self, "_file", None)
        if inherited is not None:
            with suppress(OSError):
                os.close(inherited)
        self._threads = threading.RLock()
        self._depth = 0
        self._file: int | None = None
        self._file_pid: int | None = None

    def __enter__(self) -> None:
        if not self._threads.acquire(timeout=self._timeout):
            raise _database_locked()
        try:
            if self._depth == 0:
                self._lock_file()
        except BaseException:
            self._threads.release()
            raise
        self._depth += 1

    def __exit__(self, *_exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._file is not None:
                fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _lock_file(self) -> None:
        descriptor = self._descriptor()
        if descriptor is None:
            return
        deadline = time.monotonic() + self._timeout
        pause = 0.0001
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _database_locked() from None
                time.sleep(pause)
                pause = min(pause * 2, 0.001)

    def _descriptor(self) -> int | None:
        """The lock file, opened in this process: a descriptor inherited across a fork
        shares its lock with the parent, so it would not keep the two apart."""
        if self._lock_path is None:
            return None
        if self._file_pid != os.getpid():
            self._file_pid = os.getpid()
            try:
                self._file = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                self._file = None
        return self._file


_turns: dict[str, WriteTurn] = {}
_turns_lock = threading.Lock()
_every_turn: weakref.WeakSet[WriteTurn] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    global _turns_lock
    _turns_lock = threading.Lock()
    for turn in list(_every_turn):
        turn._forget_turns()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _write_turn(engine: Engine) -> WriteTurn:
    """The one ``WriteTurn`` of this process for the engine's SQLite file."""
    database = engine.url.database
    on_disk = bool(database) and database != ":memory:" and not str(database).startswith("file:")
    key = os.path.abspath(str(database)) if on_disk else f"memory:{id(engine)}"
    with _turns_lock:
        if key not in _turns:
            _turns[key] = WriteTurn(f"{key}-writer.lock" if on_disk else None)
        return _turns[key]


def _database_locked() -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))


def insert_unless_taken(
    session: Session, model: type[Any], values: dict[str, Any], unique: Sequence[str]
) -> bool:
    """Insert one ``model`` row in the caller's transaction unless a row already holds its
    ``unique`` columns (a unique constraint on exactly those); whether it was inserted.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` on SQLite (3.35 and later) and
    PostgreSQL alike: no savepoint, and on PostgreSQL the transaction stays usable. Any
    other constraint still raises.
    """
    connection = session.connection()
    statement = _insert_unless_taken(model.__table__, connection.dialect.name, tuple(unique))
    return connection.execute(statement, values).first() is not None


@functools.cache
def _insert_unless_taken(table: Table, dialect: str, unique: tuple[str, ...]) -> Insert:
    """The statement of ``insert_unless_taken``, built once: its values are bound when it
    runs, so its compiled form is found in the cache without walking a tree of values."""
    dialect_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # RETURNING, not the row count (psycopg reports none for this statement here).
    return (
        dialect_insert(table)
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(*(table.c[column] for column in unique))
    )


def is_uuid(text: object) -> bool:
    """Whether ``text`` is a UUID in the canonical form the ids of credentials and bulk jobs
    are stored in; anything else names no row, so it is answered without a query."""
    if not isinstance(text, str):
        return False
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _create_engine(url: str, **engine_options: Any) -> Engine:
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; the bare scheme would ask for psycopg2.
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return create_engine(_with_timeouts(url), pool_pre_ping=True, **engine_options)

    _create_private_file(make_url(url).database)
    engine = create_engine(
        url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_SECONDS}, **engine_options
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get("issuer_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


def _create_private_file(database: str | None) -> None:
    """Create the SQLite file ``database`` as 0600 if it does not exist yet (an in-memory
    database or a ``file:`` URI is left to SQLite)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except (FileExistsError, FileNotFoundError):  # kept as it is; no folder: SQLite says so
        return


def _with_timeouts(url: str) -> str:
    """``url`` with libpq's ``connect_timeout`` and a ``statement_timeout`` added to its
    ``options`` (kept when the operator set them)."""
    parsed = make_url(url)
    query = dict(parsed.query)
    query.setdefault("connect_timeout", str(POSTGRESQL_CONNECT_TIMEOUT_SECONDS))
    options = str(query.get("options", ""))
    if "statement_timeout" not in options:
        timeout = f"-c statement_timeout={POSTGRESQL_STATEMENT_TIMEOUT_MS}"
        query["options"] = f"{options} {timeout}".strip()
    return parsed.set(query=query).render_as_string(hide_password=False)
