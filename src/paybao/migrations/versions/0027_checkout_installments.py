"""Huabei checkout installments (hb_fq_num)

What a merchant's order said about Huabei (`checkout_installment_terms`, one row per trade:
hb_fq_num, hb_fq_seller_percent, whether its pay channels allow installments and plain Huabei).
A trade paid in installments is an installment plan like a converted bill's: plans get the trade
(`trade_no`, unique; `bill_id` becomes nullable, exactly one of the two is set), the merchant's fee
and what refunds gave back of it, the trade's refunds and what they took off the periods not billed
yet. A period a refund took all of is empty (status refunded). Check constraints are replaced (a
table rebuild on SQLite: batch mode).

Revision ID: 0027_checkout_installments
Revises: 0026_score
Create Date: 2026-11-26 11:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_checkout_installments"
down_revision = "0026_score"
branch_labels = None
depends_on = None

_PLAN_AMOUNTS = (
    "seller_fee_fen",
    "seller_fee_refunded_fen",
    "refunded_fen",
    "cancelled_fen",
    "cancelled_fee_fen",
)


def upgrade() -> None:
    op.create_table(
        "checkout_installment_terms",
        sa.Column("trade_no", sa.String(length=32), nullable=False),
        sa.Column("periods_count", sa.Integer(), nullable=True),
        sa.Column("seller_percent", sa.Integer(), nullable=False),
        sa.Column("installments_allowed", sa.Integer(), nullable=False),
        sa.Column("credit_allowed", sa.Integer(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "periods_count IS NULL OR periods_count IN (3, 6, 12)",
            name=op.f("ck_checkout_installment_terms_count_known"),
        ),
        sa.CheckConstraint(
            "seller_percent IN (0, 100)",
            name=op.f("ck_checkout_installment_terms_seller_percent_known"),
        ),
        sa.PrimaryKeyConstraint("trade_no", name=op.f("pk_checkout_installment_terms")),
    )
    with op.batch_alter_table("credit_installment_plans") as batch:
        batch.alter_column("bill_id", existing_type=sa.BigInteger(), nullable=True)
        batch.add_column(sa.Column("trade_no", sa.String(length=32), nullable=True))
        for name in _PLAN_AMOUNTS:
            batch.add_column(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False))
        batch.create_unique_constraint(op.f("uq_credit_installment_plans_trade_no"), ["trade_no"])
        batch.create_check_constraint(
            op.f("ck_credit_installment_plans_one_source"),
            "(bill_id IS NULL) <> (trade_no IS NULL)",
        )
        batch.create_check_constraint(
            op.f("ck_credit_installment_plans_refunds_within"),
            "seller_fee_refunded_fen BETWEEN 0 AND seller_fee_fen"
            " AND cancelled_fen BETWEEN 0 AND refunded_fen AND refunded_fen <= principal_fen"
            " AND cancelled_fee_fen BETWEEN 0 AND fee_fen",
        )
    with op.batch_alter_table("credit_installment_periods") as batch:
        batch.drop_constraint(op.f("ck_credit_installment_periods_amounts_valid"), type_="check")
        batch.create_check_constraint(
            op.f("ck_credit_installment_periods_amounts_valid"),
            "(principal_fen > 0 AND fee_fen >= 0)"
            " OR (status = 'refunded' AND principal_fen = 0 AND fee_fen = 0)",
        )


def downgrade() -> None:
    with op.batch_alter_table("credit_installment_periods") as batch:
        batch.drop_constraint(op.f("ck_credit_installment_periods_amounts_valid"), type_="check")
        batch.create_check_constraint(
            op.f("ck_credit_installment_periods_amounts_valid"),
            "principal_fen > 0 AND fee_fen >= 0",
        )
    op.execute(
        "DELETE FROM credit_installment_periods WHERE plan_id IN"
        " (SELECT id FROM credit_installment_plans WHERE trade_no IS NOT NULL)"
    )
    op.execute("DELETE FROM credit_installment_plans WHERE trade_no IS NOT NULL")
    with op.batch_alter_table("credit_installment_plans") as batch:
        batch.drop_constraint(op.f("ck_credit_installment_plans_refunds_within"), type_="check")
        batch.drop_constraint(op.f("ck_credit_installment_plans_one_source"), type_="check")
        batch.drop_constraint(op.f("uq_credit_installment_plans_trade_no"), type_="unique")
        for name in reversed(_PLAN_AMOUNTS):
            batch.drop_column(name)
        batch.drop_column("trade_no")
        batch.alter_column("bill_id", existing_type=sa.BigInteger(), nullable=False)
    op.drop_table("checkout_installment_terms")
