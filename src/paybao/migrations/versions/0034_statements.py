"""monthly and annual statements: a wallet's transfers by time

The monthly and annual statements read one account's transfers of a time range; with these
two indexes that is a range read of the account's own rows, never a scan of the ledger.

Revision ID: 0034_statements
Revises: 0033_parking_more
Create Date: 2026-11-26 12:15:00
"""

from __future__ import annotations

from alembic import op

revision = "0034_statements"
down_revision = "0033_parking_more"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_ledger_transfers_debit_time",
        "ledger_transfers",
        ["debit_account_id", "created_at_us"],
    )
    op.create_index(
        "ix_ledger_transfers_credit_time",
        "ledger_transfers",
        ["credit_account_id", "created_at_us"],
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_transfers_credit_time", table_name="ledger_transfers")
    op.drop_index("ix_ledger_transfers_debit_time", table_name="ledger_transfers")
