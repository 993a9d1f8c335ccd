"""The credit score (`domain/score.py`): users' consents, monthly snapshots, the monthly pass's
progress, and merchants' admission queries.

Idempotency by constraints: one snapshot per (user, period), so the monthly pass may run twice
and score once; one admission answer per (app, transaction_id), so a merchant's retry gets the
first answer. Indexes on other features' tables (by buyer, by payee) serve the score's facts,
read once a month per consenting user.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata
from paybao.adapters.db.tables.trade import fund_transfers, trades
from paybao.adapters.db.tables.wallet import wallet_transfers

# One row per user and purpose: 'score' (compute and show the score) and 'admission' (merchants
# may ask whether the user reaches their threshold; they learn Y/N only). Never pre-ticked: no
# row is no consent. Each change is also in the audit log.
score_consents = Table(
    "score_consents",
    metadata,
    Column("user_id", BigInteger, nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("status", String(8), nullable=False),
    Column("granted_at_us", BigInteger, nullable=False),  # the last time it was switched on
    Column("changed_at_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "purpose", name="pk_score_consents"),
    CheckConstraint("purpose IN ('score', 'admission')", name="purpose_known"),
    CheckConstraint("status IN ('granted', 'revoked')", name="status_known"),
)
Index("ix_score_consents_purpose_user", score_consents.c.purpose, score_consents.c.user_id)

score_snapshots = Table(
    "score_snapshots",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("period", String(7), nullable=False),  # "2026-12": computed on 2026-12-06 (China)
    Column("total", Integer, nullable=False),
    Column("band", String(12), nullable=False),
    Column("credit_points", Integer, nullable=False),
    Column("capacity_points", Integer, nullable=False),
    Column("behaviour_points", Integer, nullable=False),
    Column("identity_points", Integer, nullable=False),
    Column("social_points", Integer, nullable=False),
    # Each dimension's top reasons, JSON: {"credit": [["bills_on_time", 3, 300], ...], ...}.
    Column("reasons", Text, nullable=False),
    Column("tips", String(200), nullable=False),  # comma-separated tip codes
    Column("model", String(32), nullable=False),
    Column("computed_at_us", BigInteger, nullable=False),
    UniqueConstraint("user_id", "period", name="uq_score_snapshots_user_period"),
    CheckConstraint("total BETWEEN 350 AND 950", name="total_range"),
    CheckConstraint(
        "credit_points BETWEEN 0 AND 1000 AND capacity_points BETWEEN 0 AND 1000"
        " AND behaviour_points BETWEEN 0 AND 1000 AND identity_points BETWEEN 0 AND 1000"
        " AND social_points BETWEEN 0 AND 1000",
        name="points_range",
    ),
)

# The monthly pass's progress, one row per period: the last user scored.
score_months = Table(
    "score_months",
    metadata,
    Column("period", String(7), primary_key=True),
    Column("status", String(8), nullable=False),  # running | done
    Column("cursor_user_id", BigInteger, nullable=False),
    Column("users_scored", Integer, nullable=False),
    Column("started_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    CheckConstraint("status IN ('running', 'done')", name="status_known"),
)

# Merchants' admission queries (zhima.credit.score.brief.get): what was asked and answered.
# The user sees who asked; `reasons` stay internal (the merchant gets Y / N / N/A only).
score_admissions = Table(
    "score_admissions",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("biz_no", String(32), nullable=False, unique=True),
    Column("app_id", String(16), nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("transaction_id", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("user_id", BigInteger, nullable=True),  # the account whose score decided, if any
    Column("threshold", Integer, nullable=False),
    Column("outcome", String(3), nullable=False),
    Column("reasons", String(128), nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("app_id", "transaction_id", name="uq_score_admissions_app_transaction"),
    CheckConstraint("outcome IN ('Y', 'N', 'N/A')", name="outcome_known"),
)
Index("ix_score_admissions_user", score_admissions.c.user_id, score_admissions.c.id)

# The score's facts, read per user: payments by buyer, money received by payee.
Index("ix_trades_buyer_paid", trades.c.buyer_user_id, trades.c.paid_at_us)
Index(
    "ix_wallet_transfers_payee",
    wallet_transfers.c.payee_user_id,
    wallet_transfers.c.created_at_us,
)
Index("ix_fund_transfers_payee", fund_transfers.c.payee_user_id, fund_transfers.c.created_at_us)
