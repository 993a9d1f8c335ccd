"""Profit sharing (分账, domain/royalty.py): receivers an app has bound, each trade's sharing
state, the settles and their parts, and what receivers gave back in refunds (退分账).

Idempotency by constraints: one relation per (app, user), so binding again changes nothing; one
settle per (app, out_request_no), so a merchant's retry gets the first answer. One state row per
shared trade: a settle locks it (FOR UPDATE on PostgreSQL; SQLite serialises writers), so two
settles of a trade cannot both pass the cap, nor two refunds take back more than was settled.
One give-back row per (refund, seq): the refund's own unique key makes a repeat find them.

Asynchronous settles (`royalty_mode=async`, migration 0043_royalty_async): a settle's `mode`
and `status` (processing until its last part ran, then done), and each part's `state`
(PROCESSING, SUCCESS, FAIL), `error_code` (the domain code of a FAIL) and `executed_at_us`.
Sync settles and their parts are born done and SUCCESS (the columns' defaults).
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
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata

royalty_relations = Table(
    "royalty_relations",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("app_id", String(16), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("receiver_type", String(16), nullable=False),  # userId | loginName, as bound
    Column("account", String(32), nullable=False),  # as the merchant named the receiver
    Column("memo", String(256), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("app_id", "user_id", name="uq_royalty_relations_app_user"),
    CheckConstraint("receiver_type IN ('userId', 'loginName')", name="type_known"),
)

# Each shared trade's state: what was settled on it, and whether sharing is finished.
royalty_trades = Table(
    "royalty_trades",
    metadata,
    Column("trade_no", String(32), primary_key=True),
    Column("app_id", String(16), nullable=False),
    Column("settled_fen", BigInteger, nullable=False),
    Column("settles", Integer, nullable=False),
    Column("finished", Integer, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    CheckConstraint("settled_fen >= 0 AND settles >= 0", name="counts_positive"),
    CheckConstraint("finished IN (0, 1)", name="finished_flag"),
)

royalty_settles = Table(
    "royalty_settles",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("settle_no", String(32), nullable=False, unique=True),
    Column("app_id", String(16), nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("trade_no", String(32), nullable=False),
    Column("out_request_no", String(64), nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("finish", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("mode", String(8), nullable=False, server_default="sync"),  # sync | async
    Column("status", String(16), nullable=False, server_default="done"),  # processing | done
    UniqueConstraint("app_id", "out_request_no", name="uq_royalty_settles_app_request"),
    CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
)
Index("ix_royalty_settles_trade", royalty_settles.c.trade_no, royalty_settles.c.id)

royalty_settle_parts = Table(
    "royalty_settle_parts",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("settle_id", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("trans_in_type", String(16), nullable=False),
    Column("trans_in", String(32), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("description", String(128), nullable=False),
    Column("state", String(16), nullable=False, server_default="SUCCESS"),  # domain PartState
    Column("error_code", String(64), nullable=False, server_default=""),
    Column("executed_at_us", BigInteger, nullable=True),  # null while PROCESSING
    UniqueConstraint("settle_id", "seq", name="uq_royalty_settle_parts_settle_seq"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)

# What a receiver gave back in a refund (refund_royalty_parameters), as the merchant named it.
royalty_backs = Table(
    "royalty_backs",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("refund_id", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("trade_no", String(32), nullable=False),
    Column("app_id", String(16), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("trans_out_type", String(16), nullable=False),
    Column("trans_out", String(32), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("description", String(128), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("refund_id", "seq", name="uq_royalty_backs_refund_seq"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("trans_out_type IN ('userId', 'loginName')", name="type_known"),
)
Index("ix_royalty_backs_trade_user", royalty_backs.c.trade_no, royalty_backs.c.user_id)
