"""third-party app authorisation: ISV apps acting for merchant apps (app_auth_token)

第三方应用授权 (domain/app_auth.py, alipay.open.auth.token.app and its query, the gateway's
app_auth_token). Codes and tokens are stored as SHA-256 hashes only. New tables: nothing
existing changes.

Revision ID: 0053_app_auth
Revises: 0052_member_cards
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0053_app_auth"
down_revision = "0052_member_cards"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "app_auths",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("isv_app_id", sa.String(length=32), nullable=False),
        sa.Column("auth_app_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("granted_at_us", sa.BigInteger(), nullable=False),
        sa.Column("changed_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_app_auths"),
        sa.UniqueConstraint("isv_app_id", "auth_app_id", name="uq_app_auths_isv_app"),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_app_auths_status_known"),
    )
    op.create_index("ix_app_auths_merchant", "app_auths", ["merchant_id"])
    op.create_table(
        "app_auth_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("auth_id", sa.BigInteger(), nullable=False),
        sa.Column("isv_app_id", sa.String(length=32), nullable=False),
        sa.Column("issued_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("used_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name="pk_app_auth_codes"),
    )
    op.create_index("ix_app_auth_codes_auth", "app_auth_codes", ["auth_id"])
    op.create_table(
        "app_auth_tokens",
        sa.Column("auth_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("isv_app_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("refresh_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("refresh_expires_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("auth_id", name="pk_app_auth_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_app_auth_tokens_token_hash"),
        sa.UniqueConstraint("refresh_hash", name="uq_app_auth_tokens_refresh_hash"),
    )


def downgrade() -> None:
    op.drop_table("app_auth_tokens")
    op.drop_index("ix_app_auth_codes_auth", table_name="app_auth_codes")
    op.drop_table("app_auth_codes")
    op.drop_index("ix_app_auths_merchant", table_name="app_auths")
    op.drop_table("app_auths")
