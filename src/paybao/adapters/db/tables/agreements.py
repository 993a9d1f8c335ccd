"""Withholding agreements, their deductions, and each user's withholding totals.

Unique constraints instead of check-then-insert: a merchant's external agreement number among
its live agreements (`live_key`, NULL once ended), one deduction per trade, and one per
(agreement, cycle period) — NULL periods (general withholding) never collide.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata

agreements = Table(
    "agreements",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("agreement_no", String(32), nullable=False, unique=True),
    # The secret in the sign page's URL: whoever opens it may sign, after signing in.
    Column("sign_token", String(64), nullable=False, unique=True),
    Column("app_id", String(16), nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=True),  # the signer; NULL until signed
    Column("status", String(8), nullable=False),
    Column("product", String(32), nullable=False),
    Column("sign_scene", String(64), nullable=False),
    Column("external_agreement_no", String(32), nullable=True),
    Column("external_logon_id", String(100), nullable=True),
    # merchant|product|scene|external number while TEMP or NORMAL, NULL once ended (or expired
    # and asked for again).
    Column("live_key", String(200), nullable=True, unique=True),
    # The cycle rule (CYCLE_PAY_AUTH only); execute_date is a Beijing date, 2026-05-01.
    Column("period_type", String(8), nullable=True),
    Column("period", Integer, nullable=True),
    Column("execute_date", String(10), nullable=True),
    Column("single_amount_fen", BigInteger, nullable=True),
    Column("total_amount_fen", BigInteger, nullable=True),
    Column("total_payments", Integer, nullable=True),
    Column("user_cap_fen", BigInteger, nullable=True),
    Column("paid_count", Integer, nullable=False, server_default="0"),
    Column("paid_fen", BigInteger, nullable=False, server_default="0"),
    Column("fingerprint", String(64), nullable=False),
    Column("notify_url", Text, nullable=True),
    Column("return_url", Text, nullable=True),
    Column("channel_context", Text, nullable=False, server_default="{}"),
    Column("created_at_us", BigInteger, nullable=False),
    Column("sign_expires_at_us", BigInteger, nullable=False),
    Column("invalid_at_us", BigInteger, nullable=False),
    Column("signed_at_us", BigInteger, nullable=True),
    Column("unsigned_at_us", BigInteger, nullable=True),
    Column("unsigned_by", String(8), nullable=True),
    Column("last_deduct_at_us", BigInteger, nullable=True),
    CheckConstraint("status IN ('TEMP', 'NORMAL', 'UNSIGN', 'VOID')", name="status_known"),
    CheckConstraint("paid_count >= 0 AND paid_fen >= 0", name="paid_not_negative"),
    CheckConstraint("user_cap_fen IS NULL OR user_cap_fen > 0", name="cap_positive"),
)
Index("ix_agreements_user", agreements.c.user_id, agreements.c.id)
Index("ix_agreements_merchant", agreements.c.merchant_id, agreements.c.product)

agreement_deductions = Table(
    "agreement_deductions",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("agreement_id", BigInteger, nullable=False),
    Column("trade_no", String(32), nullable=False, unique=True),
    Column("user_id", BigInteger, nullable=False),
    # What the user paid: the trade's buyer_pay (its total less any coupons), which every
    # withholding limit counts (services/withholding.py).
    Column("amount_fen", BigInteger, nullable=False),
    Column("period_index", Integer, nullable=True),
    Column("china_day", String(10), nullable=False),
    Column("china_month", String(7), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("agreement_id", "period_index", name="uq_agreement_deductions_period"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)
Index(
    "ix_agreement_deductions_month",
    agreement_deductions.c.agreement_id,
    agreement_deductions.c.china_month,
)

# A user's withholding per Beijing day ('d:2026-05-01') and month ('m:2026-05'), across all
# agreements: the product's day and month caps are checked against these.
withholding_usage = Table(
    "withholding_usage",
    metadata,
    Column("user_id", BigInteger, primary_key=True),
    Column("period", String(12), primary_key=True),
    Column("used_fen", BigInteger, nullable=False),
)
