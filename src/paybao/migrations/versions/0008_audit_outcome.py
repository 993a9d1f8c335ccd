"""audit log: who acted when it was not an operator (actor), and what came of it (outcome)

Branches from 0003_gateway beside 0004-0007; `upgrade heads` applies all. Both columns are
added in place (no table rebuild on SQLite); existing rows read as operator or system actions
that succeeded.

Revision ID: 0008_audit_outcome
Revises: 0003_gateway
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_audit_outcome"
down_revision = "0003_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("outcome", sa.String(length=64), server_default="ok", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("outcome")
        batch_op.drop_column("actor")
