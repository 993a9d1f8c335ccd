"""transfers to a bank card and credit-card repayments

Placeholder reserved so that parallel work keeps one linear chain of heads; filled in by the
feature that owns it.

Revision ID: 0024_card_payouts
Revises: 0023_preauth
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

revision = "0024_card_payouts"
down_revision = "0023_preauth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
