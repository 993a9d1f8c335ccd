"""operations: worker heartbeats (one row per worker process, pruned by the workers)

Follows 0008_audit_outcome on its branch from 0003_gateway; `upgrade heads` applies all.

Revision ID: 0009_worker_heartbeats
Revises: 0008_audit_outcome
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_worker_heartbeats"
down_revision = "0008_audit_outcome"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker_id", sa.String(length=128), nullable=False),
        sa.Column("started_at_us", sa.BigInteger(), nullable=False),
        sa.Column("beat_at_us", sa.BigInteger(), nullable=False),
        sa.Column("stopped_at_us", sa.BigInteger(), nullable=True),
        sa.Column("passes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("jobs_run", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("swept", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("errors", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("last_work_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_worker_heartbeats")),
    )
    op.create_index("ix_worker_heartbeats_beat", "worker_heartbeats", ["beat_at_us"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_worker_heartbeats_beat", table_name="worker_heartbeats")
    op.drop_table("worker_heartbeats")
