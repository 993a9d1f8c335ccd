"""member card dynamic write-off codes (write_off_type dqrcode / dbarcode)

A template may now ask for dynamic codes: the wallet shows a short-lived code the platform
issues, and alipay.marketing.card.query finds the card by it (D_QR_CODE / D_BAR_CODE). The new
table `member_card_codes` keeps each live code as its SHA-256 digest (unique: one code names one
card) with its card and expiry; a few rows per card at most. `write_off_type` (String(16))
already holds the new values.

Revision ID: 0056_member_card_codes
Revises: 0055_member_card_template_modify
Create Date: 2026-11-27 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0056_member_card_codes"
down_revision = "0055_member_card_template_modify"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "member_card_codes",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("card_id", sa.BigInteger(), nullable=False),
        sa.Column("issued_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_member_card_codes"),
        sa.UniqueConstraint("code_digest", name="uq_member_card_codes_code_digest"),
    )
    op.create_index("ix_member_card_codes_card", "member_card_codes", ["card_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_member_card_codes_card", table_name="member_card_codes")
    op.drop_table("member_card_codes")
