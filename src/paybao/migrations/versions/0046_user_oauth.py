"""user OAuth: users' authorisations of apps, one-time auth codes, token pairs

"Log in with paybao" (domain/user_oauth.py, alipay.system.oauth.token and
alipay.user.info.share). Codes and tokens are stored as SHA-256 hashes only. New tables:
nothing existing changes.

Revision ID: 0046_user_oauth
Revises: 0045_ledger_seals
Create Date: 2026-11-27 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0046_user_oauth"
down_revision = "0045_ledger_seals"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "oauth_grants",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("granted_at_us", sa.BigInteger(), nullable=False),
        sa.Column("changed_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_grants"),
        sa.UniqueConstraint("user_id", "app_id", name="uq_oauth_grants_user_app"),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_oauth_grants_status_known"),
    )
    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("grant_id", sa.BigInteger(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column("issued_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("used_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name="pk_oauth_codes"),
    )
    op.create_index("ix_oauth_codes_grant", "oauth_codes", ["grant_id"])
    op.create_table(
        "oauth_tokens",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("grant_id", sa.BigInteger(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column("access_hash", sa.String(length=64), nullable=False),
        sa.Column("refresh_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at_us", sa.BigInteger(), nullable=False),
        sa.Column("access_expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("refresh_expires_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_tokens"),
        sa.UniqueConstraint("access_hash", name="uq_oauth_tokens_access_hash"),
        sa.UniqueConstraint("refresh_hash", name="uq_oauth_tokens_refresh_hash"),
    )
    op.create_index("ix_oauth_tokens_grant", "oauth_tokens", ["grant_id"])


def downgrade() -> None:
    op.drop_index("ix_oauth_tokens_grant", table_name="oauth_tokens")
    op.drop_table("oauth_tokens")
    op.drop_index("ix_oauth_codes_grant", table_name="oauth_codes")
    op.drop_table("oauth_codes")
    op.drop_table("oauth_grants")
