"""trades by (status, paid_at_us): the finish sweep's range read

Paid trades are finished (TRADE_SUCCESS -> TRADE_FINISHED) by a sweep once their refund window
has passed, no longer by one scheduled job per trade. The sweep asks for the oldest paid trades
of status TRADE_SUCCESS; with this index that is a range read, never a scan of every trade.

Revision ID: 0037_trade_finish_index
Revises: 0036_royalty
Create Date: 2026-11-26 18:15:00
"""

from __future__ import annotations

from alembic import op

revision = "0037_trade_finish_index"
down_revision = "0036_royalty"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: an operator with a big trades table builds it CONCURRENTLY beforehand
    # (docs/operations.md, "Upgrades"), and the upgrade then finds it.
    op.create_index("ix_trades_status_paid", "trades", ["status", "paid_at_us"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_trades_status_paid", table_name="trades")
