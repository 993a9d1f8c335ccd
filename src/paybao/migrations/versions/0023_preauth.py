"""fund pre-authorisation: freeze orders, their operations

Pre-authorisation orders (a deposit frozen on a user's balance for a merchant: what it froze,
paid and unfroze, its current ledger hold and timer) and their operations (the freeze, each
payment from it, each unfreeze). The platform's `preauth` ledger account is opened by the
service on first use, as every platform account is.

Revision ID: 0023_preauth
Revises: 0022_billpay
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_preauth"
down_revision = "0022_billpay"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _create_orders()
    _create_operations()


def _create_orders() -> None:
    op.create_table(
        "preauth_orders",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("auth_no", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("out_order_no", sa.String(length=64), nullable=False),
        sa.Column("product_code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("paid_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unfrozen_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("hold_seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("timer_seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("timer_due_at_us", sa.BigInteger(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("confirm_token", sa.String(length=64), nullable=True),
        sa.Column("confirm_expires_at_us", sa.BigInteger(), nullable=True),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("notify_url", sa.Text(), nullable=True),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column("channel_context", sa.Text(), server_default="{}", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("authorized_at_us", sa.BigInteger(), nullable=True),
        sa.Column("ended_at_us", sa.BigInteger(), nullable=True),
        sa.Column("ended_by", sa.String(length=16), nullable=True),
        sa.Column("cancel_action", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "status IN ('INIT', 'AUTHORIZED', 'FINISH', 'CLOSED')",
            name=op.f("ck_preauth_orders_status_known"),
        ),
        sa.CheckConstraint(
            "amount_fen >= 0 AND paid_fen >= 0 AND unfrozen_fen >= 0"
            " AND paid_fen + unfrozen_fen <= amount_fen",
            name=op.f("ck_preauth_orders_amounts_in_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preauth_orders")),
        sa.UniqueConstraint("auth_no", name=op.f("uq_preauth_orders_auth_no")),
        sa.UniqueConstraint("confirm_token", name=op.f("uq_preauth_orders_confirm_token")),
        sa.UniqueConstraint("app_id", "out_order_no", name="uq_preauth_orders_app_out_order_no"),
    )
    op.create_index("ix_preauth_orders_user", "preauth_orders", ["user_id", "id"], unique=False)
    op.create_index("ix_preauth_orders_status", "preauth_orders", ["status"], unique=False)


def _create_operations() -> None:
    op.create_table(
        "preauth_operations",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("operation_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("out_request_no", sa.String(length=64), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("remark", sa.String(length=100), nullable=True),
        sa.Column("trade_no", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("done_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "amount_fen >= 0", name=op.f("ck_preauth_operations_amount_not_negative")
        ),
        sa.CheckConstraint(
            "kind IN ('FREEZE', 'UNFREEZE', 'PAY')", name=op.f("ck_preauth_operations_kind_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preauth_operations")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_preauth_operations_operation_id")),
        sa.UniqueConstraint(
            "order_id", "out_request_no", name="uq_preauth_operations_order_out_request_no"
        ),
    )
    op.create_index(
        "ix_preauth_operations_order", "preauth_operations", ["order_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_preauth_operations_order", table_name="preauth_operations")
    op.drop_table("preauth_operations")
    op.drop_index("ix_preauth_orders_status", table_name="preauth_orders")
    op.drop_index("ix_preauth_orders_user", table_name="preauth_orders")
    op.drop_table("preauth_orders")
