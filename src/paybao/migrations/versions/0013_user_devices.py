"""wallet: devices that confirm wallet operations in place of the payment password

Follows 0012_card_refunds; `upgrade heads` applies all.

Revision ID: 0013_user_devices
Revises: 0012_card_refunds
Create Date: 2026-11-26 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_user_devices"
down_revision = "0012_card_refunds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_devices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="active", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_devices")),
        sa.UniqueConstraint("device_id", name=op.f("uq_user_devices_device_id")),
        sa.UniqueConstraint("user_id", "public_key", name="uq_user_devices_user_key"),
    )
    op.create_index("ix_user_devices_user", "user_devices", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_user_devices_user", table_name="user_devices")
    op.drop_table("user_devices")
