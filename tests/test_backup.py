"""Backup and restore, as an operator runs them while awards and revocations go on: the
restored service never hands out a (list, index) that went out after the backup, and no
revocation published before the restore is undone."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from issuer import backup, status_list
from issuer.assessors import Principal
from issuer.errors import BackupError
from issuer.proofs import data_integrity
from issuer.services import Services
from issuer.storage.models import AuditEvent, IssuedCredential, Revocation, StatusList

pytestmark = pytest.mark.storage

ACHIEVEMENT = "computer-user-support-specialists/proficient"
# Small lists, so that reusing an index of the open list would show within 1,000 awards.
LIST_SIZE = 256


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "STATUS_LIST_SIZE": LIST_SIZE}


def _services(app: Flask) -> Services:
    services: Services = app.extensions["issuer"]
    return services


def _assessor(app: Flask) -> Principal:
    return (
        _services(app)
        .assessors.add("ops@example.org", name="Ops", levels=[], all_levels=True, is_admin=True)
        .principal
    )


def _award(app: Flask, principal: Principal, number: int) -> dict[str, Any]:
    issued = _services(app).award(
        principal,
        {"achievement": ACHIEVEMENT, "recipient": {"email": f"e{number}@example.org"}},
        actor="test",
        address=None,
        details={},
    )
    credential: dict[str, Any] = issued.credential
    return credential


def _revoke(app: Flask, credential_id: str) -> None:
    _services(app).revoke(credential_id, "test", by=None, actor="test", address=None, details={})


def _entry(credential: dict[str, Any]) -> tuple[int, int]:
    status = credential["credentialStatus"]
    return int(urlsplit(status["statusListCredential"]).path.rsplit("/", 1)[1]), int(
        status["statusListIndex"]
    )


def _target(app: Flask) -> backup.Target:
    services = _services(app)
    return backup.Target(
        keys_dir=services.keyring.keys_dir,
        templates_dir=services.templates_dir,
        issuer_id=services.issuer_profile.id,
        allow_unencrypted_keys=False,
    )


def _stored(app: Flask) -> dict[str, dict[str, Any]]:
    with _services(app).db.read() as session:
        rows = session.execute(select(IssuedCredential.id, IssuedCredential.credential_json)).all()
    return {row.id: json.loads(row.credential_json) for row in rows}


def _revoked_ids(app: Flask) -> set[str]:
    with _services(app).db.read() as session:
        return set(session.execute(select(Revocation.credential_id)).scalars())


def test_restore_under_load_reuses_no_index_and_undoes_no_revocation(
    app: Flask, tmp_path: Path
) -> None:
    services = _services(app)
    principal = _assessor(app)
    before = [_award(app, principal, number) for number in range(40)]
    for credential in before[:5]:
        _revoke(app, credential["id"].rsplit("/", 1)[-1])

    # Awards and revocations run in threads while the backup is taken.
    stop = threading.Event()
    during: list[dict[str, Any]] = []
    failures: list[BaseException] = []

    def keep_awarding() -> None:
        number = 1000
        while not stop.is_set():
            try:
                during.append(_award(app, principal, number))
            except BaseException as error:
                failures.append(error)
                return
            number += 1

    def keep_revoking() -> None:
        pool = [credential["id"].rsplit("/", 1)[-1] for credential in before[5:]]
        while not stop.is_set() and pool:
            try:
                _revoke(app, pool.pop())
            except BaseException as error:
                failures.append(error)
                return

    workers = [threading.Thread(target=keep_awarding), threading.Thread(target=keep_revoking)]
    for worker in workers:
        worker.start()
    try:
        while len(during) < 5:
            stop.wait(0.01)
        written = backup.take_backup(services.db, tmp_path / "backup", _target(app))
        while len(during) < 20:
            stop.wait(0.01)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert failures == []
    assert written.path == tmp_path / "backup"
    manifest = backup.read_manifest(written.path)
    assert manifest["counts"]["credentials"] >= 40
    assert set(manifest["files"]) >= {
        "keys/manifest.json",
        "templates/computer-user-support-specialists/proficient.json",
    }

    # After the backup: more awards (enough to open a second list), some revoked.
    after = [_award(app, principal, 5000 + number) for number in range(300)]
    for credential in random.sample(after, 30) + during[:3]:
        _revoke(app, credential["id"].rsplit("/", 1)[-1])
    everything = _stored(app)
    revoked_before_restore = _revoked_ids(app)
    lists_before_restore = _list_ids(app)
    assert len(lists_before_restore) >= 2

    result = app.test_cli_runner().invoke(args=["restore", str(written.path)])
    assert result.exit_code == 0, result.output
    assert "sealed status lists" in result.output and "may be missing" in result.output

    restored = _stored(app)
    issued_after_backup = {cid: c for cid, c in everything.items() if cid not in restored}
    assert len(issued_after_backup) >= len(after)
    taken = {_entry(credential) for credential in issued_after_backup.values()}

    # More than a list holds: the new awards fill a new list and open the one after it,
    # both after every sealed list.
    new_entries = [_entry(_award(app, principal, 9000 + number)) for number in range(300)]
    assert len(set(new_entries)) == 300
    assert taken.isdisjoint(new_entries)
    assert min(list_id for list_id, _ in new_entries) > max(lists_before_restore)

    # Every credential revoked before the restore reads as revoked in the signed list its
    # entry names, also those the restored database never heard of (the verifier's own
    # pipeline refuses these test-sized lists, so the list's proof is checked here).
    client = app.test_client()
    keys = services.keyring()
    published: dict[int, bytes] = {}
    for credential_id in sorted(revoked_before_restore):
        list_id, index = _entry(everything[credential_id])
        if list_id not in published:
            document = client.get(f"/status/{list_id}").json
            proof = data_integrity.read_proof(document)
            data_integrity.verify_proof(document, keys.find(proof["verificationMethod"]).public_key)
            published[list_id] = status_list.decode(document["credentialSubject"]["encodedList"])
        assert status_list.get_bit(published[list_id], index), credential_id
        if credential_id in restored:
            assert services.revocation.status_of(credential_id).revoked
    with services.db.read() as session:
        actions = list(session.execute(select(AuditEvent.action)).scalars())
    assert backup.RESTORE_COMPLETED in actions
    assert not backup.restore_pending(services.db)


def _list_ids(app: Flask) -> list[int]:
    with _services(app).db.read() as session:
        return list(session.execute(select(StatusList.id)).scalars())


def test_backup_refuses_to_overwrite_and_restore_refuses_a_damaged_backup(
    app: Flask, tmp_path: Path
) -> None:
    principal = _assessor(app)
    _award(app, principal, 1)
    services = _services(app)
    written = backup.take_backup(services.db, tmp_path / "b", _target(app))
    with pytest.raises(BackupError) as exists:
        backup.take_backup(services.db, tmp_path / "b", _target(app))
    assert exists.value.code == "backup_exists"

    database = next(written.path.glob("database.*"))
    damaged = bytearray(database.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    database.write_bytes(bytes(damaged))
    result = app.test_cli_runner().invoke(args=["restore", str(written.path)])
    assert result.exit_code == 1
    assert "backup_checksum_mismatch" in result.output


def _environment(app: Flask) -> dict[str, str]:
    config = app.config
    names = ("ENV", "BASE_URL", "DATABASE_URL", "KEYS_DIR", "KEY_PASSPHRASE", "SECRET_KEY")
    names += ("TEMPLATES_DIR", "OUTBOX_DIR", "STATUS_ARCHIVE_DIR")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ISSUER_")}
    environment.update({f"ISSUER_{name}": str(config[name]) for name in names})
    return environment


def _run_killed(app: Flask, arguments: list[str], after: float | None) -> int:
    """Run ``issuer ARGUMENTS`` in its own process; SIGKILL it ``after`` seconds."""
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", "from issuer.cli import main; main()", *arguments],
        env=_environment(app),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if after is None:
        return process.wait(timeout=300)
    try:
        return process.wait(timeout=after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        return process.wait(timeout=30)


def _state(app: Flask) -> tuple[int, int, bool]:
    """(credentials, open lists, restore pending) as a new process would see them."""
    services = _services(app)
    services.db.dispose()
    with services.db.read() as session:
        credentials = len(list(session.execute(select(IssuedCredential.id)).scalars()))
        open_lists = len(list(session.execute(select(StatusList.id).where(~StatusList.full))))
    return credentials, open_lists, backup.restore_pending(services.db)


def test_a_killed_backup_or_restore_leaves_nothing_half_done(app: Flask, tmp_path: Path) -> None:
    principal = _assessor(app)
    for number in range(10):
        _award(app, principal, number)
    good = tmp_path / "good"
    started = time.monotonic()
    assert _run_killed(app, ["backup", str(good)], None) == 0
    backup_seconds = time.monotonic() - started
    backup.read_manifest(good)
    for number in range(10, 15):
        _award(app, principal, number)  # the live database is now ahead of the backup
    assert _state(app) == (15, 1, False)

    for step, fraction in enumerate((0.3, 0.5, 0.65, 0.8, 0.9, 1.0)):
        dest = tmp_path / f"killed-{step}"
        _run_killed(app, ["backup", str(dest)], backup_seconds * fraction)
        # A folder with the name is a whole backup; a partial one keeps a hidden name.
        if dest.exists():
            backup.read_manifest(dest)

    started = time.monotonic()
    sealed_already = False
    for fraction in (0.3, 0.5, 0.65, 0.8, 0.9, 1.0, 1.1):
        _run_killed(app, ["restore", str(good)], (backup_seconds + 1) * fraction)
        credentials, open_lists, pending = _state(app)
        if pending:
            # PostgreSQL between its two transactions: nothing is served.
            response = app.test_client().get("/issuer")
            assert response.status_code == 503
            assert response.json["code"] == "restore_incomplete"
        elif (credentials, open_lists) == (10, 0):
            sealed_already = True  # restored completely
        else:
            assert not sealed_already
            assert (credentials, open_lists) == (15, 1)  # untouched
    assert _run_killed(app, ["restore", str(good)], None) == 0
    assert _state(app) == (10, 0, False)
    _services(app)._restore_seen_complete = False
    assert app.test_client().get("/issuer").status_code == 200
