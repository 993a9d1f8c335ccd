"""Huabei: bill installments and minimum repayment

Placeholder reserved so that parallel work keeps one linear chain of heads; filled in by the
feature that owns it.

Revision ID: 0025_credit_installments
Revises: 0024_card_payouts
Create Date: 2026-11-26 10:30:00
"""

from __future__ import annotations

revision = "0025_credit_installments"
down_revision = "0024_card_payouts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
