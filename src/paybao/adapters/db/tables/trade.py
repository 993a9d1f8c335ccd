"""Acquiring trades, their refunds, merchant notifications (with every delivery attempt),
merchant-to-user transfers and one-time payment auth codes.

Idempotency is enforced by unique constraints, never by check-then-insert:
`(app_id, out_trade_no)`, `(trade_id, out_request_no)`, `(app_id, out_biz_no)`.
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

trades = Table(
    "trades",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("trade_no", String(32), nullable=False, unique=True),
    Column("app_id", String(16), nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("out_trade_no", String(64), nullable=False),
    Column("product", String(32), nullable=False),
    Column("subject", String(256), nullable=False),
    Column("body", String(400), nullable=True),
    Column("total_fen", BigInteger, nullable=False),
    Column("fee_fen", BigInteger, nullable=False, server_default="0"),
    Column("refunded_fen", BigInteger, nullable=False, server_default="0"),
    Column("fee_refunded_fen", BigInteger, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),
    Column("buyer_user_id", BigInteger, nullable=True),
    # A digest of the business parameters: the same out_trade_no must come back with them.
    Column("fingerprint", String(64), nullable=False),
    Column("notify_url", Text, nullable=True),
    Column("return_url", Text, nullable=True),
    Column("passback", Text, nullable=True),
    # Opaque to services: what the channel adapter needs to answer later (sign type, charset).
    Column("channel_context", Text, nullable=False, server_default="{}"),
    # A precreated (QR) trade exists for the merchant only once a buyer has scanned it.
    Column("visible", Integer, nullable=False, server_default="1"),
    Column("store_id", String(64), nullable=True),
    # The till that took the order (cash-register integration): carried into the bills.
    Column("operator_id", String(28), nullable=True),
    Column("terminal_id", String(32), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("paid_at_us", BigInteger, nullable=True),
    Column("closed_at_us", BigInteger, nullable=True),
    Column("finished_at_us", BigInteger, nullable=True),
    # How the buyer paid: 'balance' | 'card' (domain Funding); NULL while unpaid. Refunds go
    # back the same way, and fund_bill_list names it.
    Column("funding", String(16), nullable=True),
    # The funding split (domain/trades.py, coupons): the part of the total no coupon may take
    # (the request's undiscountable_amount), the platform-funded discount (discount_amount)
    # and the merchant-funded one (mdiscount_amount). receipt = total - mdiscount,
    # buyer pays receipt - discount.
    Column("undiscountable_fen", BigInteger, nullable=False, server_default="0"),
    Column("discount_fen", BigInteger, nullable=False, server_default="0"),
    Column("mdiscount_fen", BigInteger, nullable=False, server_default="0"),
    # The one user who may pay this order (alipay.trade.create's buyer_id, after "Log in with
    # paybao"); NULL: whoever opens the cashier. Read with the row, so no payment path needs
    # another query to enforce it.
    Column("designated_buyer_id", BigInteger, nullable=True),
    UniqueConstraint("app_id", "out_trade_no", name="uq_trades_app_out_trade_no"),
    CheckConstraint("total_fen > 0", name="total_positive"),
    CheckConstraint("refunded_fen >= 0 AND refunded_fen <= total_fen", name="refund_within_total"),
)
Index("ix_trades_merchant_created", trades.c.merchant_id, trades.c.created_at_us)
# The finish sweep (services/trades.py): paid trades of a status, oldest payment first.
Index("ix_trades_status_paid", trades.c.status, trades.c.paid_at_us)

trade_refunds = Table(
    "trade_refunds",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("trade_id", BigInteger, nullable=False),
    Column("out_request_no", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("fee_back_fen", BigInteger, nullable=False),
    Column("reason", String(256), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    # A refund of a discounted trade, pro rata: the platform's subsidy reclaimed, and the
    # merchant discount's share (never moved). The buyer gets amount - both.
    Column("discount_back_fen", BigInteger, nullable=False, server_default="0"),
    Column("mdiscount_back_fen", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("trade_id", "out_request_no", name="uq_trade_refunds_trade_request"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)

trade_notifications = Table(
    "trade_notifications",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("notify_id", String(64), nullable=False, unique=True),
    Column("trade_id", BigInteger, nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("url", Text, nullable=False),
    Column("event", String(16), nullable=False),
    # The trade as it was when the event happened (domain names, JSON).
    Column("snapshot", Text, nullable=False),
    Column("status", String(12), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at_us", BigInteger, nullable=False),
    Column("last_attempt_at_us", BigInteger, nullable=True),
    Column("delivered_at_us", BigInteger, nullable=True),
)
Index("ix_trade_notifications_trade", trade_notifications.c.trade_id)
Index(
    "ix_trade_notifications_merchant",
    trade_notifications.c.merchant_id,
    trade_notifications.c.created_at_us,
)

notify_attempts = Table(
    "notify_attempts",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("notification_id", BigInteger, nullable=False),
    Column("attempt_no", Integer, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("http_status", Integer, nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("detail", String(256), nullable=False, server_default=""),
)
Index("ix_notify_attempts_notification", notify_attempts.c.notification_id)

fund_transfers = Table(
    "fund_transfers",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("order_no", String(32), nullable=False, unique=True),
    Column("app_id", String(16), nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("out_biz_no", String(64), nullable=False),
    Column("payee_user_id", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("title", String(128), nullable=True),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("app_id", "out_biz_no", name="uq_fund_transfers_app_out_biz_no"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)

# One-time codes a buyer shows at a till (issued by the wallet; the 18-digit offline payment
# code of the payment-code feature is resolved by that feature instead).
pay_auth_codes = Table(
    "pay_auth_codes",
    metadata,
    Column("code", String(24), primary_key=True),
    Column("user_id", BigInteger, nullable=False),
    Column("issued_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("used_at_us", BigInteger, nullable=True),
)
