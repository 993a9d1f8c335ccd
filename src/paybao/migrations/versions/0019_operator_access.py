"""operators: disabling an operator, and personal admin API tokens

Placeholder reserved so that parallel work keeps one linear chain of heads; filled in by the
feature that owns it.

Revision ID: 0019_operator_access
Revises: 0018_agreements
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

revision = "0019_operator_access"
down_revision = "0018_agreements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
