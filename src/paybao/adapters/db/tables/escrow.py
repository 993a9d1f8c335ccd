"""Escrow trades, marketplace listings and dispute messages (with evidence images).

An escrow trade paid partly with platform-funded coupons records the discount
(`discount_fen`) and what of it went back to the marketing account (`discount_back_fen`).

Idempotency by unique constraints: a buyer's purchase by `(buyer_user_id, request_key)`, a
merchant's escrow order by `(app_id, out_trade_no)`.
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

escrow_listings = Table(
    "escrow_listings",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("seller_user_id", BigInteger, nullable=False),
    Column("title", String(128), nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("goods_type", String(16), nullable=False),
    Column("active", Integer, nullable=False, server_default="1"),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("price_fen > 0", name="price_positive"),
)
Index("ix_escrow_listings_seller", escrow_listings.c.seller_user_id)

escrow_trades = Table(
    "escrow_trades",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("escrow_no", String(32), nullable=False, unique=True),
    # Who sells: a wallet user (marketplace) or a merchant app (gateway). Paid to payee account.
    Column("listing_id", BigInteger, nullable=True),
    Column("seller_user_id", BigInteger, nullable=True),
    Column("merchant_id", BigInteger, nullable=True),
    Column("app_id", String(16), nullable=True),
    Column("out_trade_no", String(64), nullable=True),
    Column("payee_account_id", BigInteger, nullable=False),
    Column("buyer_user_id", BigInteger, nullable=True),
    Column("request_key", String(64), nullable=True),
    Column("title", String(128), nullable=False),
    Column("goods_type", String(16), nullable=False),
    Column("total_fen", BigInteger, nullable=False),
    Column("fee_rate_ppm", Integer, nullable=False),
    Column("fee_fen", BigInteger, nullable=False, server_default="0"),
    Column("refund_fen", BigInteger, nullable=False, server_default="0"),
    Column("status", String(32), nullable=False),
    Column("resolution", String(32), nullable=True),
    Column("carrier", String(32), nullable=True),
    Column("tracking_no", String(64), nullable=True),
    Column("confirm_due_at_us", BigInteger, nullable=True),
    Column("confirm_remaining_us", BigInteger, nullable=True),
    Column("extended_s", BigInteger, nullable=False, server_default="0"),
    # The one live timer: its generation and due time (None: no timer in this state).
    Column("timer_seq", Integer, nullable=False, server_default="0"),
    Column("timer_due_at_us", BigInteger, nullable=True),
    Column("refund_request_fen", BigInteger, nullable=True),
    Column("refund_reason", String(500), nullable=True),
    Column("notify_url", String(512), nullable=True),
    # What the channel adapter needs to notify: the ISV's app, when an ISV made the order for
    # the merchant (on_behalf.py); `{}` for a merchant's own order and for marketplace trades.
    Column("channel_context", Text, nullable=False, server_default="{}"),
    Column("created_at_us", BigInteger, nullable=False),
    Column("pay_expires_at_us", BigInteger, nullable=False),
    Column("paid_at_us", BigInteger, nullable=True),
    Column("shipped_at_us", BigInteger, nullable=True),
    Column("ended_at_us", BigInteger, nullable=True),
    # Coupons: the platform-funded part of the price (the buyer's hold is the rest) and the part
    # of it the marketing account took back when the trade ended (a refund's pro-rata share).
    Column("discount_fen", BigInteger, nullable=False, server_default="0"),
    Column("discount_back_fen", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("total_fen > 0", name="total_positive"),
    CheckConstraint("refund_fen >= 0 AND refund_fen <= total_fen", name="refund_in_range"),
    CheckConstraint(
        "discount_fen >= 0 AND discount_fen < total_fen"
        " AND discount_back_fen >= 0 AND discount_back_fen <= discount_fen",
        name="discount_in_range",
    ),
    UniqueConstraint("buyer_user_id", "request_key", name="uq_escrow_trades_buyer_request"),
    UniqueConstraint("app_id", "out_trade_no", name="uq_escrow_trades_app_out_trade_no"),
)
Index("ix_escrow_trades_buyer", escrow_trades.c.buyer_user_id)
Index("ix_escrow_trades_seller", escrow_trades.c.seller_user_id)
Index("ix_escrow_trades_status", escrow_trades.c.status)

escrow_messages = Table(
    "escrow_messages",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("escrow_id", BigInteger, nullable=False),
    Column("author", String(16), nullable=False),  # buyer | seller | operator | system
    Column("author_id", BigInteger, nullable=True),
    Column("text", Text, nullable=False),
    Column("image", LargeBinary, nullable=True),
    Column("image_type", String(32), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
)
Index("ix_escrow_messages_escrow", escrow_messages.c.escrow_id)
