"""time indexes for the operators' dashboard (/admin/dashboard)

The dashboard (services/dashboard.py) sums the last 1..90 Beijing days of escrow payments and
endings, trade refunds, top-ups, withdrawals, wallet transfers and red packets, each by the
row's time; without these indexes each of those reads scans its whole table. A pre-authorisation
capture is told by its pay operation's trade_no. Trades already have (status, paid_at_us) and
risk decisions (created_at_us).

Revision ID: 0042_dashboard_indexes
Revises: 0041_platform_keys
Create Date: 2026-11-26 21:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0042_dashboard_indexes"
down_revision = "0041_platform_keys"
branch_labels = None
depends_on = None

# (index, table, column): the same as adapters/db/tables/dashboard.py declares.
INDEXES = (
    ("ix_escrow_trades_paid", "escrow_trades", "paid_at_us"),
    ("ix_escrow_trades_ended", "escrow_trades", "ended_at_us"),
    ("ix_trade_refunds_created", "trade_refunds", "created_at_us"),
    ("ix_topups_created", "topups", "created_at_us"),
    ("ix_withdrawals_created", "withdrawals", "created_at_us"),
    ("ix_wallet_transfers_created", "wallet_transfers", "created_at_us"),
    ("ix_red_packets_created", "red_packets", "created_at_us"),
    ("ix_preauth_operations_trade", "preauth_operations", "trade_no"),
)


def upgrade() -> None:
    # IF NOT EXISTS: an operator with big tables builds them CONCURRENTLY beforehand
    # (docs/operations.md, "Upgrades"), and the upgrade then finds them.
    for name, table, column in INDEXES:
        op.create_index(name, table, [column], if_not_exists=True)


def downgrade() -> None:
    for name, table, _column in reversed(INDEXES):
        op.drop_index(name, table_name=table)
