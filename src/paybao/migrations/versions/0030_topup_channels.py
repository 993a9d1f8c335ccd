"""cash top-up codes and online-banking top-ups

`bank_pay_topups` holds one row per online-banking top-up (pending until the bank confirms,
fails or it expires) and `bank_pay_notices` every bank notice accepted (replays are found by
its unique notify id); `bank_pay_orders` is the sandbox bank's own record of those orders.
`cash_topup_partners` are the registered cash partners (API key as SHA-256, prefund account),
`cash_topup_deposits` their recorded prefund wires (unique per reference), and
`cash_topup_codes` the users' 18-digit codes with the redeeming partner's request number
(unique per partner).

Revision ID: 0030_topup_channels
Revises: 0029_parking
Create Date: 2026-11-26 11:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_topup_channels"
down_revision = "0029_parking"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _bank_pay()
    _cash()


def _bank_pay() -> None:
    op.create_table(
        "bank_pay_topups",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("bank_code", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("confirmed_by", sa.String(length=8), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("finished_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_bank_pay_topups_amount_positive")),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'expired')",
            name=op.f("ck_bank_pay_topups_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_pay_topups")),
    )
    op.create_index("ix_bank_pay_topups_user", "bank_pay_topups", ["user_id", "id"])
    op.create_index("ix_bank_pay_topups_status", "bank_pay_topups", ["status", "expires_at_us"])
    op.create_table(
        "bank_pay_notices",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("notify_id", sa.String(length=64), nullable=False),
        sa.Column("topup_id", sa.BigInteger(), nullable=False),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_pay_notices")),
        sa.UniqueConstraint("notify_id", name=op.f("uq_bank_pay_notices_notify_id")),
    )
    op.create_table(
        "bank_pay_orders",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("bank_code", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("return_url", sa.String(length=512), nullable=False),
        sa.Column("notify_url", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("card_number", sa.String(length=19), nullable=True),
        sa.Column("ordered_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("paid_at_us", sa.BigInteger(), nullable=True),
        sa.Column("notify_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_bank_pay_orders_amount_positive")),
        sa.CheckConstraint(
            "status IN ('awaiting', 'paid', 'failed', 'closed')",
            name=op.f("ck_bank_pay_orders_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_pay_orders")),
        sa.UniqueConstraint("order_no", name=op.f("uq_bank_pay_orders_order_no")),
    )
    op.create_index("ix_bank_pay_orders_ordered", "bank_pay_orders", ["ordered_at_us"])


def _cash() -> None:
    op.create_table(
        "cash_topup_partners",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("prefund_account_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'disabled')", name=op.f("ck_cash_topup_partners_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_topup_partners")),
        sa.UniqueConstraint("name", name=op.f("uq_cash_topup_partners_name")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_cash_topup_partners_key_sha256")),
    )
    op.create_table(
        "cash_topup_deposits",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_cash_topup_deposits_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_topup_deposits")),
        sa.UniqueConstraint(
            "partner_id", "reference", name="uq_cash_topup_deposits_partner_id_reference"
        ),
    )
    op.create_table(
        "cash_topup_codes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=18), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=True),
        sa.Column("partner_request_no", sa.String(length=64), nullable=True),
        sa.Column("redeemed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("reversed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("finished_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_cash_topup_codes_amount_positive")),
        sa.CheckConstraint(
            "status IN ('open', 'redeemed', 'reversed', 'expired', 'cancelled')",
            name=op.f("ck_cash_topup_codes_status_known"),
        ),
        sa.CheckConstraint(
            "(status IN ('redeemed', 'reversed')) = (partner_id IS NOT NULL)",
            name=op.f("ck_cash_topup_codes_redeemer_set"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_topup_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_cash_topup_codes_code")),
        sa.UniqueConstraint(
            "partner_id", "partner_request_no", name="uq_cash_topup_codes_partner_id_request_no"
        ),
    )
    op.create_index("ix_cash_topup_codes_user", "cash_topup_codes", ["user_id", "id"])
    op.create_index("ix_cash_topup_codes_status", "cash_topup_codes", ["status", "expires_at_us"])


def downgrade() -> None:
    op.drop_index("ix_cash_topup_codes_status", table_name="cash_topup_codes")
    op.drop_index("ix_cash_topup_codes_user", table_name="cash_topup_codes")
    op.drop_table("cash_topup_codes")
    op.drop_table("cash_topup_deposits")
    op.drop_table("cash_topup_partners")
    op.drop_index("ix_bank_pay_orders_ordered", table_name="bank_pay_orders")
    op.drop_table("bank_pay_orders")
    op.drop_table("bank_pay_notices")
    op.drop_index("ix_bank_pay_topups_status", table_name="bank_pay_topups")
    op.drop_index("ix_bank_pay_topups_user", table_name="bank_pay_topups")
    op.drop_table("bank_pay_topups")
