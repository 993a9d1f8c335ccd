"""platform RSA keys: several generations, one per app, rotation with overlap

Revision ID: 0041_platform_keys
Revises: 0040_red_packets
Create Date: 2026-11-26 21:00:00
"""

from __future__ import annotations

revision = "0041_platform_keys"
down_revision = "0040_red_packets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by its feature


def downgrade() -> None:
    pass
