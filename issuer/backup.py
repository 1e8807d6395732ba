"""Backup and restore that lose no revocation and never hand out a status index twice.

``take_backup`` writes one folder while the service runs::

    DEST/
      database.sqlite3 | database.pgdump    a consistent snapshot (see below)
      keys/                                 the key set, private keys still encrypted
      templates/                            the badge templates
      manifest.json                         time, schema version, counts, SHA-256 of each file

SQLite is copied with its online backup API (a read snapshot; writers go on). PostgreSQL is
dumped by ``pg_dump`` inside a snapshot that the counts are read from too
(``pg_export_snapshot``), so the manifest describes exactly what was dumped. The folder is
written under a temporary name and renamed when complete: a folder named DEST is whole.

``restore_backup`` checks the manifest and every checksum, then makes the restored service
safe by construction, whatever happened after the backup:

- indexes are drawn at random, so the restored database cannot know which ones of its open
  lists went out after the backup: every list is sealed (marked ``full``), lists opened
  after the backup are recreated from the status archive, and new lists start well past
  any id that may have been used (``LIST_ID_GAP``);
- revocation is permanent: every signed list version in the status archive
  (``issuer.status_archive``) is ORed back in, and the restored credentials whose bit is set
  get their revocation record back.

SQLite is restored into a staging copy that is finished there and then copied over the live
file with the backup API, in one transaction: a crash leaves the old database or the new
one. PostgreSQL is loaded by ``psql`` in one transaction that also seals every list and
records ``restore.started`` in the audit log; the rest is a second transaction recording
``restore.completed``. Between the two (a crash), ``restore_pending`` is true and the web
answers ``503 restore_incomplete`` until the restore is run again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import Connection, create_engine, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from issuer import keyring, status_list
from issuer.audit import AuditLog
from issuer.errors import BackupError
from issuer.status_archive import StatusArchive, bits_or
from issuer.storage import Database
from issuer.storage.models import (
    AuditEvent,
    IssuedCredential,
    Revocation,
    StatusEntry,
    StatusList,
)

log = logging.getLogger("issuer.backup")

FORMAT = 1
MANIFEST_NAME = "manifest.json"
SQLITE_FILE = "database.sqlite3"
POSTGRESQL_FILE = "database.pgdump"
KEYS_FOLDER = "keys"
TEMPLATES_FOLDER = "templates"
# Lists opened after a backup are unknown to it; new lists start this many ids past every id
# the restored database or the archive knows. 1,000 lists of 131,072 entries are more awards
# than any backup interval sees.
LIST_ID_GAP = 1000
RESTORE_ACTOR = "restore"
RESTORE_STARTED = "restore.started"
RESTORE_COMPLETED = "restore.completed"
_TOOL_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True)
class BackupReport:
    path: Path
    created_at: datetime
    schema_version: str
    counts: dict[str, int]
    files: dict[str, str]
    unencrypted_keys: bool = False


@dataclass(frozen=True)
class RestoreReport:
    backup_created_at: datetime
    schema_version: str
    counts: dict[str, int]
    sealed_lists: list[int]
    lists_from_archive: list[int]
    bits_from_archive: int
    revocations_from_archive: int
    refused_archive_files: list[str]
    new_lists_from: int
    keys: str
    templates: str
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """What a backup reads and a restore writes, besides the database."""

    keys_dir: Path
    templates_dir: Path
    issuer_id: str
    allow_unencrypted_keys: bool


def take_backup(
    db: Database,
    dest: Path,
    target: Target,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BackupReport:
    """Write a complete backup folder at ``dest``, which must not exist.

    Raises BackupError ``backup_exists``, ``backup_destination_invalid``,
    ``backup_tool_failed``; KeyringError as ``keyring.export_files``.
    """
    dest = dest.absolute()
    if dest.exists():
        raise BackupError("backup_exists", f"{dest} exists; a backup never overwrites.")
    if not dest.parent.is_dir():
        raise BackupError("backup_destination_invalid", f"{dest.parent} is not a folder.")
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        created_at = now()
        if db.is_sqlite:
            schema_version, counts = _sqlite_snapshot(db, staging / SQLITE_FILE)
        else:
            schema_version, counts = _postgresql_snapshot(db, staging / POSTGRESQL_FILE)
        _, unencrypted = keyring.export_files(
            target.keys_dir,
            staging / KEYS_FOLDER,
            allow_unencrypted=target.allow_unencrypted_keys,
        )
        if target.templates_dir.is_dir():
            shutil.copytree(target.templates_dir, staging / TEMPLATES_FOLDER)
        files = _checksums(staging)
        manifest = {
            "format": FORMAT,
            "createdAt": _format_time(created_at),
            "schemaVersion": schema_version,
            "backend": "sqlite" if db.is_sqlite else "postgresql",
            "issuer": target.issuer_id,
            "counts": counts,
            "files": files,
        }
        _write_synced(staging / MANIFEST_NAME, json.dumps(manifest, indent=2).encode() + b"\n")
        os.rename(staging, dest)
        _fsync_directory(dest.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BackupReport(
        dest,
        created_at,
        schema_version,
        counts,
        files,
        unencrypted_keys=unencrypted,
    )


def read_manifest(src: Path) -> dict[str, Any]:
    """The manifest of backup folder ``src``, once every file it lists has its checksum.

    Raises BackupError ``backup_manifest_invalid``, ``backup_incomplete`` (a file is
    missing) and ``backup_checksum_mismatch``.
    """
    try:
        manifest = json.loads((src / MANIFEST_NAME).read_text("utf-8"))
        files = manifest["files"]
        if manifest["format"] != FORMAT or not isinstance(files, dict):
            raise ValueError("unknown format")
        _parse_time(manifest["createdAt"])
        if manifest["backend"] not in ("sqlite", "postgresql"):
            raise ValueError("unknown backend")
    except (OSError, ValueError, KeyError, TypeError):
        raise BackupError(
            "backup_manifest_invalid", f"{src / MANIFEST_NAME} is missing or not a manifest."
        ) from None
    for name, digest in files.items():
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts or not isinstance(digest, str):
            raise BackupError("backup_manifest_invalid", f"The manifest names {name!r}.")
        path = src / relative
        if not path.is_file():
            raise BackupError("backup_incomplete", f"{path} is missing from the backup.")
        if _sha256(path) != digest:
            raise BackupError(
                "backup_checksum_mismatch", f"{path} does not match its checksum: damaged."
            )
    database_file = SQLITE_FILE if manifest["backend"] == "sqlite" else POSTGRESQL_FILE
    if database_file not in files or f"{KEYS_FOLDER}/{keyring.MANIFEST_NAME}" not in files:
        raise BackupError("backup_incomplete", f"{src} holds no database or no keys.")
    return dict(manifest)


def restore_backup(
    db: Database,
    src: Path,
    target: Target,
    archives: list[StatusArchive],
    *,
    load_keyring: Callable[[], keyring.Keyring],
    list_url: Callable[[int], str],
    list_size: int,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RestoreReport:
    """Restore backup folder ``src`` into ``db``, the keys directory and the templates.

    Every worker must be stopped. Raises BackupError as ``read_manifest``, with
    ``backup_backend_mismatch``, ``restore_keys_differ`` and ``backup_tool_failed``.
    """
    manifest = read_manifest(src)
    backend = "sqlite" if db.is_sqlite else "postgresql"
    if manifest["backend"] != backend:
        raise BackupError(
            "backup_backend_mismatch",
            f"The backup is of {manifest['backend']}; this service uses {backend}.",
        )
    keys_outcome = _restore_keys(src / KEYS_FOLDER, target.keys_dir)
    templates_outcome = _restore_templates(src / TEMPLATES_FOLDER, target.templates_dir)
    reading = _read_archives(archives, load_keyring(), list_url)
    finish = _Finish(
        manifest, reading, list_size=list_size, now=now(), backup_name=str(src.absolute())
    )
    db.dispose()
    if db.is_sqlite:
        _restore_sqlite(db, src / SQLITE_FILE, finish)
    else:
        _restore_postgresql(db, src / POSTGRESQL_FILE, finish)
    db.dispose()
    return finish.report(keys_outcome, templates_outcome)


def credentials_exist(db: Database) -> bool:
    """Whether the database holds any issued credential."""
    with db.read() as session:
        return session.execute(select(IssuedCredential.id).limit(1)).first() is not None


def restore_pending(db: Database) -> bool:
    """Whether a restore started and did not complete (PostgreSQL, after a crash)."""
    with db.read() as session:
        last = session.execute(
            select(AuditEvent.action)
            .where(AuditEvent.action.in_((RESTORE_STARTED, RESTORE_COMPLETED)))
            .order_by(AuditEvent.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    return last == RESTORE_STARTED


def _sqlite_snapshot(db: Database, copy: Path) -> tuple[str, dict[str, int]]:
    source_path = _sqlite_path(db)
    with (
        closing(sqlite3.connect(source_path, timeout=30)) as source,
        closing(sqlite3.connect(copy)) as destination,
    ):
        source.backup(destination)
        # One self-contained file: no WAL beside it.
        destination.execute("PRAGMA journal_mode=DELETE")
    engine = create_engine(f"sqlite:///{copy}")
    try:
        with engine.connect() as connection:
            return _schema_version(connection), _counts(connection)
    finally:
        engine.dispose()


def _postgresql_snapshot(db: Database, dump: Path) -> tuple[str, dict[str, int]]:
    """pg_dump inside the snapshot the counts are read from."""
    with db.engine.connect() as plain:
        connection = plain.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            version = _schema_version(connection)
            counts = _counts(connection)
            url, environment = _libpq(db)
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--schema={schema}",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={dump}",
                    f"--dbname={url}",
                ],
                environment,
            )
    return version, counts


def _schema_version(connection: Connection) -> str:
    return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def _counts(connection: Connection) -> dict[str, int]:
    def count(model: Any, *where: Any) -> int:
        return int(
            connection.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
        )

    return {
        "credentials": count(IssuedCredential),
        "revocations": count(Revocation),
        "statusLists": count(StatusList),
        "openStatusLists": count(StatusList, ~StatusList.full),
        "statusEntries": count(StatusEntry),
        "auditEvents": count(AuditEvent),
    }


@dataclass
class _Finish:
    """The work that makes a restored database safe; the same on both backends."""

    manifest: dict[str, Any]
    reading: Any
    list_size: int
    now: datetime
    backup_name: str
    sealed: list[int] = field(default_factory=list)
    recreated: list[int] = field(default_factory=list)
    bits_added: int = 0
    revocations_added: int = 0
    new_lists_from: int = 0

    def apply(self, db: Database, session: Session, *, postgresql: bool) -> None:
        self.sealed = list(
            session.execute(
                select(StatusList.id).where(~StatusList.full).order_by(StatusList.id)
            ).scalars()
        )
        session.execute(update(StatusList).values(full=True))
        for archived in self.reading.lists.values():
            self._merge(session, archived)
        top = max(
            [archived for archived in self.reading.lists]
            + [session.execute(select(func.coalesce(func.max(StatusList.id), 0))).scalar_one()]
        )
        reserved = top + LIST_ID_GAP
        # A sealed, empty list holds the gap's last id, so the next list opened is past it
        # on SQLite (rowids follow the largest) as on PostgreSQL (its sequence is moved).
        session.add(self._sealed_list(reserved, status_list.empty(self.list_size)))
        session.flush()
        if postgresql:
            session.execute(
                text("SELECT setval(pg_get_serial_sequence('status_lists', 'id'), :value)"),
                {"value": reserved},
            )
        self.new_lists_from = reserved + 1
        AuditLog(db, clock=lambda: self.now).record(
            RESTORE_ACTOR,
            RESTORE_COMPLETED,
            self.backup_name,
            address=None,
            details={
                "backupCreatedAt": self.manifest["createdAt"],
                "schemaVersion": self.manifest["schemaVersion"],
                "sealedLists": self.sealed,
                "listsFromArchive": self.recreated,
                "revocationsFromArchive": self.revocations_added,
                "newListsFrom": self.new_lists_from,
            },
            session=session,
        )

    def _merge(self, session: Session, archived: Any) -> None:
        row = session.get(StatusList, archived.list_id)
        if row is None:
            session.add(self._sealed_list(archived.list_id, archived.bits))
            self.recreated.append(archived.list_id)
            self.bits_added += len(status_list.set_indexes(archived.bits))
            return
        if len(row.bits) != len(archived.bits):
            log.warning("Archived list %d has another size; not merged", archived.list_id)
            return
        merged = bits_or(row.bits, archived.bits)
        if merged != row.bits:
            self.bits_added += len(status_list.set_indexes(merged)) - len(
                status_list.set_indexes(row.bits)
            )
            row.bits = merged
            row.version += 1
        revoked = set(status_list.set_indexes(merged))
        entries = session.execute(
            select(StatusEntry.credential_id, StatusEntry.status_index)
            .outerjoin(Revocation, Revocation.credential_id == StatusEntry.credential_id)
            .where(StatusEntry.list_id == archived.list_id, Revocation.credential_id.is_(None))
        ).all()
        for credential_id, index in entries:
            if index in revoked:
                session.add(
                    Revocation(
                        credential_id=credential_id,
                        list_id=archived.list_id,
                        status_index=index,
                        revoked_at=archived.last_signed_at,
                        actor=RESTORE_ACTOR,
                        reason="Revoked before the restore (a published status list said so).",
                    )
                )
                self.revocations_added += 1

    def _sealed_list(self, list_id: int, bits: bytes) -> StatusList:
        return StatusList(
            id=list_id,
            purpose=status_list.PURPOSE_REVOCATION,
            size=len(bits) * 8,
            bits=bits,
            version=1,
            full=True,
            created_at=self.now,
        )

    def report(self, keys: str, templates: str) -> RestoreReport:
        created_at = _parse_time(self.manifest["createdAt"])
        notes = [
            f"Not in this backup: whatever happened after {self.manifest['createdAt']} "
            "(credentials issued, revocations never published, accounts, tokens, audit "
            "events, outgoing mail). Credentials issued then keep verifying; their lists "
            "are sealed, so their indexes are never handed out again.",
        ]
        if self.reading.refused:
            notes.append(
                f"{len(self.reading.refused)} archived status list file(s) did not verify "
                "and were not used: " + ", ".join(self.reading.refused[:5])
            )
        return RestoreReport(
            backup_created_at=created_at,
            schema_version=self.manifest["schemaVersion"],
            counts=dict(self.manifest["counts"]),
            sealed_lists=self.sealed,
            lists_from_archive=self.recreated,
            bits_from_archive=self.bits_added,
            revocations_from_archive=self.revocations_added,
            refused_archive_files=list(self.reading.refused),
            new_lists_from=self.new_lists_from,
            keys=keys,
            templates=templates,
            notes=notes,
        )


def _restore_sqlite(db: Database, backup_file: Path, finish: _Finish) -> None:
    live = Path(_sqlite_path(db))
    staging = live.with_name(f".{live.name}.restore-{secrets.token_hex(6)}")
    try:
        shutil.copyfile(backup_file, staging)
        staged = Database(f"sqlite:///{staging}")
        try:
            staged.migrate()
            with staged.write() as session:
                finish.apply(staged, session, postgresql=False)
        finally:
            staged.dispose()
        with (
            closing(sqlite3.connect(staging)) as source,
            closing(sqlite3.connect(live, timeout=30)) as destination,
        ):
            # One write transaction on the live file: other connections see the old
            # database or the restored one, and a crash rolls back to the old one.
            source.backup(destination)
    finally:
        for leftover in (staging, Path(f"{staging}-wal"), Path(f"{staging}-shm")):
            leftover.unlink(missing_ok=True)


def _restore_postgresql(db: Database, dump: Path, finish: _Finish) -> None:
    url, environment = _libpq(db)
    with tempfile.TemporaryDirectory(prefix="issuer-restore-") as work:
        listing = _run(["pg_restore", "--list", str(dump)], environment)
        # The schema itself stays: only what is in it is dropped and loaded again.
        kept = [line for line in listing.splitlines() if " SCHEMA - " not in line]
        (Path(work) / "toc").write_text("\n".join(kept) + "\n")
        script = Path(work) / "restore.sql"
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                f"--use-list={Path(work) / 'toc'}",
                f"--file={script}",
                str(dump),
            ],
            environment,
        )
        started = Path(work) / "started.sql"
        details = json.dumps({"backupCreatedAt": finish.manifest["createdAt"]})
        started.write_text(
            "RESET search_path;\n"
            'UPDATE status_lists SET "full" = true;\n'
            "INSERT INTO audit_events (at, actor, action, subject, address, details) VALUES "
            f"(now(), '{RESTORE_ACTOR}', '{RESTORE_STARTED}', {_sql_text(finish.backup_name)}, "
            f"'', {_sql_text(details)});\n"
        )
        _run(
            [
                "psql",
                "--no-psqlrc",
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                "--single-transaction",
                f"--file={script}",
                f"--file={started}",
                f"--dbname={url}",
            ],
            environment,
        )
    db.dispose()
    db.migrate()
    with db.write() as session:
        finish.apply(db, session, postgresql=True)


def _restore_keys(backup_keys: Path, keys_dir: Path) -> str:
    present = keyring.key_names(keys_dir)
    wanted = keyring.key_names(backup_keys) or set()
    if present is None:
        keyring.import_files(backup_keys, keys_dir)
        return f"restored {len(wanted)} keys into {keys_dir}"
    if wanted <= present:
        return f"kept the keys in {keys_dir} (they hold every key of the backup)"
    raise BackupError(
        "restore_keys_differ",
        f"{keys_dir} holds other keys than the backup ({', '.join(sorted(wanted - present))} "
        "missing); move that folder aside to restore the backup's keys.",
    )


def _restore_templates(backup_templates: Path, templates_dir: Path) -> str:
    if not backup_templates.is_dir():
        return "the backup holds no templates"
    if templates_dir.is_dir() and any(templates_dir.iterdir()):
        return f"kept the templates in {templates_dir}"
    shutil.copytree(backup_templates, templates_dir, dirs_exist_ok=True)
    return f"restored the templates into {templates_dir}"


def _read_archives(
    archives: list[StatusArchive], keys: keyring.Keyring, list_url: Callable[[int], str]
) -> Any:
    from issuer.status_archive import ArchiveReading

    lists: dict[int, Any] = {}
    refused: list[str] = []
    for archive in archives:
        reading = archive.union(keys.find, list_url)
        refused.extend(reading.refused)
        for list_id, archived in reading.lists.items():
            earlier = lists.get(list_id)
            if earlier is None or len(earlier.bits) != len(archived.bits):
                lists[list_id] = archived if earlier is None else earlier
                continue
            lists[list_id] = type(archived)(
                list_id,
                bits_or(earlier.bits, archived.bits),
                earlier.versions + archived.versions,
                max(earlier.last_signed_at, archived.last_signed_at),
            )
    return ArchiveReading(lists, refused)


def _libpq(db: Database) -> tuple[str, dict[str, str]]:
    """A libpq URI for the PostgreSQL tools (without the password, which goes in the
    environment, out of the process list)."""
    url = make_url(db.url)
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    user = f"{quote(url.username, safe='')}@" if url.username else ""
    host = quote(url.host or "", safe="")
    port = f":{url.port}" if url.port else ""
    query = f"?{urlencode(dict(url.query), doseq=True)}" if url.query else ""
    return f"postgresql://{user}{host}{port}/{quote(url.database or '')}{query}", environment


def _run(arguments: list[str], environment: dict[str, str]) -> str:
    try:
        done = subprocess.run(  # noqa: S603  (fixed tool names, arguments we built)
            arguments,
            env=environment,
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BackupError("backup_tool_failed", f"{arguments[0]} could not run: {error}") from None
    if done.returncode != 0:
        raise BackupError(
            "backup_tool_failed", f"{arguments[0]} failed: {done.stderr.strip()[-2000:]}"
        )
    return done.stdout


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sqlite_path(db: Database) -> str:
    path = make_url(db.url).database
    if not path or path == ":memory:":
        raise BackupError("backup_destination_invalid", "An in-memory database has no backup.")
    return path


def _checksums(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): _sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("xb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


__all__ = [
    "BackupReport",
    "RestoreReport",
    "Target",
    "read_manifest",
    "restore_backup",
    "restore_pending",
    "take_backup",
]
