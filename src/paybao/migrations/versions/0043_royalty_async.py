"""royalty async settles: a settle's mode and status, each part's state, error and run time

`alipay.trade.order.settle` with `royalty_mode=async` is accepted at once and runs in the
worker, each part on its own (services/royalty.py). Rows written before this revision are
sync settles, done, whose parts all succeeded: the server defaults say so. A sync part's
executed_at_us stays null; readers take its settle's created_at_us.

Revision ID: 0043_royalty_async
Revises: 0042_dashboard_indexes
Create Date: 2026-11-27 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0043_royalty_async"
down_revision = "0042_dashboard_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "royalty_settles",
        sa.Column("mode", sa.String(length=8), nullable=False, server_default="sync"),
    )
    op.add_column(
        "royalty_settles",
        sa.Column("status", sa.String(length=16), nullable=False, server_default="done"),
    )
    op.add_column(
        "royalty_settle_parts",
        sa.Column("state", sa.String(length=16), nullable=False, server_default="SUCCESS"),
    )
    op.add_column(
        "royalty_settle_parts",
        sa.Column("error_code", sa.String(length=64), nullable=False, server_default=""),
    )
    op.add_column("royalty_settle_parts", sa.Column("executed_at_us", sa.BigInteger()))


def downgrade() -> None:
    with op.batch_alter_table("royalty_settle_parts") as batch:
        batch.drop_column("executed_at_us")
        batch.drop_column("error_code")
        batch.drop_column("state")
    with op.batch_alter_table("royalty_settles") as batch:
        batch.drop_column("status")
        batch.drop_column("mode")
