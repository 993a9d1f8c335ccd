"""risk control: every decision with its reasons, and the operators' blacklist

Placeholder reserved so that parallel work keeps one linear chain of heads; filled in by the
feature that owns it.

Revision ID: 0020_risk
Revises: 0019_operator_access
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

revision = "0020_risk"
down_revision = "0019_operator_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
