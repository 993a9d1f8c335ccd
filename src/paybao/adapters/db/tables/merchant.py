"""Merchants, their open-API apps (one merchant, one or more 16-digit app ids) and the
platform key generations those apps are signed with."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from paybao.adapters.db.tables.base import IdType, metadata

merchants = Table(
    "merchants",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("notify_url", Text, nullable=True),
    Column("fee_rate_ppm", Integer, nullable=False),
    Column("settlement_account_id", BigInteger, nullable=False),
    # The wallet user who runs the merchant portal for it (optional for CLI-made merchants).
    Column("owner_user_id", BigInteger, nullable=True),
    Column("status", String(12), nullable=False, server_default="active"),
    Column("created_at_us", BigInteger, nullable=False),
)
Index("ix_merchants_owner", merchants.c.owner_user_id)

merchant_apps = Table(
    "merchant_apps",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("app_id", String(16), nullable=False, unique=True),
    Column("merchant_id", BigInteger, nullable=False),
    Column("public_key", Text, nullable=False),
    Column("status", String(12), nullable=False, server_default="active"),
    Column("created_at_us", BigInteger, nullable=False),
    # Which platform key pair signs this app's answers (platform_keys.generation).
    Column("platform_key_generation", Integer, nullable=False, server_default="1"),
)
Index("ix_merchant_apps_merchant", merchant_apps.c.merchant_id)
Index("ix_merchant_apps_platform_key", merchant_apps.c.platform_key_generation)

# The platform's RSA key pairs (files in the data folder, adapters/alipay/platform_key.py):
# generation 1 is the pair every installation started with; new apps get the newest.
platform_keys = Table(
    "platform_keys",
    metadata,
    Column("generation", Integer, primary_key=True, autoincrement=False),
    Column("state", String(12), nullable=False, server_default="active"),
    Column("created_at_us", BigInteger, nullable=False),
)
