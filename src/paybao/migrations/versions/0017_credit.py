"""Huabei: credit lines, monthly bills, repayments

Placeholder reserved so that parallel work keeps one linear chain of heads; filled in by the
feature that owns it.

Revision ID: 0017_credit
Revises: 0016_fund
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

revision = "0017_credit"
down_revision = "0016_fund"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
