"""plate-bound parking: lots, plates bound to accounts, parking orders

Revision ID: 0029_parking
Revises: 0028_transit
Create Date: 2026-11-26 11:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_parking"
down_revision = "0028_transit"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "parking_lots",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("parking_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("out_parking_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_lots")),
        sa.UniqueConstraint("parking_id", name=op.f("uq_parking_lots_parking_id")),
        sa.UniqueConstraint("merchant_id", "out_parking_id", name="uq_parking_lots_out_id"),
    )
    op.create_table(
        "parking_plates",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("plate", sa.String(length=8), nullable=False),
        sa.Column("single_cap_fen", sa.BigInteger(), nullable=False),
        sa.Column("agreement_no", sa.String(length=32), nullable=True),
        sa.Column("bound_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("single_cap_fen > 0", name=op.f("ck_parking_plates_cap_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_plates")),
        sa.UniqueConstraint("user_id", name=op.f("uq_parking_plates_user_id")),
        sa.UniqueConstraint("plate", name=op.f("uq_parking_plates_plate")),
    )
    _create_orders()


def _create_orders() -> None:
    op.create_table(
        "parking_orders",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("serial_no", sa.String(length=32), nullable=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("plate", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("out_serial_no", sa.String(length=64), nullable=False),
        sa.Column("in_at_us", sa.BigInteger(), nullable=False),
        sa.Column("out_at_us", sa.BigInteger(), nullable=True),
        sa.Column("pay_status", sa.String(length=12), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("trade_no", sa.String(length=32), nullable=True),
        sa.Column("out_trade_no", sa.String(length=64), nullable=True),
        sa.Column("out_order_no", sa.String(length=64), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("paid_at_us", sa.BigInteger(), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "pay_status IN ('UNPAID', 'PAID', 'REFUSED', 'PAID_OTHER')",
            name=op.f("ck_parking_orders_pay_status_known"),
        ),
        sa.CheckConstraint(
            "amount_fen IS NULL OR amount_fen >= 0",
            name=op.f("ck_parking_orders_amount_not_negative"),
        ),
        sa.CheckConstraint(
            "pay_status <> 'PAID' OR trade_no IS NOT NULL",
            name=op.f("ck_parking_orders_paid_has_trade"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_orders")),
        sa.UniqueConstraint("serial_no", name=op.f("uq_parking_orders_serial_no")),
        sa.UniqueConstraint("trade_no", name=op.f("uq_parking_orders_trade_no")),
        sa.UniqueConstraint("lot_id", "out_serial_no", name="uq_parking_orders_out_serial"),
        sa.UniqueConstraint("lot_id", "out_order_no", name="uq_parking_orders_out_order"),
    )
    op.create_index("ix_parking_orders_user", "parking_orders", ["user_id", "id"], unique=False)
    op.create_index(
        "ix_parking_orders_plate", "parking_orders", ["lot_id", "plate", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_parking_orders_plate", table_name="parking_orders")
    op.drop_index("ix_parking_orders_user", table_name="parking_orders")
    op.drop_table("parking_orders")
    op.drop_table("parking_plates")
    op.drop_table("parking_lots")
