"""risk control: every decision with its reasons, and the operators' blacklist

`risk_decisions` keeps each decision other than a pass (delay, challenge, reject) with its
reasons and its review; `risk_blacklist` the accounts that may not be paid. A new index on
wallet transfers by (payer, payee) answers "has this payer paid this payee before?".

Revision ID: 0020_risk
Revises: 0019_operator_access
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_risk"
down_revision = "0019_operator_access"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "risk_decisions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("decision", sa.String(length=12), nullable=False),
        sa.Column("reasons", sa.String(length=128), nullable=False),
        sa.Column("payee_user_id", sa.BigInteger(), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("reviewed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("reviewed_by", sa.BigInteger(), nullable=True),
        sa.Column("review", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_decisions")),
    )
    op.create_index("ix_risk_decisions_created", "risk_decisions", ["created_at_us"])
    op.create_index("ix_risk_decisions_user", "risk_decisions", ["user_id", "id"])
    op.create_index("ix_risk_decisions_reference", "risk_decisions", ["reference"])
    op.create_table(
        "risk_blacklist",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("added_by", sa.BigInteger(), nullable=True),
        sa.Column("added_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_risk_blacklist")),
    )
    op.create_index(
        "ix_wallet_transfers_payer_payee", "wallet_transfers", ["payer_user_id", "payee_user_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_wallet_transfers_payer_payee", table_name="wallet_transfers")
    op.drop_table("risk_blacklist")
    op.drop_index("ix_risk_decisions_reference", table_name="risk_decisions")
    op.drop_index("ix_risk_decisions_user", table_name="risk_decisions")
    op.drop_index("ix_risk_decisions_created", table_name="risk_decisions")
    op.drop_table("risk_decisions")
