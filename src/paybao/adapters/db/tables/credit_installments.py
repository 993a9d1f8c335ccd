"""Huabei bill installments and revolving interest (domain/credit_installments.py, credit.py).

Idempotency and invariants by constraints: one plan per bill, one row per plan and period number,
one interest charge per bill and day. What the ledger holds for each row is checked by
`adapters/db/credit_checks.py`.
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
)

from paybao.adapters.db.tables.base import IdType, metadata

# A bill (or part of it) turned into monthly periods, or a trade paid in installments at the
# cashier (`trade_no`; domain/checkout_installments.py). `fee_fen` is the buyer's whole fee as
# scheduled (periods prepaid keep theirs here; their fee was waived, never billed).
credit_installment_plans = Table(
    "credit_installment_plans",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("bill_id", BigInteger, nullable=True, unique=True),
    Column("principal_fen", BigInteger, nullable=False),
    Column("fee_fen", BigInteger, nullable=False),
    Column("periods_count", Integer, nullable=False),
    Column("fee_rate_bp", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("ended_at_us", BigInteger, nullable=True),
    # Checkout plans: the trade, the merchant's fee (and what refunds gave back of it), the
    # refunds of the trade, and what they took off the periods not billed yet.
    Column("trade_no", String(32), nullable=True, unique=True),
    Column("seller_fee_fen", BigInteger, nullable=False, server_default="0"),
    Column("seller_fee_refunded_fen", BigInteger, nullable=False, server_default="0"),
    Column("refunded_fen", BigInteger, nullable=False, server_default="0"),
    Column("cancelled_fen", BigInteger, nullable=False, server_default="0"),
    Column("cancelled_fee_fen", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("principal_fen > 0 AND fee_fen >= 0", name="amounts_valid"),
    CheckConstraint("periods_count BETWEEN 2 AND 36", name="periods_count_range"),
    CheckConstraint("(bill_id IS NULL) <> (trade_no IS NULL)", name="one_source"),
    CheckConstraint(
        "seller_fee_refunded_fen BETWEEN 0 AND seller_fee_fen"
        " AND cancelled_fen BETWEEN 0 AND refunded_fen AND refunded_fen <= principal_fen"
        " AND cancelled_fee_fen BETWEEN 0 AND fee_fen",
        name="refunds_within",
    ),
)
Index("ix_credit_installment_plans_user", credit_installment_plans.c.user_id)

# One period of a plan: `period` is the month whose bill (closed on the 1st after it) holds it;
# `bill_id` is set when that bill closes.
credit_installment_periods = Table(
    "credit_installment_periods",
    metadata,
    Column("plan_id", BigInteger, nullable=False),
    Column("number", Integer, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("period", String(7), nullable=False),
    Column("principal_fen", BigInteger, nullable=False),
    Column("fee_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("bill_id", BigInteger, nullable=True),
    Column("billed_at_us", BigInteger, nullable=True),
    PrimaryKeyConstraint("plan_id", "number", name="pk_credit_installment_periods"),
    # A period a refund took all of (status refunded) is empty.
    CheckConstraint(
        "(principal_fen > 0 AND fee_fen >= 0)"
        " OR (status = 'refunded' AND principal_fen = 0 AND fee_fen = 0)",
        name="amounts_valid",
    ),
)
Index(
    "ix_credit_installment_periods_user",
    credit_installment_periods.c.user_id,
    credit_installment_periods.c.status,
    credit_installment_periods.c.period,
)
Index("ix_credit_installment_periods_bill", credit_installment_periods.c.bill_id)

# One day's revolving interest on one bill (paid only down to its minimum, or carrying such a
# rest): the key makes the daily job idempotent, as credit_penalties.
credit_interest = Table(
    "credit_interest",
    metadata,
    Column("bill_id", BigInteger, nullable=False),
    Column("day", String(10), nullable=False),
    Column("principal_fen", BigInteger, nullable=False),  # the principal charged
    Column("amount_fen", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("bill_id", "day", name="pk_credit_interest"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)
