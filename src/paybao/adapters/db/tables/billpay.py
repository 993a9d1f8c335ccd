"""City services (domain/billpay.py): billers, bill payments and mobile top-ups, saved bill
accounts, and the sandbox biller's own book.

`billpay_payments.bill_key` is unique: a bill (biller, account number, month) has one payment
in progress or paid at most; a failed payment gives its key up (a CHECK says so), so the bill
may be paid again. `billpay_sandbox_payments` is the sandbox biller's record, keyed by the
platform's request id, so a repeated confirmation request never pays a bill twice there.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String, Table, UniqueConstraint

from paybao.adapters.db.tables.base import IdType, metadata

_CATEGORIES = "'water', 'electricity', 'gas', 'broadband', 'mobile'"

billers = Table(
    "billers",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(64), nullable=False),
    Column("category", String(16), nullable=False),
    Column("city", String(16), nullable=False),  # a domain.billpay.CITIES code, or 'national'
    Column("merchant_id", BigInteger, nullable=False),  # receives the money
    Column("status", String(8), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    CheckConstraint(f"category IN ({_CATEGORIES})", name="category_known"),
    CheckConstraint("status IN ('active', 'disabled')", name="status_known"),
)
Index("ix_billers_city", billers.c.city, billers.c.category)

billpay_payments = Table(
    "billpay_payments",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),  # bill | topup
    Column("biller_id", BigInteger, nullable=False),
    Column("account_no", String(20), nullable=False),  # the phone number for a top-up
    Column("period", String(7), nullable=False),  # yyyy-mm
    Column("bill_key", String(64), nullable=True, unique=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("outstanding_fen", BigInteger, nullable=True),
    Column("holder_masked", String(64), nullable=False),
    Column("status", String(12), nullable=False),
    Column("failure_code", String(64), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("kind IN ('bill', 'topup')", name="kind_known"),
    CheckConstraint("status IN ('processing', 'paid', 'failed')", name="status_known"),
    CheckConstraint("status <> 'failed' OR bill_key IS NULL", name="failed_frees_bill"),
)
# A user's payments, newest first.
Index("ix_billpay_payments_user", billpay_payments.c.user_id, billpay_payments.c.id)

billpay_saved_accounts = Table(
    "billpay_saved_accounts",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("biller_id", BigInteger, nullable=False),
    Column("account_no", String(20), nullable=False),
    Column("nickname", String(40), nullable=False),
    # What the biller said at the last look.
    Column("holder_masked", String(64), nullable=False),
    Column("outstanding_fen", BigInteger, nullable=False),
    Column("period", String(7), nullable=False),
    Column("checked_at_us", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("user_id", "biller_id", "account_no"),
    CheckConstraint("outstanding_fen >= 0", name="outstanding_not_negative"),
)
# Every saved copy of an account (refreshed together), and the refresh sweep's order.
Index(
    "ix_billpay_saved_accounts_account",
    billpay_saved_accounts.c.biller_id,
    billpay_saved_accounts.c.account_no,
)
Index("ix_billpay_saved_accounts_checked", billpay_saved_accounts.c.checked_at_us)

billpay_sandbox_payments = Table(
    "billpay_sandbox_payments",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("biller_code", String(32), nullable=False),
    Column("account_no", String(20), nullable=False),
    Column("period", String(7), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),  # confirmed | declined
    Column("decline_code", String(64), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("status IN ('confirmed', 'declined')", name="status_known"),
)
Index(
    "ix_billpay_sandbox_payments_bill",
    billpay_sandbox_payments.c.biller_code,
    billpay_sandbox_payments.c.account_no,
    billpay_sandbox_payments.c.period,
)
