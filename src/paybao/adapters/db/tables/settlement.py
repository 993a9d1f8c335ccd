"""Settlement: merchants' settlement cards, payouts to them, bill files, daily reconciliations.

`merchant_settlements` is keyed by `request_key` (`settle:<merchant>:<yyyymmdd>` for the T+1
payout, `mwd:<merchant>:<n>` for a manual withdrawal), so a re-run job or a double click never
pays twice. Each bank attempt has its own request id `<request_key>:<attempt>`, which is also
the id of the ledger hold it posts or voids: the bank statement, the ledger and this table meet
on that one string.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata

merchant_settlement_cards = Table(
    "merchant_settlement_cards",
    metadata,
    Column("merchant_id", BigInteger, primary_key=True, autoincrement=False),
    Column("card_number", String(19), nullable=False),
    Column("bound_at_us", BigInteger, nullable=False),
)

merchant_settlements = Table(
    "merchant_settlements",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("request_key", String(48), nullable=False, unique=True),
    Column("merchant_id", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),
    # The China day whose business a T+1 settlement pays (yyyy-MM-dd); none for withdrawals.
    Column("settle_date", String(10), nullable=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("card_number", String(19), nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("request_id", String(64), nullable=True),
    Column("failure_code", String(64), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("paid_at_us", BigInteger, nullable=True),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("kind IN ('daily', 'manual')", name="kind_known"),
)
Index(
    "ix_merchant_settlements_merchant",
    merchant_settlements.c.merchant_id,
    merchant_settlements.c.id,
)

bill_files = Table(
    "bill_files",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("app_id", String(16), nullable=False),
    Column("bill_type", String(16), nullable=False),
    Column("period", String(10), nullable=False),
    Column("file_name", String(128), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("app_id", "bill_type", "period", name="uq_bill_files_app_type_period"),
)

reconcile_runs = Table(
    "reconcile_runs",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("day", String(10), nullable=False),
    Column("clean", Integer, nullable=False),
    Column("difference_count", Integer, nullable=False),
    # The report as JSON: differences (capped) and totals per account class.
    Column("report", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)
Index("ix_reconcile_runs_day", reconcile_runs.c.day, reconcile_runs.c.id)
