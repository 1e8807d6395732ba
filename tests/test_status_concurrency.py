"""One open status list at a time, whatever the concurrency.

Herd privacy is why a list holds at least 131,072 entries: a list that a few awards opened
side by side holds a handful of credentials, and its bits say who of them was revoked. So
every way a new list gets opened (a fresh database, the open list becoming full, a restore
that sealed every list) is raced here by threads in this process and in several other
processes at once, on SQLite and PostgreSQL: afterwards exactly one list is open and holds
every credential of the race. The database refuses a second open list by itself
(``uq_status_lists_open``); the loser of a race draws from the winner's list.

Run as a program (``python test_status_concurrency.py CONFIG FOLDER NUMBER``), this module
is one of those other processes: it builds the app from CONFIG, says it is ready, and
awards from several threads once the test says go.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from issuer import create_app, status_list
from issuer.services import Services
from issuer.storage import MIGRATIONS_DIR, Database
from issuer.storage.models import IssuedCredential, StatusEntry, StatusList

pytestmark = pytest.mark.storage

ACHIEVEMENT = "computer-user-support-specialists/proficient"
ASSESSOR = "racer@example.org"
PROCESSES = 3
THREADS = 4
AWARDS_PER_THREAD = 3
# Generous: a process builds its app (keys, templates) in a few seconds on a quiet machine.
DEADLINE_SECONDS = 240


def _services(app: Flask) -> Services:
    services: Services = app.extensions["issuer"]
    return services


def _in_background(
    services: Services, start_at: float, prefix: str
) -> tuple[threading.Thread, list[BaseException]]:
    """A started thread that runs THREADS threads, each awarding AWARDS_PER_THREAD
    credentials from the moment ``start_at`` (``time.time()``) on; and the list their
    failures go to."""
    principal = services.assessors.by_email(ASSESSOR)
    failures: list[BaseException] = []
    connected = threading.Barrier(THREADS)

    def award(thread: int) -> None:
        try:
            # Each thread holds a connection of the pool until all have one, so that the
            # race is about the status list and not about connecting.
            with services.db.read() as session:
                session.execute(select(1))
                connected.wait(timeout=DEADLINE_SECONDS)
            time.sleep(max(0.0, start_at - time.time()))
            for number in range(AWARDS_PER_THREAD):
                email = f"{prefix}-{thread}-{number}@example.org"
                services.issuance.award(
                    principal, {"achievement": ACHIEVEMENT, "recipient": {"email": email}}
                )
        except BaseException as failure:  # reported by whoever waits for them
            failures.append(failure)

    def run() -> None:
        threads = [threading.Thread(target=award, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    return runner, failures


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.01)


def _race(app: Flask, config: dict[str, Any], folder: Path) -> None:
    """Awards from THREADS threads here and in each of PROCESSES other processes, all
    started at the same moment (a second after every process has built its app: the
    moment is in the file ``go``)."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    processes = [
        subprocess.Popen(  # noqa: S603 - this very file, no shell
            [sys.executable, __file__, str(folder / "config.json"), str(folder), str(number)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for number in range(PROCESSES)
    ]
    try:
        _wait_for(
            lambda: (
                all((folder / f"ready-{n}").exists() for n in range(PROCESSES))
                or any(process.poll() is not None for process in processes)
            ),
            "the other processes to start",
        )
        start_at = time.time() + 1
        (folder / "go.tmp").write_text(repr(start_at))
        (folder / "go.tmp").rename(folder / "go")
        here, failures = _in_background(_services(app), start_at, "parent")
        here.join(timeout=DEADLINE_SECONDS)
        outputs = [process.communicate(timeout=DEADLINE_SECONDS)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert failures == []
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output.decode(errors="replace")


def _awards_in_race() -> int:
    return (PROCESSES + 1) * THREADS * AWARDS_PER_THREAD


def _entries(app: Flask) -> list[tuple[int, int]]:
    with _services(app).db.read() as session:
        return [
            (row.list_id, row.status_index)
            for row in session.execute(select(StatusEntry.list_id, StatusEntry.status_index))
        ]


def _lists(app: Flask) -> dict[int, bool]:
    """Every list's id and whether it is full."""
    return _lists_in(_services(app).db)


def _lists_in(db: Database) -> dict[int, bool]:
    with db.read() as session:
        return {row.id: row.full for row in session.execute(select(StatusList.id, StatusList.full))}


def _assert_one_open_list_holds(app: Flask, before: list[tuple[int, int]]) -> int:
    """The race's entries are distinct and all in the one open list; returns its id."""
    raced = [entry for entry in _entries(app) if entry not in set(before)]
    assert len(raced) == len(set(raced)) == _awards_in_race()
    lists = _lists(app)
    open_lists = [list_id for list_id, full in lists.items() if not full]
    assert len(open_lists) == 1, f"open lists {open_lists}; every list {sorted(lists)}"
    assert {list_id for list_id, _ in raced} == set(open_lists)
    return open_lists[0]


def _add_racer(app: Flask) -> None:
    _services(app).assessors.add(ASSESSOR, name="R", levels=[], all_levels=True, is_admin=False)


def test_a_fresh_database_opens_one_list(
    app: Flask, app_config: dict[str, Any], tmp_path: Path
) -> None:
    _add_racer(app)
    assert _lists(app) == {}

    _race(app, app_config, tmp_path / "race")

    _assert_one_open_list_holds(app, [])
    assert len(_lists(app)) == 1


def test_a_list_becoming_full_opens_one_list(
    app: Flask, app_config: dict[str, Any], tmp_path: Path
) -> None:
    # A list of 8 whose every entry is stored but which is not marked full yet: every
    # award of the race finds it without a free index, marks it full and opens the next.
    _add_racer(app)
    services = _services(app)
    assessor_id = services.assessors.by_email(ASSESSOR).id
    with services.db.write() as session:
        small = _empty_list(full=False)
        session.add(small)
        session.flush()
        for index in range(8):
            credential_id = str(uuid.uuid4())
            session.add(
                StatusEntry(credential_id=credential_id, list_id=small.id, status_index=index)
            )
            session.add(_stored_without_signing(credential_id, assessor_id))
    before = _entries(app)

    _race(app, app_config, tmp_path / "race")

    new_list = _assert_one_open_list_holds(app, before)
    assert _lists(app) == {small.id: True, new_list: False}


def test_lists_sealed_by_a_restore_are_followed_by_one_list(
    app: Flask, app_config: dict[str, Any], tmp_path: Path
) -> None:
    _add_racer(app)
    services = _services(app)
    principal = services.assessors.by_email(ASSESSOR)
    award = {"achievement": ACHIEVEMENT, "recipient": {"email": "before@example.org"}}
    services.issuance.award(principal, award)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["backup", str(tmp_path / "backup")]).exit_code == 0
    restored = runner.invoke(args=["restore", str(tmp_path / "backup")])
    assert restored.exit_code == 0, restored.output
    assert all(_lists(app).values()), "a restore seals every list"
    before = _entries(app)

    _race(app, app_config, tmp_path / "race")

    new_list = _assert_one_open_list_holds(app, before)
    assert new_list > max(list_id for list_id in _lists(app) if list_id != new_list)


@pytest.mark.parametrize("how", ["insert", "reopen"])
def test_the_database_refuses_a_second_open_list(app: Flask, how: str) -> None:
    services = _services(app)
    with services.db.write() as session:
        session.add_all([_empty_list(full=True), _empty_list(full=False)])
    with pytest.raises(IntegrityError), services.db.write() as session:
        if how == "insert":
            session.add(_empty_list(full=False))
        else:
            session.execute(update(StatusList).values(full=False))
    assert list(_lists(app).values()).count(False) == 1


def test_the_migration_keeps_the_oldest_of_several_open_lists(database_url: str) -> None:
    # A database from before the index, where concurrent awards opened lists side by side.
    db = Database(database_url)
    db.migrate()
    with db.engine.begin() as connection:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
    with db.write() as session:
        session.add_all([_empty_list(full=full) for full in (True, False, False, True, False)])
    db.migrate()
    with db.read() as session:
        lists = {
            row.id: row.full for row in session.execute(select(StatusList.id, StatusList.full))
        }
    db.dispose()
    assert lists == {1: True, 2: False, 3: True, 4: True, 5: True}


def _empty_list(*, full: bool) -> StatusList:
    return StatusList(
        purpose=status_list.PURPOSE_REVOCATION,
        size=8,
        bits=status_list.empty(8),
        version=1,
        full=full,
        created_at=datetime.now(UTC),
    )


def _stored_without_signing(credential_id: str, assessor_id: int) -> IssuedCredential:
    """A credential row standing for one issued earlier (the judges skip its empty JSON)."""
    return IssuedCredential(
        id=credential_id,
        achievement=ACHIEVEMENT,
        assessor_id=assessor_id,
        recipient_email="earlier@example.org",
        recipient_name="",
        issued_at=datetime.now(UTC),
        valid_until=None,
        credential_json="{}",
        jwt="",
        data_integrity_kid="",
        jwt_kid="",
    )


def _main(config_file: str, folder: str, number: str) -> None:
    """One other process of ``_race``: build the app, say ready, award when told to."""
    app = create_app(json.loads(Path(config_file).read_text()))
    services = _services(app)
    (Path(folder) / f"ready-{number}").touch()
    _wait_for((Path(folder) / "go").exists, "go")
    start_at = float((Path(folder) / "go").read_text())
    racers, failures = _in_background(services, start_at, f"process{number}")
    racers.join(timeout=DEADLINE_SECONDS)
    services.db.dispose()
    if failures:
        raise failures[0]


if __name__ == "__main__":
    _main(*sys.argv[1:])
