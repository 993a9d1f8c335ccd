"""royalty (分账): bound receivers, each shared trade's state, settles and their parts

Revision ID: 0036_royalty
Revises: 0035_escrow_coupons
Create Date: 2026-11-26 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036_royalty"
down_revision = "0035_escrow_coupons"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "royalty_relations",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("receiver_type", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("memo", sa.String(length=256), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "receiver_type IN ('userId', 'loginName')",
            name=op.f("ck_royalty_relations_type_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_royalty_relations")),
        sa.UniqueConstraint("app_id", "user_id", name="uq_royalty_relations_app_user"),
    )
    op.create_table(
        "royalty_trades",
        sa.Column("trade_no", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("settled_fen", sa.BigInteger(), nullable=False),
        sa.Column("settles", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "settled_fen >= 0 AND settles >= 0", name=op.f("ck_royalty_trades_counts_positive")
        ),
        sa.CheckConstraint("finished IN (0, 1)", name=op.f("ck_royalty_trades_finished_flag")),
        sa.PrimaryKeyConstraint("trade_no", name=op.f("pk_royalty_trades")),
    )
    _create_settles()


def _create_settles() -> None:
    op.create_table(
        "royalty_settles",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("settle_no", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("trade_no", sa.String(length=32), nullable=False),
        sa.Column("out_request_no", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("finish", sa.Integer(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_royalty_settles_amount_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_royalty_settles")),
        sa.UniqueConstraint("settle_no", name=op.f("uq_royalty_settles_settle_no")),
        sa.UniqueConstraint("app_id", "out_request_no", name="uq_royalty_settles_app_request"),
    )
    op.create_index("ix_royalty_settles_trade", "royalty_settles", ["trade_no", "id"], unique=False)
    op.create_table(
        "royalty_settle_parts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("settle_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("trans_in_type", sa.String(length=16), nullable=False),
        sa.Column("trans_in", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=128), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_royalty_settle_parts_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_royalty_settle_parts")),
        sa.UniqueConstraint("settle_id", "seq", name="uq_royalty_settle_parts_settle_seq"),
    )


def downgrade() -> None:
    op.drop_table("royalty_settle_parts")
    op.drop_index("ix_royalty_settles_trade", table_name="royalty_settles")
    op.drop_table("royalty_settles")
    op.drop_table("royalty_trades")
    op.drop_table("royalty_relations")
