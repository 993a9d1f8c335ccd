"""withholding agreements: signed password-free deductions for merchants

Placeholder reserved so that parallel work keeps one linear chain of heads; filled in by the
feature that owns it.

Revision ID: 0018_agreements
Revises: 0017_credit
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

revision = "0018_agreements"
down_revision = "0017_credit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
