"""Migration 0009: on PostgreSQL the large text columns every award writes are compressed
with lz4 (pglz cost more CPU than the insert itself); on SQLite it changes nothing."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

from issuer.storage import MIGRATIONS_DIR, Database

pytestmark = pytest.mark.storage

COLUMNS = {
    ("credentials", "credential_json"),
    ("credentials", "jwt"),
    ("outgoing_mail", "message"),
    ("bulk_job_rows", "request_json"),
}


def _compression(db: Database) -> dict[tuple[str, str], str]:
    """Each large column's compression method (PostgreSQL's ``attcompression``: ``l`` lz4,
    ``p`` pglz, empty for the server's default); nothing on SQLite."""
    if db.is_sqlite:
        return {}
    with db.read() as session:
        rows = session.execute(
            text(
                "SELECT c.relname, a.attname, a.attcompression FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace AND a.attnum > 0"
            )
        )
        return {
            (table, column): method for table, column, method in rows if (table, column) in COLUMNS
        }


def _downgrade(db: Database, revision: str) -> None:
    with db.engine.begin() as connection:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_the_large_columns_are_compressed_with_lz4_and_back(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.migrate()
        upgraded = _compression(db)
        _downgrade(db, "0008")
        downgraded = _compression(db)
        db.migrate()
        current, head = db.schema_versions()
        assert current == head
    finally:
        db.dispose()
    if db.is_sqlite:
        assert upgraded == downgraded == {}
    else:
        assert upgraded == dict.fromkeys(COLUMNS, "l")
        assert downgraded == dict.fromkeys(COLUMNS, "p")
