"""credit score: monthly scores with their five dimensions, admission queries

Placeholder reserved so that parallel work keeps one linear chain of heads; filled in by the
feature that owns it.

Revision ID: 0026_score
Revises: 0025_credit_installments
Create Date: 2026-11-26 10:30:00
"""

from __future__ import annotations

revision = "0026_score"
down_revision = "0025_credit_installments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
