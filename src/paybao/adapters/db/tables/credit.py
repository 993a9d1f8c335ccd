"""Huabei credit: lines, purchases (draws), monthly bills, repayments, penalties, refunds.
(Installment plans and revolving interest: `tables/credit_installments.py`.)

Idempotency and invariants by constraints: one line per user, one draw per trade, one bill per
user and month, one penalty per bill and day, one credit refund per trade refund. What the
ledger holds for each row is checked by `adapters/db/credit_checks.py`.
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
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata

credit_lines = Table(
    "credit_lines",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    # The user's credit account in the ledger (purpose credit_loan): its balance is owed.
    Column("account_id", BigInteger, nullable=False),
    Column("limit_fen", BigInteger, nullable=False),
    Column("open_fen", BigInteger, nullable=False, server_default="0"),
    Column("outstanding_fen", BigInteger, nullable=False, server_default="0"),
    Column("repayment_day", Integer, nullable=False, server_default="10"),
    Column("overdue", Integer, nullable=False, server_default="0"),
    # Bumped by every change: updates are compare-and-set on it.
    Column("version", BigInteger, nullable=False, server_default="0"),
    Column("granted_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    # Principal of installment periods not billed yet (part of outstanding_fen).
    Column("installment_fen", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("limit_fen > 0", name="limit_positive"),
    CheckConstraint("open_fen >= 0 AND open_fen <= outstanding_fen", name="open_within_owed"),
    CheckConstraint(
        "installment_fen >= 0 AND open_fen + installment_fen <= outstanding_fen",
        name="installment_within_owed",
    ),
    CheckConstraint("repayment_day BETWEEN 1 AND 28", name="repayment_day_range"),
)

# One purchase paid with credit: a trade. `bill_id` is set when the 1st closes it into a bill,
# with `billed_fen` (what was left of it then).
credit_draws = Table(
    "credit_draws",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("trade_no", String(32), nullable=False, unique=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("refunded_fen", BigInteger, nullable=False, server_default="0"),
    Column("bill_id", BigInteger, nullable=True),
    Column("billed_fen", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint(
        "refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refunded_within_amount"
    ),
)
Index("ix_credit_draws_user_bill", credit_draws.c.user_id, credit_draws.c.bill_id)

# `principal_fen` is all the bill billed as principal: purchases, installment periods'
# principal (`periods_principal_fen`) and the rest carried from a revolving bill (`carried_fen`).
credit_bills = Table(
    "credit_bills",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("period", String(7), nullable=False),  # "2026-03"
    Column("principal_fen", BigInteger, nullable=False),
    Column("refunded_fen", BigInteger, nullable=False, server_default="0"),
    Column("penalty_fen", BigInteger, nullable=False, server_default="0"),
    Column("repaid_principal_fen", BigInteger, nullable=False, server_default="0"),
    Column("repaid_penalty_fen", BigInteger, nullable=False, server_default="0"),
    Column("due_date", String(10), nullable=False),  # "2026-04-10", China time
    Column("status", String(16), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("paid_at_us", BigInteger, nullable=True),
    Column("periods_principal_fen", BigInteger, nullable=False, server_default="0"),
    Column("carried_fen", BigInteger, nullable=False, server_default="0"),
    Column("converted_fen", BigInteger, nullable=False, server_default="0"),
    Column("fee_fen", BigInteger, nullable=False, server_default="0"),
    Column("repaid_fee_fen", BigInteger, nullable=False, server_default="0"),
    Column("interest_fen", BigInteger, nullable=False, server_default="0"),
    Column("repaid_interest_fen", BigInteger, nullable=False, server_default="0"),
    Column("rolled_principal_fen", BigInteger, nullable=False, server_default="0"),
    Column("rolled_interest_fen", BigInteger, nullable=False, server_default="0"),
    Column("rolled_to_bill_id", BigInteger, nullable=True),
    UniqueConstraint("user_id", "period", name="uq_credit_bills_user_period"),
    CheckConstraint("principal_fen > 0", name="principal_positive"),
    CheckConstraint(
        "refunded_fen + converted_fen + rolled_principal_fen + repaid_principal_fen"
        " <= principal_fen",
        name="principal_within",
    ),
    CheckConstraint("repaid_penalty_fen <= penalty_fen", name="penalty_within"),
    CheckConstraint("repaid_fee_fen <= fee_fen", name="fee_within"),
    CheckConstraint(
        "repaid_interest_fen + rolled_interest_fen <= interest_fen", name="interest_within"
    ),
)
Index("ix_credit_bills_user_status", credit_bills.c.user_id, credit_bills.c.status)

credit_repayments = Table(
    "credit_repayments",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("penalty_fen", BigInteger, nullable=False),
    Column("principal_fen", BigInteger, nullable=False),
    Column("outstanding_after_fen", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("interest_fen", BigInteger, nullable=False, server_default="0"),
    Column("fee_fen", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint(
        "penalty_fen + interest_fen + fee_fen + principal_fen = amount_fen", name="parts_add_up"
    ),
)
Index("ix_credit_repayments_user", credit_repayments.c.user_id)

# What one repayment paid of one bill.
credit_repayment_parts = Table(
    "credit_repayment_parts",
    metadata,
    Column("repayment_id", BigInteger, nullable=False),
    Column("bill_id", BigInteger, nullable=False),
    Column("penalty_fen", BigInteger, nullable=False),
    Column("principal_fen", BigInteger, nullable=False),
    Column("interest_fen", BigInteger, nullable=False, server_default="0"),
    Column("fee_fen", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("repayment_id", "bill_id", name="pk_credit_repayment_parts"),
)
Index("ix_credit_repayment_parts_bill", credit_repayment_parts.c.bill_id)

# One overdue day's penalty of one bill: the key makes the daily job idempotent.
credit_penalties = Table(
    "credit_penalties",
    metadata,
    Column("bill_id", BigInteger, nullable=False),
    Column("day", String(10), nullable=False),
    Column("principal_fen", BigInteger, nullable=False),  # the unpaid principal charged
    Column("amount_fen", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("bill_id", "day", name="pk_credit_penalties"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)

# Where a refund of a credit-paid trade went: `to_line_fen` back to the line (a bill's
# principal, or the open amount when `bill_id` is null), the rest stayed in the wallet.
credit_refunds = Table(
    "credit_refunds",
    metadata,
    Column("refund_id", BigInteger, primary_key=True, autoincrement=False),
    Column("trade_no", String(32), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("bill_id", BigInteger, nullable=True),
    Column("to_line_fen", BigInteger, nullable=False),
    Column("to_balance_fen", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("to_line_fen >= 0 AND to_balance_fen >= 0", name="parts_not_negative"),
)
Index("ix_credit_refunds_trade", credit_refunds.c.trade_no)
