"""ledger seals: the hash chain over the ledger's journal

`ledger_seals` holds one row per sealed block of transfers (domain/ledger_seal.py): its seq
range and the seqs in it that held nothing, its SHA-256 and the one of the block before. The
seal sweep fills it from the oldest transfer on, a few blocks per worker pass, so an existing
journal is sealed in the background after the upgrade.

Revision ID: 0045_ledger_seals
Revises: 0044_billpay_dashboard_index
Create Date: 2026-11-27 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0045_ledger_seals"
down_revision = "0044_billpay_dashboard_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_seals",
        sa.Column("block_no", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("from_seq", sa.BigInteger(), nullable=False),
        sa.Column("to_seq", sa.BigInteger(), nullable=False),
        sa.Column("transfer_count", sa.Integer(), nullable=False),
        sa.Column("gaps", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "block_no > 0 AND from_seq <= to_seq AND transfer_count > 0",
            name=op.f("ck_ledger_seals_range_valid"),
        ),
        sa.PrimaryKeyConstraint("block_no", name=op.f("pk_ledger_seals")),
    )


def downgrade() -> None:
    op.drop_table("ledger_seals")
