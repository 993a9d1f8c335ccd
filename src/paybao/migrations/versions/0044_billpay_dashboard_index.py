"""bill payments by the time their biller confirmed them, for the operators' dashboard

The dashboard (services/dashboard.py) counts bills and mobile top-ups as a payment scene of
their own, summed per Beijing day by `finished_at_us`; without this index that read scans the
whole table.

Revision ID: 0044_billpay_dashboard_index
Revises: 0043_royalty_async
Create Date: 2026-11-27 01:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0044_billpay_dashboard_index"
down_revision = "0043_royalty_async"
branch_labels = None
depends_on = None

# The same as adapters/db/tables/dashboard.py declares.
INDEX = ("ix_billpay_payments_finished", "billpay_payments", "finished_at_us")


def upgrade() -> None:
    # IF NOT EXISTS: an operator with a big table builds it CONCURRENTLY beforehand
    # (docs/operations.md, "Upgrades"), and the upgrade then finds it.
    name, table, column = INDEX
    op.create_index(name, table, [column], if_not_exists=True)


def downgrade() -> None:
    name, table, _column = INDEX
    op.drop_index(name, table_name=table)
