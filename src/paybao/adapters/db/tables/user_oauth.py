"""User OAuth (`domain/user_oauth.py`): a user's authorisation of an app, its one-time codes, and
the token pairs the app holds.

Secrets are stored as their SHA-256 only (`*_hash`, 64 hex digits). One authorisation row per
(user, app): authorising again widens its scopes and switches it back on; revoking it deletes
its codes and tokens, so nothing issued before keeps working.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String, Table, UniqueConstraint

from paybao.adapters.db.tables.base import IdType, metadata

oauth_grants = Table(
    "oauth_grants",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    # Comma-separated, sorted: auth_base, auth_user.
    Column("scopes", String(64), nullable=False),
    Column("status", String(8), nullable=False),
    Column("granted_at_us", BigInteger, nullable=False),
    Column("changed_at_us", BigInteger, nullable=False),
    UniqueConstraint("user_id", "app_id", name="uq_oauth_grants_user_app"),
    CheckConstraint("status IN ('active', 'revoked')", name="status_known"),
)

oauth_codes = Table(
    "oauth_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("grant_id", BigInteger, nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("issued_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("used_at_us", BigInteger, nullable=True),
)
Index("ix_oauth_codes_grant", oauth_codes.c.grant_id)

oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("grant_id", BigInteger, nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("access_hash", String(64), nullable=False, unique=True),
    Column("refresh_hash", String(64), nullable=False, unique=True),
    # When this pair was issued (Alipay's auth_start); a refresh issues a new pair.
    Column("issued_at_us", BigInteger, nullable=False),
    Column("access_expires_at_us", BigInteger, nullable=False),
    Column("refresh_expires_at_us", BigInteger, nullable=False),
)
Index("ix_oauth_tokens_grant", oauth_tokens.c.grant_id)
