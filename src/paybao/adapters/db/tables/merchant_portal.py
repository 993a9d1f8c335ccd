"""Merchant portal sign-in, and cashier payments funded from a bound card (issue 4)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, text

from paybao.adapters.db.tables.base import IdType, metadata

# One password per merchant: the portal signs in by merchant id. Failures lock it for a while.
merchant_logins = Table(
    "merchant_logins",
    metadata,
    Column("merchant_id", BigInteger, primary_key=True, autoincrement=False),
    Column("password_hash", Text, nullable=False),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("locked_until_us", BigInteger, nullable=True),
    Column("updated_at_us", BigInteger, nullable=False),
)

# A cashier payment the buyer funds by a quick-pay debit of a bound card. The row exists before
# the bank is asked, so a lost answer is settled by a query job keyed `cardpay:<id>`.
card_payments = Table(
    "card_payments",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("trade_no", String(32), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("card_id", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    # processing -> paid (trade paid) | credited (trade gone: money left in the wallet) | failed
    Column("status", String(12), nullable=False, server_default="processing"),
    Column("failure_code", String(64), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
)
Index("ix_card_payments_trade_no", card_payments.c.trade_no)
# At most one card debit in flight per trade: a double click cannot charge the card twice.
Index(
    "uq_card_payments_trade_processing",
    card_payments.c.trade_no,
    unique=True,
    sqlite_where=text("status = 'processing'"),
    postgresql_where=text("status = 'processing'"),
)
