"""one open status list at a time: a unique index on the lists that are not full

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Concurrent awards on PostgreSQL could open several lists side by side. All but the
    # oldest open list of each purpose (the one new awards drew from) are sealed, as a
    # restore seals lists: their entries stay valid, their free indexes are never handed out.
    op.execute(
        'UPDATE status_lists SET "full" = true WHERE NOT "full" AND id NOT IN '
        '(SELECT min(id) FROM status_lists WHERE NOT "full" GROUP BY purpose)'
    )
    op.create_index(
        "uq_status_lists_open",
        "status_lists",
        ["purpose"],
        unique=True,
        sqlite_where=sa.text('NOT "full"'),
        postgresql_where=sa.text('NOT "full"'),
    )


def downgrade() -> None:
    op.drop_index("uq_status_lists_open", table_name="status_lists")
