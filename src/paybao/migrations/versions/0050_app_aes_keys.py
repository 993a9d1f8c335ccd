"""app_aes_keys: apps' AES keys for Alipay's content encryption (接口内容加密)

One row per app that has a key, sealed at rest (adapters/app_aes_vault.py). A new table:
nothing existing changes, and an app without a row answers encrypted requests with Alipay's
isv.decryption-error-not-valid-encrypt-key.

Revision ID: 0050_app_aes_keys
Revises: 0049_app_certificates
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0050_app_aes_keys"
down_revision = "0049_app_certificates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_aes_keys",
        sa.Column("app_id", sa.String(16), nullable=False),
        sa.Column("sealed_key", sa.Text(), nullable=False),
        sa.Column("set_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", name="pk_app_aes_keys"),
    )


def downgrade() -> None:
    op.drop_table("app_aes_keys")
