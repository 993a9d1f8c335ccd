"""Third-party app authorisation (`domain/app_auth.py`): a merchant app's authorisation of an
ISV app, its one-time codes, and the one token pair the ISV holds for it.

Secrets are stored as their SHA-256 only (`*_hash`, 64 hex digits). One authorisation row per
(ISV app, merchant app): authorising again switches it back on; revoking it deletes its codes
and its pair, so nothing issued before keeps working. A token exchange or refresh replaces the
authorisation's pair in place (the token table's key is the authorisation).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String, Table, UniqueConstraint

from paybao.adapters.db.tables.base import IdType, metadata

app_auths = Table(
    "app_auths",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("isv_app_id", String(32), nullable=False),
    Column("auth_app_id", String(32), nullable=False),
    # The merchant whose app auth_app_id is: its portal lists and revokes the row.
    Column("merchant_id", BigInteger, nullable=False),
    Column("status", String(8), nullable=False),
    Column("granted_at_us", BigInteger, nullable=False),
    Column("changed_at_us", BigInteger, nullable=False),
    UniqueConstraint("isv_app_id", "auth_app_id", name="uq_app_auths_isv_app"),
    CheckConstraint("status IN ('active', 'revoked')", name="status_known"),
)
Index("ix_app_auths_merchant", app_auths.c.merchant_id)

app_auth_codes = Table(
    "app_auth_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("auth_id", BigInteger, nullable=False),
    Column("isv_app_id", String(32), nullable=False),
    Column("issued_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("used_at_us", BigInteger, nullable=True),
)
Index("ix_app_auth_codes_auth", app_auth_codes.c.auth_id)

app_auth_tokens = Table(
    "app_auth_tokens",
    metadata,
    Column("auth_id", BigInteger, primary_key=True, autoincrement=False),
    Column("isv_app_id", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("refresh_hash", String(64), nullable=False, unique=True),
    # When this pair was issued (the query's auth_start); a refresh issues a new pair.
    Column("issued_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("refresh_expires_at_us", BigInteger, nullable=False),
)
