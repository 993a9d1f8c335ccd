"""merchant portal: indexes for the admin page of unsettled card refunds and for pruning
merchant_signups

A partial index on card_refunds (processing or failed, newest first by refund id) and one on
merchant_signups.created_at_us (the pruning job deletes the oldest rows past the rate-limit
windows). Follows 0013_user_devices.

Revision ID: 0014_portal_indexes
Revises: 0013_user_devices
Create Date: 2026-11-28 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_portal_indexes"
down_revision = "0013_user_devices"
branch_labels = None
depends_on = None

UNSETTLED = "status IN ('processing', 'failed')"


def upgrade() -> None:
    op.create_index(
        "ix_card_refunds_unsettled",
        "card_refunds",
        ["refund_id"],
        unique=False,
        sqlite_where=sa.text(UNSETTLED),
        postgresql_where=sa.text(UNSETTLED),
    )
    op.create_index(
        "ix_merchant_signups_created", "merchant_signups", ["created_at_us"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_merchant_signups_created", table_name="merchant_signups")
    op.drop_index("ix_card_refunds_unsettled", table_name="card_refunds")
