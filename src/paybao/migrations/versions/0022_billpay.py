"""city services: billers, saved bill accounts, bill payments, mobile top-up

Four new tables (adapters/db/tables/billpay.py): `billers` (the operator's catalogue: code,
name, category, city, the merchant that receives the money, status), `billpay_payments` (bill
payments and mobile top-ups; `bill_key` unique while a bill's payment is in progress or paid),
`billpay_saved_accounts` (a user's saved account numbers with what the biller said at the
last look) and `billpay_sandbox_payments` (the sandbox biller's own record of confirmations,
keyed by the platform's request id). Nothing existing changes; the ledger accounts involved
(wallets, merchants' settlement accounts) exist already or are opened with the merchant.

Revision ID: 0022_billpay
Revises: 0021_coupons
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_billpay"
down_revision = "0021_coupons"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CATEGORIES = "'water', 'electricity', 'gas', 'broadband', 'mobile'"


def upgrade() -> None:
    op.create_table(
        "billers",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("city", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(f"category IN ({_CATEGORIES})", name=op.f("ck_billers_category_known")),
        sa.CheckConstraint(
            "status IN ('active', 'disabled')", name=op.f("ck_billers_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billers")),
        sa.UniqueConstraint("code", name=op.f("uq_billers_code")),
    )
    op.create_index("ix_billers_city", "billers", ["city", "category"], unique=False)
    op.create_table(
        "billpay_payments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("biller_id", sa.BigInteger(), nullable=False),
        sa.Column("account_no", sa.String(length=20), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("bill_key", sa.String(length=64), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_fen", sa.BigInteger(), nullable=True),
        sa.Column("holder_masked", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("finished_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_billpay_payments_amount_positive")),
        sa.CheckConstraint(
            "kind IN ('bill', 'topup')", name=op.f("ck_billpay_payments_kind_known")
        ),
        sa.CheckConstraint(
            "status IN ('processing', 'paid', 'failed')",
            name=op.f("ck_billpay_payments_status_known"),
        ),
        sa.CheckConstraint(
            "status <> 'failed' OR bill_key IS NULL",
            name=op.f("ck_billpay_payments_failed_frees_bill"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billpay_payments")),
        sa.UniqueConstraint("bill_key", name=op.f("uq_billpay_payments_bill_key")),
    )
    op.create_index("ix_billpay_payments_user", "billpay_payments", ["user_id", "id"], unique=False)
    op.create_table(
        "billpay_saved_accounts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("biller_id", sa.BigInteger(), nullable=False),
        sa.Column("account_no", sa.String(length=20), nullable=False),
        sa.Column("nickname", sa.String(length=40), nullable=False),
        sa.Column("holder_masked", sa.String(length=64), nullable=False),
        sa.Column("outstanding_fen", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("checked_at_us", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "outstanding_fen >= 0",
            name=op.f("ck_billpay_saved_accounts_outstanding_not_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billpay_saved_accounts")),
        sa.UniqueConstraint(
            "user_id",
            "biller_id",
            "account_no",
            name=op.f("uq_billpay_saved_accounts_user_id"),
        ),
    )
    op.create_index(
        "ix_billpay_saved_accounts_account",
        "billpay_saved_accounts",
        ["biller_id", "account_no"],
        unique=False,
    )
    op.create_index(
        "ix_billpay_saved_accounts_checked",
        "billpay_saved_accounts",
        ["checked_at_us"],
        unique=False,
    )
    op.create_table(
        "billpay_sandbox_payments",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("biller_code", sa.String(length=32), nullable=False),
        sa.Column("account_no", sa.String(length=20), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("decline_code", sa.String(length=64), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('confirmed', 'declined')",
            name=op.f("ck_billpay_sandbox_payments_status_known"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_billpay_sandbox_payments")),
    )
    op.create_index(
        "ix_billpay_sandbox_payments_bill",
        "billpay_sandbox_payments",
        ["biller_code", "account_no", "period"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_billpay_sandbox_payments_bill", table_name="billpay_sandbox_payments")
    op.drop_table("billpay_sandbox_payments")
    op.drop_index("ix_billpay_saved_accounts_checked", table_name="billpay_saved_accounts")
    op.drop_index("ix_billpay_saved_accounts_account", table_name="billpay_saved_accounts")
    op.drop_table("billpay_saved_accounts")
    op.drop_index("ix_billpay_payments_user", table_name="billpay_payments")
    op.drop_table("billpay_payments")
    op.drop_index("ix_billers_city", table_name="billers")
    op.drop_table("billers")
