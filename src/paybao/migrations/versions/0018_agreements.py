"""withholding agreements: signed password-free deductions for merchants

Agreements (sign requests, signed, ended), one row per deduction taken under them, and each
user's withholding totals per Beijing day and month (the product caps).

Revision ID: 0018_agreements
Revises: 0017_credit
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_agreements"
down_revision = "0017_credit"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _create_agreements()
    _create_deductions()
    op.create_table(
        "withholding_usage",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=12), nullable=False),
        sa.Column("used_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "period", name=op.f("pk_withholding_usage")),
    )


def _create_agreements() -> None:
    op.create_table(
        "agreements",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("agreement_no", sa.String(length=32), nullable=False),
        sa.Column("sign_token", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("sign_scene", sa.String(length=64), nullable=False),
        sa.Column("external_agreement_no", sa.String(length=32), nullable=True),
        sa.Column("external_logon_id", sa.String(length=100), nullable=True),
        sa.Column("live_key", sa.String(length=200), nullable=True),
        sa.Column("period_type", sa.String(length=8), nullable=True),
        sa.Column("period", sa.Integer(), nullable=True),
        sa.Column("execute_date", sa.String(length=10), nullable=True),
        sa.Column("single_amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("total_amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("total_payments", sa.Integer(), nullable=True),
        sa.Column("user_cap_fen", sa.BigInteger(), nullable=True),
        sa.Column("paid_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("notify_url", sa.Text(), nullable=True),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column("channel_context", sa.Text(), server_default="{}", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("sign_expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("invalid_at_us", sa.BigInteger(), nullable=False),
        sa.Column("signed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("unsigned_at_us", sa.BigInteger(), nullable=True),
        sa.Column("unsigned_by", sa.String(length=8), nullable=True),
        sa.Column("last_deduct_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status IN ('TEMP', 'NORMAL', 'UNSIGN', 'VOID')",
            name=op.f("ck_agreements_status_known"),
        ),
        sa.CheckConstraint(
            "paid_count >= 0 AND paid_fen >= 0", name=op.f("ck_agreements_paid_not_negative")
        ),
        sa.CheckConstraint(
            "user_cap_fen IS NULL OR user_cap_fen > 0", name=op.f("ck_agreements_cap_positive")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
        sa.UniqueConstraint("agreement_no", name=op.f("uq_agreements_agreement_no")),
        sa.UniqueConstraint("sign_token", name=op.f("uq_agreements_sign_token")),
        sa.UniqueConstraint("live_key", name=op.f("uq_agreements_live_key")),
    )
    op.create_index("ix_agreements_user", "agreements", ["user_id", "id"], unique=False)
    op.create_index(
        "ix_agreements_merchant", "agreements", ["merchant_id", "product"], unique=False
    )


def _create_deductions() -> None:
    op.create_table(
        "agreement_deductions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("agreement_id", sa.BigInteger(), nullable=False),
        sa.Column("trade_no", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("period_index", sa.Integer(), nullable=True),
        sa.Column("china_day", sa.String(length=10), nullable=False),
        sa.Column("china_month", sa.String(length=7), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_agreement_deductions_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_deductions")),
        sa.UniqueConstraint("trade_no", name=op.f("uq_agreement_deductions_trade_no")),
        sa.UniqueConstraint("agreement_id", "period_index", name="uq_agreement_deductions_period"),
    )
    op.create_index(
        "ix_agreement_deductions_month",
        "agreement_deductions",
        ["agreement_id", "china_month"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_agreement_deductions_month", table_name="agreement_deductions")
    op.drop_table("agreement_deductions")
    op.drop_index("ix_agreements_merchant", table_name="agreements")
    op.drop_index("ix_agreements_user", table_name="agreements")
    op.drop_table("withholding_usage")
    op.drop_table("agreements")
