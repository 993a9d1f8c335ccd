"""Huabei: bill installments and minimum repayment

Installment plans (`credit_installment_plans`, one per bill) with their periods
(`credit_installment_periods`, one per plan and number), and the daily revolving interest of bills
paid only down to their minimum (`credit_interest`, one per bill and day). Lines hold the
principal of periods not billed yet (`installment_fen`); bills hold their installment periods'
principal and fees, the principal converted into a plan, the revolving rest carried in (and
rolled out) and its interest; repayments and their parts hold the interest and fees they paid.
Check constraints that sum a bill's or a repayment's parts are replaced by ones with the new
parts (a table rebuild on SQLite: batch mode).

Revision ID: 0025_credit_installments
Revises: 0024_card_payouts
Create Date: 2026-11-26 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_credit_installments"
down_revision = "0024_card_payouts"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BILL_AMOUNTS = (
    "periods_principal_fen",
    "carried_fen",
    "converted_fen",
    "fee_fen",
    "repaid_fee_fen",
    "interest_fen",
    "repaid_interest_fen",
    "rolled_principal_fen",
    "rolled_interest_fen",
)


def _amount(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    _plans()
    _periods()
    op.create_table(
        "credit_interest",
        sa.Column("bill_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_credit_interest_amount_positive")),
        sa.PrimaryKeyConstraint("bill_id", "day", name="pk_credit_interest"),
    )
    with op.batch_alter_table("credit_lines") as batch:
        batch.add_column(_amount("installment_fen"))
        batch.create_check_constraint(
            op.f("ck_credit_lines_installment_within_owed"),
            "installment_fen >= 0 AND open_fen + installment_fen <= outstanding_fen",
        )
    _bills_up()
    _repayments_up()


def _plans() -> None:
    op.create_table(
        "credit_installment_plans",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("bill_id", sa.BigInteger(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("periods_count", sa.Integer(), nullable=False),
        sa.Column("fee_rate_bp", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("ended_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "principal_fen > 0 AND fee_fen >= 0",
            name=op.f("ck_credit_installment_plans_amounts_valid"),
        ),
        sa.CheckConstraint(
            "periods_count BETWEEN 2 AND 36",
            name=op.f("ck_credit_installment_plans_periods_count_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_installment_plans")),
        sa.UniqueConstraint("bill_id", name=op.f("uq_credit_installment_plans_bill_id")),
    )
    op.create_index(
        "ix_credit_installment_plans_user", "credit_installment_plans", ["user_id"], unique=False
    )


def _periods() -> None:
    op.create_table(
        "credit_installment_periods",
        sa.Column("plan_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bill_id", sa.BigInteger(), nullable=True),
        sa.Column("billed_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "principal_fen > 0 AND fee_fen >= 0",
            name=op.f("ck_credit_installment_periods_amounts_valid"),
        ),
        sa.PrimaryKeyConstraint("plan_id", "number", name="pk_credit_installment_periods"),
    )
    op.create_index(
        "ix_credit_installment_periods_user",
        "credit_installment_periods",
        ["user_id", "status", "period"],
        unique=False,
    )
    op.create_index(
        "ix_credit_installment_periods_bill",
        "credit_installment_periods",
        ["bill_id"],
        unique=False,
    )


def _bills_up() -> None:
    with op.batch_alter_table("credit_bills") as batch:
        for name in _BILL_AMOUNTS:
            batch.add_column(_amount(name))
        batch.add_column(sa.Column("rolled_to_bill_id", sa.BigInteger(), nullable=True))
        batch.drop_constraint(op.f("ck_credit_bills_principal_within"), type_="check")
        batch.create_check_constraint(
            op.f("ck_credit_bills_principal_within"),
            "refunded_fen + converted_fen + rolled_principal_fen + repaid_principal_fen"
            " <= principal_fen",
        )
        batch.create_check_constraint(
            op.f("ck_credit_bills_fee_within"), "repaid_fee_fen <= fee_fen"
        )
        batch.create_check_constraint(
            op.f("ck_credit_bills_interest_within"),
            "repaid_interest_fen + rolled_interest_fen <= interest_fen",
        )


def _repayments_up() -> None:
    with op.batch_alter_table("credit_repayments") as batch:
        batch.add_column(_amount("interest_fen"))
        batch.add_column(_amount("fee_fen"))
        batch.drop_constraint(op.f("ck_credit_repayments_parts_add_up"), type_="check")
        batch.create_check_constraint(
            op.f("ck_credit_repayments_parts_add_up"),
            "penalty_fen + interest_fen + fee_fen + principal_fen = amount_fen",
        )
    with op.batch_alter_table("credit_repayment_parts") as batch:
        batch.add_column(_amount("interest_fen"))
        batch.add_column(_amount("fee_fen"))


def downgrade() -> None:
    with op.batch_alter_table("credit_repayment_parts") as batch:
        batch.drop_column("fee_fen")
        batch.drop_column("interest_fen")
    with op.batch_alter_table("credit_repayments") as batch:
        batch.drop_constraint(op.f("ck_credit_repayments_parts_add_up"), type_="check")
        batch.drop_column("fee_fen")
        batch.drop_column("interest_fen")
        batch.create_check_constraint(
            op.f("ck_credit_repayments_parts_add_up"), "penalty_fen + principal_fen = amount_fen"
        )
    with op.batch_alter_table("credit_bills") as batch:
        batch.drop_constraint(op.f("ck_credit_bills_interest_within"), type_="check")
        batch.drop_constraint(op.f("ck_credit_bills_fee_within"), type_="check")
        batch.drop_constraint(op.f("ck_credit_bills_principal_within"), type_="check")
        batch.drop_column("rolled_to_bill_id")
        for name in reversed(_BILL_AMOUNTS):
            batch.drop_column(name)
        batch.create_check_constraint(
            op.f("ck_credit_bills_principal_within"),
            "refunded_fen + repaid_principal_fen <= principal_fen",
        )
    with op.batch_alter_table("credit_lines") as batch:
        batch.drop_constraint(op.f("ck_credit_lines_installment_within_owed"), type_="check")
        batch.drop_column("installment_fen")
    op.drop_table("credit_interest")
    op.drop_index("ix_credit_installment_periods_bill", table_name="credit_installment_periods")
    op.drop_index("ix_credit_installment_periods_user", table_name="credit_installment_periods")
    op.drop_table("credit_installment_periods")
    op.drop_index("ix_credit_installment_plans_user", table_name="credit_installment_plans")
    op.drop_table("credit_installment_plans")
