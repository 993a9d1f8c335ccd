"""Huabei checkout installments: what a merchant's order said about Huabei (hb_fq_num,
hb_fq_seller_percent, pay channels), one row per trade, written in the trade's own transaction.
The plans themselves are `credit_installment_plans` rows with a `trade_no`
(tables/credit_installments.py)."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Integer, String, Table

from paybao.adapters.db.tables.base import metadata

checkout_installment_terms = Table(
    "checkout_installment_terms",
    metadata,
    Column("trade_no", String(32), primary_key=True),
    Column("periods_count", Integer, nullable=True),  # hb_fq_num; null: the buyer chooses
    Column("seller_percent", Integer, nullable=False),  # hb_fq_seller_percent: 0 or 100
    Column("installments_allowed", Integer, nullable=False),  # pcreditpayInstallment
    Column("credit_allowed", Integer, nullable=False),  # pcredit
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("periods_count IS NULL OR periods_count IN (3, 6, 12)", name="count_known"),
    CheckConstraint("seller_percent IN (0, 100)", name="seller_percent_known"),
)
