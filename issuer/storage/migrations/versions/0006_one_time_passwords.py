"""one-time passwords: an expiry and the must-change flag on assessors

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assessors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("one_time_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("assessors", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("one_time_until")
