"""withdrawals: an index for the payout sweep and the operators' payout page

The sweep that sends due payouts asks for `status = 'held' AND due_at_us <= now` on every pass,
and the payout page counts held and sent payouts by status; card payouts had this index from
their start, withdrawals scanned the whole table.

Revision ID: 0031_withdrawals_due
Revises: 0030_topup_channels
Create Date: 2026-11-26 12:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0031_withdrawals_due"
down_revision = "0030_topup_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_withdrawals_due", "withdrawals", ["status", "due_at_us"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_withdrawals_due", table_name="withdrawals")
