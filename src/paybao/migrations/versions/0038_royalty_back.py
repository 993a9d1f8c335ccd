"""royalty_backs (退分账): what receivers gave back of their shares in refunds

Revision ID: 0038_royalty_back
Revises: 0037_trade_finish_index
Create Date: 2026-11-26 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0038_royalty_back"
down_revision = "0037_trade_finish_index"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "royalty_backs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("refund_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("trade_no", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("trans_out_type", sa.String(length=16), nullable=False),
        sa.Column("trans_out", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=128), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_royalty_backs_amount_positive")),
        sa.CheckConstraint(
            "trans_out_type IN ('userId', 'loginName')", name=op.f("ck_royalty_backs_type_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_royalty_backs")),
        sa.UniqueConstraint("refund_id", "seq", name="uq_royalty_backs_refund_seq"),
    )
    op.create_index(
        "ix_royalty_backs_trade_user", "royalty_backs", ["trade_no", "user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_royalty_backs_trade_user", table_name="royalty_backs")
    op.drop_table("royalty_backs")
