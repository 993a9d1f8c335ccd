"""Merchant portal sign-in and sign-ups, and cashier payments funded from a bound card (and
their refunds back to the card)."""

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

# One row per self-service sign-up, written with the merchant: who signed up from where. The
# sign-up rate limits count these rows (per client address, per contact) in a sliding window.
merchant_signups = Table(
    "merchant_signups",
    metadata,
    Column("merchant_id", BigInteger, primary_key=True, autoincrement=False),
    # The limit key of the client address: an IPv4 address, or the /64 of an IPv6 one.
    Column("client_ip", String(64), nullable=False),
    # The normalised e-mail address or mobile number given at sign-up.
    Column("contact", String(254), nullable=False),
    # The contact as the limit counts it (an e-mail's +tag dropped).
    Column("contact_key", String(254), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)
Index("ix_merchant_signups_ip", merchant_signups.c.client_ip, merchant_signups.c.created_at_us)
Index(
    "ix_merchant_signups_contact",
    merchant_signups.c.contact_key,
    merchant_signups.c.created_at_us,
)
# Pruning takes the oldest rows, past every limit's window (0014).
Index("ix_merchant_signups_created", merchant_signups.c.created_at_us)

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
    # The coupons the buyer chose ("12,34"): `amount_fen` is what the buyer pays after them.
    Column("coupon_ids", String(32), nullable=True),
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

# A refund of a card-funded trade going back to the card (原路退回), one per refund row
# (`trade_refunds.id`). Written with the refund; the bank is asked to credit the card with
# request id `cardrefund:<refund_id>` (retried with the same id until it answers).
card_refunds = Table(
    "card_refunds",
    metadata,
    Column("refund_id", BigInteger, primary_key=True, autoincrement=False),
    Column("trade_no", String(32), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("card_id", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    # processing -> succeeded (on the card) | failed (refused: the money stays in the wallet)
    Column("status", String(12), nullable=False, server_default="processing"),
    Column("failure_code", String(64), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
)
Index("ix_card_refunds_trade_no", card_refunds.c.trade_no)
# The card refunds an operator must watch: refused (the money stayed in the buyer's balance) or
# still waiting for the bank. Few among many succeeded ones, so a partial index (0014) serves
# the admin page newest first.
CARD_REFUNDS_UNSETTLED = ("processing", "failed")
Index(
    "ix_card_refunds_unsettled",
    card_refunds.c.refund_id,
    sqlite_where=text("status IN ('processing', 'failed')"),
    postgresql_where=text("status IN ('processing', 'failed')"),
)
