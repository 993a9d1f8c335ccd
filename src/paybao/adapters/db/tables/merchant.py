"""Merchants and their open-API apps (one merchant, one or more 16-digit app ids)."""

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
)
Index("ix_merchant_apps_merchant", merchant_apps.c.merchant_id)
