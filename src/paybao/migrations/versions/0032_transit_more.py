"""transit ride codes: an index for the sweep that recovers rides a crash left PENDING

The sweep asks for `status = 'PENDING' AND created_at_us < now - 2 min` on every pass; without
the index that scans every ride ever settled.

Revision ID: 0032_transit_more
Revises: 0031_withdrawals_due
Create Date: 2026-11-26 12:15:00
"""

from __future__ import annotations

from alembic import op

revision = "0032_transit_more"
down_revision = "0031_withdrawals_due"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_transit_rides_pending", "transit_rides", ["status", "created_at_us"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_transit_rides_pending", table_name="transit_rides")
