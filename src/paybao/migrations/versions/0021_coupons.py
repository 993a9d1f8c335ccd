"""marketing: coupon templates, issued coupons, their use in trades

Placeholder reserved so that parallel work keeps one linear chain of heads; filled in by the
feature that owns it.

Revision ID: 0021_coupons
Revises: 0020_risk
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

revision = "0021_coupons"
down_revision = "0020_risk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
