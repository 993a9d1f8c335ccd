"""escrow_trades: channel_context (who made an escrow order: an ISV for a merchant)

`escrow_trades.channel_context`: as trades, agreements and pre-authorisation orders keep it, an
escrow order an ISV creates with app_auth_token remembers the ISV's app (on_behalf.py), so that
its notifications name the ISV as app_id and are signed for it. Every existing row gets `{}`
(made by its own merchant, or a marketplace purchase): NOT NULL with a constant default, so
PostgreSQL adds it without rewriting the table and SQLite with a plain ADD COLUMN.

Revision ID: 0054_escrow_channel_context
Revises: 0053_app_auth
Create Date: 2026-11-27 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0054_escrow_channel_context"
down_revision = "0053_app_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "escrow_trades",
        sa.Column("channel_context", sa.Text(), server_default="{}", nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("escrow_trades") as batch_op:
        batch_op.drop_column("channel_context")
