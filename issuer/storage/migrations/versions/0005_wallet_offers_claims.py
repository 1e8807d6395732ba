"""wallet offers, nonces and holder-bound claims

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_offers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("credential_id", sa.String(length=36), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("locator_sha256", sa.String(length=64), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("tx_code_sha256", sa.String(length=64), nullable=True),
        sa.Column("tx_code_failures", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("access_token_sha256", sa.String(length=64), nullable=True),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_wallet_offers_credential_id_credentials"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_offers")),
        sa.UniqueConstraint("locator_sha256", name=op.f("uq_wallet_offers_locator_sha256")),
        sa.UniqueConstraint("secret_sha256", name=op.f("uq_wallet_offers_secret_sha256")),
        sa.UniqueConstraint(
            "access_token_sha256", name=op.f("uq_wallet_offers_access_token_sha256")
        ),
    )
    with op.batch_alter_table("wallet_offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wallet_offers_credential_id"), ["credential_id"])
        batch_op.create_index(batch_op.f("ix_wallet_offers_expires_at"), ["expires_at"])

    op.create_table(
        "wallet_nonces",
        sa.Column("nonce_sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("nonce_sha256", name=op.f("pk_wallet_nonces")),
    )
    with op.batch_alter_table("wallet_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wallet_nonces_expires_at"), ["expires_at"])

    op.create_table(
        "wallet_claims",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("credential_id", sa.String(length=36), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("holder_sha256", sa.String(length=64), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credential_json", sa.Text(), nullable=False),
        sa.Column("jwt", sa.Text(), nullable=False),
        sa.Column("data_integrity_kid", sa.String(length=500), nullable=False),
        sa.Column("jwt_kid", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_wallet_claims_credential_id_credentials"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_claims")),
        sa.UniqueConstraint(
            "credential_id", "holder_sha256", name=op.f("uq_wallet_claims_credential_id")
        ),
    )
    with op.batch_alter_table("wallet_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wallet_claims_credential_id"), ["credential_id"])


def downgrade() -> None:
    with op.batch_alter_table("wallet_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallet_claims_credential_id"))
    op.drop_table("wallet_claims")
    with op.batch_alter_table("wallet_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallet_nonces_expires_at"))
    op.drop_table("wallet_nonces")
    with op.batch_alter_table("wallet_offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallet_offers_expires_at"))
        batch_op.drop_index(batch_op.f("ix_wallet_offers_credential_id"))
    op.drop_table("wallet_offers")
