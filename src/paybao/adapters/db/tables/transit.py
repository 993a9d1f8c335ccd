"""Transit ride codes: operators and fares, daily issuer keys, users' ride-code accounts,
settled rides and the codes each ride used.

Unique constraints do the deciding: one live account per user and operator (`live_key`, NULL
once closed), one ride per operator order number, one ride per scanned code.
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

transit_operators = Table(
    "transit_operators",
    metadata,
    Column("app_id", String(16), primary_key=True),
    Column("merchant_id", BigInteger, nullable=False),
    Column("name", String(64), nullable=False),
    Column("kind", String(8), nullable=False),
    # {"flat_fen": 200} or {"zones": {"S01": 1, ...}, "zone_fares_fen": [200, 300, ...]}
    Column("fare_rule", Text, nullable=False),
    CheckConstraint("kind IN ('METRO', 'BUS')", name="kind_known"),
)

# One issuer key pair per Beijing day (key_id yyyymmdd); the private half sealed (AES-GCM).
transit_issuer_keys = Table(
    "transit_issuer_keys",
    metadata,
    Column("key_id", Integer, primary_key=True, autoincrement=False),
    Column("public_key", String(66), nullable=False),  # compressed point, hex
    Column("sealed_private", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)

transit_accounts = Table(
    "transit_accounts",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("app_id", String(16), nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("agreement_no", String(32), nullable=False),
    Column("status", String(12), nullable=False),
    Column("live_key", String(40), nullable=True, unique=True),  # user|app while not CLOSED
    Column("public_key", String(66), nullable=False),  # the phone's key, compressed, hex
    Column("credit_limit_fen", BigInteger, nullable=False),
    Column("owed_fen", BigInteger, nullable=False, server_default="0"),
    Column("owed_count", Integer, nullable=False, server_default="0"),
    Column("opened_at_us", BigInteger, nullable=False),
    Column("close_after_us", BigInteger, nullable=True),
    Column("closed_at_us", BigInteger, nullable=True),
    CheckConstraint("status IN ('ACTIVE', 'SUSPENDED', 'CLOSING', 'CLOSED')", name="status_known"),
    CheckConstraint("owed_fen >= 0 AND owed_count >= 0", name="owed_not_negative"),
    CheckConstraint("owed_fen <= credit_limit_fen", name="owed_within_credit"),
    CheckConstraint("status = 'SUSPENDED' OR owed_fen = 0", name="debt_suspends"),
)
Index("ix_transit_accounts_user", transit_accounts.c.user_id, transit_accounts.c.id)
Index("ix_transit_accounts_blacklist", transit_accounts.c.app_id, transit_accounts.c.status)

transit_rides = Table(
    "transit_rides",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, nullable=False),
    Column("app_id", String(16), nullable=False),
    Column("out_trade_no", String(64), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("fare_fen", BigInteger, nullable=False),
    Column("status", String(8), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("first_station", String(16), nullable=False),
    Column("first_at_us", BigInteger, nullable=False),
    Column("last_station", String(16), nullable=True),
    Column("last_at_us", BigInteger, nullable=True),
    Column("trade_no", String(32), nullable=True),
    Column("owed_reason", String(200), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("settled_at_us", BigInteger, nullable=True),
    UniqueConstraint("app_id", "out_trade_no", name="uq_transit_rides_out_trade_no"),
    CheckConstraint("fare_fen > 0", name="fare_positive"),
    CheckConstraint(
        "status IN ('PENDING', 'PAID', 'OWED', 'REPAID', 'REFUSED')", name="status_known"
    ),
    CheckConstraint(
        "(status IN ('PAID', 'REPAID')) = (trade_no IS NOT NULL)", name="paid_has_trade"
    ),
)
Index("ix_transit_rides_account", transit_rides.c.account_id, transit_rides.c.status)
# The recovery sweep's question on every pass: PENDING rides older than a few minutes.
Index("ix_transit_rides_pending", transit_rides.c.status, transit_rides.c.created_at_us)

# Each scanned code settles at most one ride (a reader's replay, or an operator's double
# upload under two order numbers, is refused).
transit_code_uses = Table(
    "transit_code_uses",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("ride_id", BigInteger, nullable=False),
)
