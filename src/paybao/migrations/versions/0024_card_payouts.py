"""card payouts: transfers to a bank card and credit-card repayments, saved repayment cards

`card_payouts` holds one row per payout (to anyone's debit card, or to the user's own credit
card) with its fee, the free quota it used (lifetime withdrawal quota or the month's repayment
quota), arrival and status; its money moves as the wallet's withdrawals do (held, then posted
or voided by the bank's answer). `repayment_cards` keeps the credit cards a user repays, with
an optional monthly reminder day. A new index on bound cards by number answers risk control's
questions about a card's owner.

Revision ID: 0024_card_payouts
Revises: 0023_preauth
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_card_payouts"
down_revision = "0023_preauth"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _create_card_payouts()
    op.create_table(
        "repayment_cards",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("card_number", sa.String(length=19), nullable=False),
        sa.Column("bank_code", sa.String(length=16), nullable=False),
        sa.Column("remind_day", sa.Integer(), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "remind_day BETWEEN 1 AND 28", name=op.f("ck_repayment_cards_remind_day_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repayment_cards")),
        sa.UniqueConstraint(
            "user_id", "card_number", name="uq_repayment_cards_user_id_card_number"
        ),
    )


def _create_card_payouts() -> None:
    op.create_table(
        "card_payouts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("card_number", sa.String(length=19), nullable=False),
        sa.Column("bank_code", sa.String(length=16), nullable=False),
        sa.Column("holder_name", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("quota_used_fen", sa.BigInteger(), nullable=False),
        sa.Column("quota_month", sa.String(length=7), nullable=True),
        sa.Column("usage_period", sa.String(length=12), nullable=True),
        sa.Column("arrival", sa.String(length=12), nullable=False),
        sa.Column("risk_held", sa.Boolean(), nullable=False),
        sa.Column("memo", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("due_at_us", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("finished_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('transfer', 'repayment')", name=op.f("ck_card_payouts_kind_known")
        ),
        sa.CheckConstraint(
            "status IN ('held', 'sent', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_card_payouts_status_known"),
        ),
        sa.CheckConstraint(
            "amount_fen > 0 AND fee_fen >= 0 AND quota_used_fen >= 0"
            " AND quota_used_fen <= amount_fen",
            name=op.f("ck_card_payouts_amounts_valid"),
        ),
        sa.CheckConstraint(
            "(kind = 'repayment') = (quota_month IS NOT NULL)",
            name=op.f("ck_card_payouts_month_of_repayment"),
        ),
        sa.CheckConstraint(
            "(kind = 'transfer') = (usage_period IS NOT NULL)",
            name=op.f("ck_card_payouts_period_of_transfer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_payouts")),
    )
    op.create_index("ix_card_payouts_user", "card_payouts", ["user_id", "id"])
    op.create_index("ix_card_payouts_user_month", "card_payouts", ["user_id", "quota_month"])
    op.create_index("ix_card_payouts_due", "card_payouts", ["status", "due_at_us"])
    op.create_index("ix_card_payouts_user_card", "card_payouts", ["user_id", "card_number"])
    op.create_index("ix_user_cards_card_number", "user_cards", ["card_number"])


def downgrade() -> None:
    op.drop_table("repayment_cards")
    op.drop_index("ix_user_cards_card_number", table_name="user_cards")
    op.drop_index("ix_card_payouts_user_card", table_name="card_payouts")
    op.drop_index("ix_card_payouts_due", table_name="card_payouts")
    op.drop_index("ix_card_payouts_user_month", table_name="card_payouts")
    op.drop_index("ix_card_payouts_user", table_name="card_payouts")
    op.drop_table("card_payouts")
