"""city services: billers, saved bill accounts, bill payments, mobile top-up

Placeholder reserved so that parallel work keeps one linear chain of heads; filled in by the
feature that owns it.

Revision ID: 0022_billpay
Revises: 0021_coupons
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

revision = "0022_billpay"
down_revision = "0021_coupons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
