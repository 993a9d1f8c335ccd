"""Yu'e Bao: money-market fund holdings, subscriptions, redemptions, daily income

Five new tables (adapters/db/tables/fund.py): `fund_holdings` (one row per user: confirmed,
pending and redeeming amounts, income total, today's use of the FAST quota, the last day
the daily pass settled), `fund_orders`
(transfers in and out), `fund_incomes` (one row per user and day), `fund_rates` (the published
income per 10,000 CNY of a day) and `fund_days` (the daily pass's progress). Nothing existing
changes; the fund's ledger accounts are opened on first use.

Revision ID: 0016_fund
Revises: 0015_operator_roles
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_fund"
down_revision = "0015_operator_roles"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fund_holdings",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pending_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("redeeming_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("income_total_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fast_day", sa.Date(), nullable=True),
        sa.Column("fast_used_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("settled_day", sa.Date(), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "confirmed_fen >= 0 AND pending_fen >= 0 AND redeeming_fen >= 0"
            " AND income_total_fen >= 0 AND fast_used_fen >= 0",
            name=op.f("ck_fund_holdings_amounts_not_negative"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_fund_holdings")),
    )
    op.create_table(
        "fund_orders",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("settle_date", sa.Date(), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("finished_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_fund_orders_amount_positive")),
        sa.CheckConstraint(
            "kind IN ('in', 'out_fast', 'out_normal')", name=op.f("ck_fund_orders_kind_known")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'succeeded')",
            name=op.f("ck_fund_orders_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_orders")),
    )
    op.create_index("ix_fund_orders_user", "fund_orders", ["user_id", "id"], unique=False)
    op.create_index(
        "ix_fund_orders_user_status", "fund_orders", ["user_id", "status"], unique=False
    )
    op.create_table(
        "fund_incomes",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("income_date", sa.Date(), nullable=False),
        sa.Column("base_fen", sa.BigInteger(), nullable=False),
        sa.Column("per_10k_e4", sa.Integer(), nullable=False),
        sa.Column("income_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "base_fen >= 0 AND income_fen >= 0", name=op.f("ck_fund_incomes_amounts_not_negative")
        ),
        sa.PrimaryKeyConstraint("user_id", "income_date", name="pk_fund_incomes"),
    )
    op.create_table(
        "fund_rates",
        sa.Column("rate_date", sa.Date(), autoincrement=False, nullable=False),
        sa.Column("per_10k_e4", sa.Integer(), nullable=False),
        sa.Column("published_at_us", sa.BigInteger(), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("per_10k_e4 >= 0", name=op.f("ck_fund_rates_figure_not_negative")),
        sa.PrimaryKeyConstraint("rate_date", name=op.f("pk_fund_rates")),
    )
    op.create_table(
        "fund_days",
        sa.Column("day", sa.Date(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("cursor_user_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("users_settled", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("started_at_us", sa.BigInteger(), nullable=False),
        sa.Column("finished_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("status IN ('running', 'done')", name=op.f("ck_fund_days_status_known")),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_fund_days")),
    )


def downgrade() -> None:
    op.drop_table("fund_days")
    op.drop_table("fund_rates")
    op.drop_table("fund_incomes")
    op.drop_index("ix_fund_orders_user_status", table_name="fund_orders")
    op.drop_index("ix_fund_orders_user", table_name="fund_orders")
    op.drop_table("fund_orders")
    op.drop_table("fund_holdings")
