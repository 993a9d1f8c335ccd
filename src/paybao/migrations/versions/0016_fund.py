"""Yu'e Bao: money-market fund holdings, subscriptions, redemptions, daily income

Placeholder reserved so that parallel work keeps one linear chain of heads; filled in by the
feature that owns it.

Revision ID: 0016_fund
Revises: 0015_operator_roles
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

revision = "0016_fund"
down_revision = "0015_operator_roles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
