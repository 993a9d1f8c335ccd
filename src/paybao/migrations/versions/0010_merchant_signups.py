"""merchant portal: a row per self-service sign-up (client address, contact) for its rate limits

Follows 0009_worker_heartbeats on its branch from 0003_gateway; `upgrade heads` applies all.
Merchants signed up before have no row and count toward no limit.

Revision ID: 0010_merchant_signups
Revises: 0009_worker_heartbeats
Create Date: 2026-11-27 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_merchant_signups"
down_revision = "0009_worker_heartbeats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merchant_signups",
        sa.Column("merchant_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("contact", sa.String(length=254), nullable=False),
        sa.Column("contact_key", sa.String(length=254), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_merchant_signups")),
    )
    op.create_index(
        "ix_merchant_signups_ip", "merchant_signups", ["client_ip", "created_at_us"], unique=False
    )
    op.create_index(
        "ix_merchant_signups_contact",
        "merchant_signups",
        ["contact_key", "created_at_us"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_merchant_signups_contact", table_name="merchant_signups")
    op.drop_index("ix_merchant_signups_ip", table_name="merchant_signups")
    op.drop_table("merchant_signups")
