"""Yu'e Bao (domain/fund.py): holdings, transfer orders, daily income, published figures, and
the daily pass's progress.

`fund_holdings` is one row per user, the lock that serialises a user's fund operations; its
amounts mirror the ledger (the reconcile checks prove it). Income is unique per (user, day), so
the daily pass can run twice and pay once.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
)

from paybao.adapters.db.tables.base import IdType, metadata

fund_holdings = Table(
    "fund_holdings",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", BigInteger, nullable=False),  # the user's fund ledger account
    Column("confirmed_fen", BigInteger, nullable=False, server_default="0"),
    Column("pending_fen", BigInteger, nullable=False, server_default="0"),  # waiting to confirm
    Column("redeeming_fen", BigInteger, nullable=False, server_default="0"),  # NORMAL, en route
    Column("income_total_fen", BigInteger, nullable=False, server_default="0"),
    # Today's use of the FAST quota: the China day it counts for, and how much.
    Column("fast_day", Date, nullable=True),
    Column("fast_used_fen", BigInteger, nullable=False, server_default="0"),
    # The last day the daily pass settled for this user: a second settlement of it is a no-op.
    Column("settled_day", Date, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    CheckConstraint(
        "confirmed_fen >= 0 AND pending_fen >= 0 AND redeeming_fen >= 0"
        " AND income_total_fen >= 0 AND fast_used_fen >= 0",
        name="amounts_not_negative",
    ),
)

fund_orders = Table(
    "fund_orders",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("kind", String(12), nullable=False),  # in | out_fast | out_normal
    Column("status", String(12), nullable=False),  # pending | confirmed | succeeded
    Column("amount_fen", BigInteger, nullable=False),
    Column("trade_date", Date, nullable=False),  # T
    Column("settle_date", Date, nullable=True),  # IN: confirmed on; OUT_NORMAL: arrives on
    Column("created_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("kind IN ('in', 'out_fast', 'out_normal')", name="kind_known"),
    CheckConstraint("status IN ('pending', 'confirmed', 'succeeded')", name="status_known"),
)
# A user's records, newest first; and the daily pass's look for what falls due.
Index("ix_fund_orders_user", fund_orders.c.user_id, fund_orders.c.id)
Index("ix_fund_orders_user_status", fund_orders.c.user_id, fund_orders.c.status)

fund_incomes = Table(
    "fund_incomes",
    metadata,
    Column("user_id", BigInteger, nullable=False),
    Column("income_date", Date, nullable=False),
    Column("base_fen", BigInteger, nullable=False),  # confirmed at the end of that day
    Column("per_10k_e4", Integer, nullable=False),  # the figure used, in 0.0001 CNY
    Column("income_fen", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    # One income per user and day: the daily pass may run twice, it pays once.
    PrimaryKeyConstraint("user_id", "income_date", name="pk_fund_incomes"),
    CheckConstraint("base_fen >= 0 AND income_fen >= 0", name="amounts_not_negative"),
)

fund_rates = Table(
    "fund_rates",
    metadata,
    Column("rate_date", Date, primary_key=True, autoincrement=False),
    Column("per_10k_e4", Integer, nullable=False),
    Column("published_at_us", BigInteger, nullable=False),
    Column("published_by", String(64), nullable=False),
    CheckConstraint("per_10k_e4 >= 0", name="figure_not_negative"),
)

# The daily pass, one row per China day: how far it got (users are settled in order of id).
fund_days = Table(
    "fund_days",
    metadata,
    Column("day", Date, primary_key=True, autoincrement=False),
    Column("status", String(8), nullable=False),  # running | done
    Column("cursor_user_id", BigInteger, nullable=False, server_default="0"),
    Column("users_settled", BigInteger, nullable=False, server_default="0"),
    Column("started_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    CheckConstraint("status IN ('running', 'done')", name="status_known"),
)
