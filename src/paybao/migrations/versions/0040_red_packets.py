"""red packets (红包): single and group packets, claims, expiry refunds

Revision ID: 0040_red_packets
Revises: 0039_drop_finish_jobs
Create Date: 2026-11-26 21:00:00
"""

from __future__ import annotations

revision = "0040_red_packets"
down_revision = "0039_drop_finish_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by its feature


def downgrade() -> None:
    pass
