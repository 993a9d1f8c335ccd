"""Apps' AES keys for Alipay's content encryption (接口内容加密), sealed at rest
(adapters/app_aes_vault.py): one row per app that has one; resetting replaces the row's key."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table, Text

from paybao.adapters.db.tables.base import metadata

app_aes_keys = Table(
    "app_aes_keys",
    metadata,
    Column("app_id", String(16), primary_key=True),
    # base64 of nonce | AES-256-GCM(key) | tag, bound to app_id.
    Column("sealed_key", Text, nullable=False),
    Column("set_at_us", BigInteger, nullable=False),
)
