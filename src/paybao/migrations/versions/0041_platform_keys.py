"""platform RSA keys: several generations, one per app, rotation with overlap

`platform_keys` lists the platform's key pairs by generation (active | retired); the pair every
installation already has is generation 1, inserted here, and every existing app stays on it
(`merchant_apps.platform_key_generation`, default 1), so nothing a merchant verifies changes.
The column is added in place (no table rebuild on SQLite).

Revision ID: 0041_platform_keys
Revises: 0040_red_packets
Create Date: 2026-11-26 21:00:00
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0041_platform_keys"
down_revision = "0040_red_packets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    keys = op.create_table(
        "platform_keys",
        sa.Column("generation", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=12), server_default="active", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("generation"),
    )
    op.bulk_insert(
        keys, [{"generation": 1, "state": "active", "created_at_us": time.time_ns() // 1000}]
    )
    with op.batch_alter_table("merchant_apps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("platform_key_generation", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.create_index(
            "ix_merchant_apps_platform_key", ["platform_key_generation"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("merchant_apps", schema=None) as batch_op:
        batch_op.drop_index("ix_merchant_apps_platform_key")
        batch_op.drop_column("platform_key_generation")
    op.drop_table("platform_keys")
