"""credit score: monthly scores with their five dimensions, admission queries

Tables of the credit score (domain/score.py): `score_consents` (one per user and purpose, score
or admission; no row is no consent), `score_snapshots` (one per user and period, the monthly
score with its five dimensions, reasons and tips), `score_months` (the monthly pass's progress)
and `score_admissions` (merchants' zhima.credit.score.brief.get queries, unique per app and
transaction_id). Indexes on trades by buyer, and on wallet and merchant transfers by payee,
serve the score's facts.

Revision ID: 0026_score
Revises: 0025_credit_installments
Create Date: 2026-11-26 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_score"
down_revision = "0025_credit_installments"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "score_consents",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("granted_at_us", sa.BigInteger(), nullable=False),
        sa.Column("changed_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('score', 'admission')", name=op.f("ck_score_consents_purpose_known")
        ),
        sa.CheckConstraint(
            "status IN ('granted', 'revoked')", name=op.f("ck_score_consents_status_known")
        ),
        sa.PrimaryKeyConstraint("user_id", "purpose", name="pk_score_consents"),
    )
    op.create_index(
        "ix_score_consents_purpose_user", "score_consents", ["purpose", "user_id"], unique=False
    )
    _snapshots()
    op.create_table(
        "score_months",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("cursor_user_id", sa.BigInteger(), nullable=False),
        sa.Column("users_scored", sa.Integer(), nullable=False),
        sa.Column("started_at_us", sa.BigInteger(), nullable=False),
        sa.Column("finished_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'done')", name=op.f("ck_score_months_status_known")
        ),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_score_months")),
    )
    _admissions()
    op.create_index("ix_trades_buyer_paid", "trades", ["buyer_user_id", "paid_at_us"], unique=False)
    op.create_index(
        "ix_wallet_transfers_payee",
        "wallet_transfers",
        ["payee_user_id", "created_at_us"],
        unique=False,
    )
    op.create_index(
        "ix_fund_transfers_payee",
        "fund_transfers",
        ["payee_user_id", "created_at_us"],
        unique=False,
    )


def _snapshots() -> None:
    op.create_table(
        "score_snapshots",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(length=12), nullable=False),
        sa.Column("credit_points", sa.Integer(), nullable=False),
        sa.Column("capacity_points", sa.Integer(), nullable=False),
        sa.Column("behaviour_points", sa.Integer(), nullable=False),
        sa.Column("identity_points", sa.Integer(), nullable=False),
        sa.Column("social_points", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("tips", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("computed_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "total BETWEEN 350 AND 950", name=op.f("ck_score_snapshots_total_range")
        ),
        sa.CheckConstraint(
            "credit_points BETWEEN 0 AND 1000 AND capacity_points BETWEEN 0 AND 1000"
            " AND behaviour_points BETWEEN 0 AND 1000 AND identity_points BETWEEN 0 AND 1000"
            " AND social_points BETWEEN 0 AND 1000",
            name=op.f("ck_score_snapshots_points_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_snapshots")),
        sa.UniqueConstraint("user_id", "period", name="uq_score_snapshots_user_period"),
    )


def _admissions() -> None:
    op.create_table(
        "score_admissions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("biz_no", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=3), nullable=False),
        sa.Column("reasons", sa.String(length=128), server_default="", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('Y', 'N', 'N/A')", name=op.f("ck_score_admissions_outcome_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_admissions")),
        sa.UniqueConstraint("biz_no", name=op.f("uq_score_admissions_biz_no")),
        sa.UniqueConstraint("app_id", "transaction_id", name="uq_score_admissions_app_transaction"),
    )
    op.create_index("ix_score_admissions_user", "score_admissions", ["user_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_fund_transfers_payee", table_name="fund_transfers")
    op.drop_index("ix_wallet_transfers_payee", table_name="wallet_transfers")
    op.drop_index("ix_trades_buyer_paid", table_name="trades")
    op.drop_index("ix_score_admissions_user", table_name="score_admissions")
    op.drop_table("score_admissions")
    op.drop_table("score_months")
    op.drop_table("score_snapshots")
    op.drop_index("ix_score_consents_purpose_user", table_name="score_consents")
    op.drop_table("score_consents")
