"""Top-up channels (domain/topup_channels.py): online-banking top-ups and the bank notices
paybao accepted, cash top-up partners with their API keys and prefund deposits, and cash codes.

`bank_pay_orders` is the sandbox bank's own record of online-banking orders (its side of the
channel): only adapters/banks/sandbox_bank_pay.py touches it, as if the bank were elsewhere.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    String,
    Table,
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata

bank_pay_topups = Table(
    "bank_pay_topups",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("bank_code", String(16), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    # pending -> succeeded | failed | expired
    Column("status", String(12), nullable=False),
    # How the confirmation arrived first: notice | return | query (NULL while pending).
    Column("confirmed_by", String(8), nullable=True),
    Column("failure_code", String(64), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'expired')", name="status_known"),
)
Index("ix_bank_pay_topups_user", bank_pay_topups.c.user_id, bank_pay_topups.c.id)
Index("ix_bank_pay_topups_status", bank_pay_topups.c.status, bank_pay_topups.c.expires_at_us)

# Every bank notice paybao accepted, by the bank's notice id: a replay is found here.
bank_pay_notices = Table(
    "bank_pay_notices",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("notify_id", String(64), nullable=False, unique=True),
    Column("topup_id", BigInteger, nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
)

# The sandbox bank's side: the orders paybao sent its customers to pay on its pages.
bank_pay_orders = Table(
    "bank_pay_orders",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("order_no", String(64), nullable=False, unique=True),  # paybao's `bankpay:<id>`
    Column("bank_code", String(16), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("return_url", String(512), nullable=False),
    Column("notify_url", String(512), nullable=False),
    Column("status", String(12), nullable=False),  # awaiting -> paid | failed | closed
    Column("card_number", String(19), nullable=True),
    Column("ordered_at_us", BigInteger, nullable=False),  # paybao's creation time
    Column("expires_at_us", BigInteger, nullable=False),
    Column("paid_at_us", BigInteger, nullable=True),
    Column("notify_id", String(64), nullable=True),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("status IN ('awaiting', 'paid', 'failed', 'closed')", name="status_known"),
)
Index("ix_bank_pay_orders_ordered", bank_pay_orders.c.ordered_at_us)

cash_topup_partners = Table(
    "cash_topup_partners",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(12), nullable=False),  # active | disabled
    Column("key_sha256", String(64), nullable=False, unique=True),  # never the key itself
    Column("prefund_account_id", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("status IN ('active', 'disabled')", name="status_known"),
)

cash_topup_deposits = Table(
    "cash_topup_deposits",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("partner_id", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    # The wire's reference at the bank: one deposit per reference (a retry records nothing).
    Column("reference", String(64), nullable=False),
    Column("operator_id", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    UniqueConstraint("partner_id", "reference", name="uq_cash_topup_deposits_partner_id_reference"),
)

cash_topup_codes = Table(
    "cash_topup_codes",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("code", String(18), nullable=False, unique=True),
    Column("user_id", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    # open -> redeemed -> reversed; open -> expired | cancelled
    Column("status", String(12), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("partner_id", BigInteger, nullable=True),
    Column("partner_request_no", String(64), nullable=True),
    Column("redeemed_at_us", BigInteger, nullable=True),
    Column("reversed_at_us", BigInteger, nullable=True),
    Column("finished_at_us", BigInteger, nullable=True),  # expired or cancelled
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint(
        "status IN ('open', 'redeemed', 'reversed', 'expired', 'cancelled')",
        name="status_known",
    ),
    CheckConstraint(
        "(status IN ('redeemed', 'reversed')) = (partner_id IS NOT NULL)", name="redeemer_set"
    ),
    # A partner's request number names one redemption (its retries find it here).
    UniqueConstraint(
        "partner_id", "partner_request_no", name="uq_cash_topup_codes_partner_id_request_no"
    ),
)
Index("ix_cash_topup_codes_user", cash_topup_codes.c.user_id, cash_topup_codes.c.id)
Index("ix_cash_topup_codes_status", cash_topup_codes.c.status, cash_topup_codes.c.expires_at_us)
