"""trades: the designated buyer (alipay.trade.create with buyer_id)

`trades.designated_buyer_id`: the one user who may pay the order (JSAPI after "Log in with
paybao"); NULL for every order before this revision and for orders anyone may pay. Nullable with
no default, so adding it rewrites no rows on PostgreSQL or SQLite.

Revision ID: 0048_trade_designated_buyer
Revises: 0047_user_sessions_cutoff
Create Date: 2026-11-27 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0048_trade_designated_buyer"
down_revision = "0047_user_sessions_cutoff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("trades", sa.Column("designated_buyer_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch_op:
        batch_op.drop_column("designated_buyer_id")
