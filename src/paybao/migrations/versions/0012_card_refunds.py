"""acquiring: refunds of card-funded trades go back to the card (card_refunds)

Follows 0011_trade_funding; `upgrade heads` applies all.

Revision ID: 0012_card_refunds
Revises: 0011_trade_funding
Create Date: 2026-11-28 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_card_refunds"
down_revision = "0011_trade_funding"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_refunds",
        sa.Column("refund_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("trade_no", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("card_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="processing", nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("finished_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("refund_id", name=op.f("pk_card_refunds")),
    )
    op.create_index("ix_card_refunds_trade_no", "card_refunds", ["trade_no"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_card_refunds_trade_no", table_name="card_refunds")
    op.drop_table("card_refunds")
