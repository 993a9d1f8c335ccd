"""escrow coupons: the platform-funded discount an escrow payment used, and what came back

An escrow payment may use platform-funded coupons (services/escrow.py): the buyer's hold is the
price less `escrow_trades.discount_fen`, the platform's marketing account pays that discount into
the escrow account, and the end of the trade sends `discount_back_fen` of it (the pro-rata share
of a refund) back to the marketing account. Existing rows get zeros: no escrow was discounted.

Revision ID: 0035_escrow_coupons
Revises: 0034_statements
Create Date: 2026-11-26 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035_escrow_coupons"
down_revision = "0034_statements"
branch_labels = None
depends_on = None


def _zero(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("escrow_trades") as batch:
        batch.add_column(_zero("discount_fen"))
        batch.add_column(_zero("discount_back_fen"))
        batch.create_check_constraint(
            op.f("ck_escrow_trades_discount_in_range"),
            "discount_fen >= 0 AND discount_fen < total_fen"
            " AND discount_back_fen >= 0 AND discount_back_fen <= discount_fen",
        )


def downgrade() -> None:
    with op.batch_alter_table("escrow_trades") as batch:
        batch.drop_constraint(op.f("ck_escrow_trades_discount_in_range"), type_="check")
        batch.drop_column("discount_back_fen")
        batch.drop_column("discount_fen")
