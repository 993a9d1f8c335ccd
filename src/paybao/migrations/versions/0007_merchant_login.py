"""merchant portal: merchant sign-in passwords; cashier payments funded by a bound card

Branches from 0003_gateway beside 0004-0006; `upgrade heads` applies all.

Revision ID: 0007_merchant_login
Revises: 0003_gateway
Create Date: 2026-11-26 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_merchant_login"
down_revision = "0003_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merchant_logins",
        sa.Column("merchant_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until_us", sa.BigInteger(), nullable=True),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_merchant_logins")),
    )
    op.create_table(
        "card_payments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("trade_no", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("card_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="processing", nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("finished_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_payments")),
    )
    op.create_index("ix_card_payments_trade_no", "card_payments", ["trade_no"], unique=False)
    op.create_index(
        "uq_card_payments_trade_processing",
        "card_payments",
        ["trade_no"],
        unique=True,
        sqlite_where=sa.text("status = 'processing'"),
        postgresql_where=sa.text("status = 'processing'"),
    )


def downgrade() -> None:
    op.drop_index("uq_card_payments_trade_processing", table_name="card_payments")
    op.drop_index("ix_card_payments_trade_no", table_name="card_payments")
    op.drop_table("card_payments")
    op.drop_table("merchant_logins")
