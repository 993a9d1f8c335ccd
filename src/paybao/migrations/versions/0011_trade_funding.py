"""acquiring: a trade records how it was paid (trades.funding: 'balance' | 'card')

Joins 0010_merchant_signups and 0007_merchant_login (card_payments, read by the backfill);
`upgrade heads` applies all. Paid trades get 'balance', or 'card' when a card payment paid them.

Revision ID: 0011_trade_funding
Revises: 0010_merchant_signups, 0007_merchant_login
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_trade_funding"
down_revision = ("0010_merchant_signups", "0007_merchant_login")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("trades", sa.Column("funding", sa.String(length=16), nullable=True))
    op.execute("UPDATE trades SET funding = 'balance' WHERE paid_at_us IS NOT NULL")
    op.execute(
        "UPDATE trades SET funding = 'card' WHERE trade_no IN"
        " (SELECT trade_no FROM card_payments WHERE status = 'paid')"
    )


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.drop_column("funding")
