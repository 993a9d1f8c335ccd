"""Huabei: credit lines, monthly bills, repayments

Tables of the credit feature (domain/credit.py): `credit_lines` (one per user: limit, open and
outstanding amounts, repayment day, the overdue freeze), `credit_draws` (one per trade paid with
credit), `credit_bills` (one per user and month), `credit_repayments` with their
`credit_repayment_parts` per bill, `credit_penalties` (one per overdue bill and day) and
`credit_refunds` (where a refund of a credit-paid trade went). The ledger accounts (purpose
credit_loan per user, credit_income for the platform) need no schema change.

Revision ID: 0017_credit
Revises: 0016_fund
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_credit"
down_revision = "0016_fund"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _lines()
    _draws()
    _bills()
    _repayments()
    op.create_table(
        "credit_penalties",
        sa.Column("bill_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_credit_penalties_amount_positive")),
        sa.PrimaryKeyConstraint("bill_id", "day", name="pk_credit_penalties"),
    )
    op.create_table(
        "credit_refunds",
        sa.Column("refund_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("trade_no", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("bill_id", sa.BigInteger(), nullable=True),
        sa.Column("to_line_fen", sa.BigInteger(), nullable=False),
        sa.Column("to_balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "to_line_fen >= 0 AND to_balance_fen >= 0",
            name=op.f("ck_credit_refunds_parts_not_negative"),
        ),
        sa.PrimaryKeyConstraint("refund_id", name=op.f("pk_credit_refunds")),
    )
    op.create_index("ix_credit_refunds_trade", "credit_refunds", ["trade_no"], unique=False)


def _lines() -> None:
    op.create_table(
        "credit_lines",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("open_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("outstanding_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("repayment_day", sa.Integer(), server_default="10", nullable=False),
        sa.Column("overdue", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("granted_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("limit_fen > 0", name=op.f("ck_credit_lines_limit_positive")),
        sa.CheckConstraint(
            "open_fen >= 0 AND open_fen <= outstanding_fen",
            name=op.f("ck_credit_lines_open_within_owed"),
        ),
        sa.CheckConstraint(
            "repayment_day BETWEEN 1 AND 28", name=op.f("ck_credit_lines_repayment_day_range")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_credit_lines")),
    )


def _draws() -> None:
    op.create_table(
        "credit_draws",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("trade_no", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("refunded_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bill_id", sa.BigInteger(), nullable=True),
        sa.Column("billed_fen", sa.BigInteger(), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_credit_draws_amount_positive")),
        sa.CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= amount_fen",
            name=op.f("ck_credit_draws_refunded_within_amount"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_draws")),
        sa.UniqueConstraint("trade_no", name=op.f("uq_credit_draws_trade_no")),
    )
    op.create_index(
        "ix_credit_draws_user_bill", "credit_draws", ["user_id", "bill_id"], unique=False
    )


def _bills() -> None:
    op.create_table(
        "credit_bills",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("refunded_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("penalty_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("repaid_principal_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("repaid_penalty_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("due_date", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("paid_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("principal_fen > 0", name=op.f("ck_credit_bills_principal_positive")),
        sa.CheckConstraint(
            "refunded_fen + repaid_principal_fen <= principal_fen",
            name=op.f("ck_credit_bills_principal_within"),
        ),
        sa.CheckConstraint(
            "repaid_penalty_fen <= penalty_fen", name=op.f("ck_credit_bills_penalty_within")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_bills")),
        sa.UniqueConstraint("user_id", "period", name="uq_credit_bills_user_period"),
    )
    op.create_index(
        "ix_credit_bills_user_status", "credit_bills", ["user_id", "status"], unique=False
    )


def _repayments() -> None:
    op.create_table(
        "credit_repayments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("penalty_fen", sa.BigInteger(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_after_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_credit_repayments_amount_positive")),
        sa.CheckConstraint(
            "penalty_fen + principal_fen = amount_fen",
            name=op.f("ck_credit_repayments_parts_add_up"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_repayments")),
    )
    op.create_index("ix_credit_repayments_user", "credit_repayments", ["user_id"], unique=False)
    op.create_table(
        "credit_repayment_parts",
        sa.Column("repayment_id", sa.BigInteger(), nullable=False),
        sa.Column("bill_id", sa.BigInteger(), nullable=False),
        sa.Column("penalty_fen", sa.BigInteger(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("repayment_id", "bill_id", name="pk_credit_repayment_parts"),
    )
    op.create_index(
        "ix_credit_repayment_parts_bill", "credit_repayment_parts", ["bill_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_credit_refunds_trade", table_name="credit_refunds")
    op.drop_index("ix_credit_repayment_parts_bill", table_name="credit_repayment_parts")
    op.drop_index("ix_credit_repayments_user", table_name="credit_repayments")
    op.drop_index("ix_credit_bills_user_status", table_name="credit_bills")
    op.drop_index("ix_credit_draws_user_bill", table_name="credit_draws")
    for table in (
        "credit_refunds",
        "credit_penalties",
        "credit_repayment_parts",
        "credit_repayments",
        "credit_bills",
        "credit_draws",
        "credit_lines",
    ):
        op.drop_table(table)
