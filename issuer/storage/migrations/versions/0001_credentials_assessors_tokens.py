"""credentials, assessors, tokens

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("all_levels", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessors")),
        sa.UniqueConstraint("email", name=op.f("uq_assessors_email")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessor_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessor_id"], ["assessors.id"], name=op.f("fk_api_tokens_assessor_id_assessors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_tokens_token_sha256")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_tokens_assessor_id"), ["assessor_id"], unique=False
        )

    op.create_table(
        "assessor_levels",
        sa.Column("assessor_id", sa.Integer(), nullable=False),
        sa.Column("achievement", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessor_id"], ["assessors.id"], name=op.f("fk_assessor_levels_assessor_id_assessors")
        ),
        sa.PrimaryKeyConstraint("assessor_id", "achievement", name=op.f("pk_assessor_levels")),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("achievement", sa.String(length=200), nullable=False),
        sa.Column("assessor_id", sa.Integer(), nullable=False),
        sa.Column("recipient_email", sa.String(length=320), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("credential_json", sa.Text(), nullable=False),
        sa.Column("jwt", sa.Text(), nullable=False),
        sa.Column("data_integrity_kid", sa.String(length=500), nullable=False),
        sa.Column("jwt_kid", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessor_id"], ["assessors.id"], name=op.f("fk_credentials_assessor_id_assessors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credentials_achievement"), ["achievement"], unique=False
        )
        batch_op.create_index(
            "ix_credentials_achievement_recipient", ["achievement", "recipient_email"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_credentials_assessor_id"), ["assessor_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_credentials_issued_at"), ["issued_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_credentials_recipient_email"), ["recipient_email"], unique=False
        )

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessor_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessor_id"],
            ["assessors.id"],
            name=op.f("fk_idempotency_keys_assessor_id_assessors"),
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_idempotency_keys_credential_id_credentials"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("assessor_id", "key", name=op.f("uq_idempotency_keys_assessor_id")),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credentials_recipient_email"))
        batch_op.drop_index(batch_op.f("ix_credentials_issued_at"))
        batch_op.drop_index(batch_op.f("ix_credentials_assessor_id"))
        batch_op.drop_index("ix_credentials_achievement_recipient")
        batch_op.drop_index(batch_op.f("ix_credentials_achievement"))

    op.drop_table("credentials")
    op.drop_table("assessor_levels")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_assessor_id"))

    op.drop_table("api_tokens")
    op.drop_table("assessors")
