"""Paying by code: bound devices and spent code steps, payment-code preferences, daily barcode
totals, pending confirmations (10003), static receive-money codes and dynamic order QR tokens.

Single use and idempotency are unique constraints, never check-then-insert:
`(device_id, step)` for spent codes, `(owner_kind, owner_id)` and `token` for static codes,
`trade_no` and `token` for order QR codes, `trade_no` for confirmations.
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

# A device's id is the number its payment codes carry (enciphered into the 9 locator digits).
paycode_devices = Table(
    "paycode_devices",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("name", String(64), nullable=False),
    # The 32-byte seed, AES-GCM sealed with a key kept in the data folder (base64 text).
    Column("seed_sealed", Text, nullable=False),
    Column("status", String(12), nullable=False, server_default="active"),
    # Failed verifications on `failures_day` (a Beijing date); a new day starts from zero.
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("failures_day", String(10), nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    Column("unbound_at_us", BigInteger, nullable=True),
)
Index("ix_paycode_devices_user", paycode_devices.c.user_id)

# Every accepted code: the row is the proof it was presented; a second use hits the unique key.
paycode_uses = Table(
    "paycode_uses",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("device_id", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("used_at_us", BigInteger, nullable=False),
    UniqueConstraint("device_id", "step", name="uq_paycode_uses_device_step"),
)

paycode_prefs = Table(
    "paycode_prefs",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("password_free_fen", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    CheckConstraint("password_free_fen >= 0", name="password_free_not_negative"),
)

# Rolling per-day totals by kind: "barcode" (all code payments), "barcode_free" (without a
# password), "static" (paid on receive-money codes), per payer and Beijing date.
paycode_day_totals = Table(
    "paycode_day_totals",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("day", String(10), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("amount_fen", BigInteger, nullable=False),
    CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
)

paycode_confirmations = Table(
    "paycode_confirmations",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("trade_no", String(32), nullable=False, unique=True),
    Column("user_id", BigInteger, nullable=False),
    Column("device_id", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("merchant_name", String(128), nullable=False),
    Column("subject", String(256), nullable=False),
    Column("status", String(12), nullable=False, server_default="pending"),
    Column("created_at_us", BigInteger, nullable=False),
    Column("decided_at_us", BigInteger, nullable=True),
)
Index(
    "ix_paycode_confirmations_user",
    paycode_confirmations.c.user_id,
    paycode_confirmations.c.status,
)

static_codes = Table(
    "static_codes",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("token", String(32), nullable=False, unique=True),
    Column("owner_kind", String(8), nullable=False),
    Column("owner_id", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("owner_kind", "owner_id", name="uq_static_codes_owner_kind"),
    CheckConstraint("owner_kind IN ('merchant', 'user')", name="owner_kind_known"),
)

qr_order_codes = Table(
    "qr_order_codes",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("token", String(32), nullable=False, unique=True),
    Column("trade_no", String(32), nullable=False, unique=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("scanned_at_us", BigInteger, nullable=True),
)
