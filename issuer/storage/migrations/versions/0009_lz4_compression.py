"""PostgreSQL: the large text columns are compressed with lz4 where the server has it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The columns of a few to some tens of kilobytes that every award writes. PostgreSQL's
# default (pglz) spent more CPU compressing a credential than storing it; lz4 costs a
# fifth. Values written before keep their compression and read as they did.
_COLUMNS = {
    "credentials": ("credential_json", "jwt"),
    "outgoing_mail": ("message",),
    "bulk_job_rows": ("request_json",),
}


def _set_compression(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.exec_driver_sql(
        "SELECT %(method)s = ANY(enumvals) FROM pg_settings "
        "WHERE name = 'default_toast_compression'",
        {"method": method},
    ).scalar()
    if not available:
        return  # before PostgreSQL 14, or built without lz4: the default stays
    for table, columns in _COLUMNS.items():
        changes = ", ".join(f"ALTER COLUMN {column} SET COMPRESSION {method}" for column in columns)
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade() -> None:
    _set_compression("lz4")


def downgrade() -> None:
    _set_compression("pglz")
