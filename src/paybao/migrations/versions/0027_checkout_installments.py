"""Huabei checkout installments (hb_fq_num) (reserved: filled in by the feature that owns it)

Revision ID: 0027_checkout_installments
Revises: 0026_score
Create Date: 2026-11-26 11:45:00
"""

from __future__ import annotations

revision = "0027_checkout_installments"
down_revision = "0026_score"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
