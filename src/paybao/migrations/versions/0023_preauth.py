"""fund pre-authorisation: freeze orders, their operations

Placeholder reserved so that parallel work keeps one linear chain of heads; filled in by the
feature that owns it.

Revision ID: 0023_preauth
Revises: 0022_billpay
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

revision = "0023_preauth"
down_revision = "0022_billpay"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
