"""transit ride codes: operators and fares, daily issuer keys, ride-code accounts, rides

Operators (a merchant app with a fare rule), one issuer key pair per Beijing day (private half
sealed), each user's ride-code account per operator (phone key, debt, status), the rides
operators settle, and the codes each ride used (one ride per code).

Revision ID: 0028_transit
Revises: 0027_checkout_installments
Create Date: 2026-11-26 11:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028_transit"
down_revision = "0027_checkout_installments"
branch_labels = None
depends_on = None


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "transit_operators",
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("fare_rule", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('METRO', 'BUS')", name=op.f("ck_transit_operators_kind_known")
        ),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_transit_operators")),
    )
    op.create_table(
        "transit_issuer_keys",
        sa.Column("key_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("public_key", sa.String(length=66), nullable=False),
        sa.Column("sealed_private", sa.Text(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_transit_issuer_keys")),
    )
    _create_accounts()
    _create_rides()
    op.create_table(
        "transit_code_uses",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("ride_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_transit_code_uses")),
    )


def _create_accounts() -> None:
    op.create_table(
        "transit_accounts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("agreement_no", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("live_key", sa.String(length=40), nullable=True),
        sa.Column("public_key", sa.String(length=66), nullable=False),
        sa.Column("credit_limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("owed_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("owed_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opened_at_us", sa.BigInteger(), nullable=False),
        sa.Column("close_after_us", sa.BigInteger(), nullable=True),
        sa.Column("closed_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status IN ('ACTIVE', 'SUSPENDED', 'CLOSING', 'CLOSED')",
            name=op.f("ck_transit_accounts_status_known"),
        ),
        sa.CheckConstraint(
            "owed_fen >= 0 AND owed_count >= 0", name=op.f("ck_transit_accounts_owed_not_negative")
        ),
        sa.CheckConstraint(
            "owed_fen <= credit_limit_fen", name=op.f("ck_transit_accounts_owed_within_credit")
        ),
        sa.CheckConstraint(
            "status = 'SUSPENDED' OR owed_fen = 0", name=op.f("ck_transit_accounts_debt_suspends")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transit_accounts")),
        sa.UniqueConstraint("live_key", name=op.f("uq_transit_accounts_live_key")),
    )
    op.create_index("ix_transit_accounts_user", "transit_accounts", ["user_id", "id"])
    op.create_index("ix_transit_accounts_blacklist", "transit_accounts", ["app_id", "status"])


def _create_rides() -> None:
    op.create_table(
        "transit_rides",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("out_trade_no", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("fare_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("first_station", sa.String(length=16), nullable=False),
        sa.Column("first_at_us", sa.BigInteger(), nullable=False),
        sa.Column("last_station", sa.String(length=16), nullable=True),
        sa.Column("last_at_us", sa.BigInteger(), nullable=True),
        sa.Column("trade_no", sa.String(length=32), nullable=True),
        sa.Column("owed_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("settled_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("fare_fen > 0", name=op.f("ck_transit_rides_fare_positive")),
        sa.CheckConstraint(
            "status IN ('PENDING', 'PAID', 'OWED', 'REPAID', 'REFUSED')",
            name=op.f("ck_transit_rides_status_known"),
        ),
        sa.CheckConstraint(
            "(status IN ('PAID', 'REPAID')) = (trade_no IS NOT NULL)",
            name=op.f("ck_transit_rides_paid_has_trade"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transit_rides")),
        sa.UniqueConstraint("app_id", "out_trade_no", name="uq_transit_rides_out_trade_no"),
    )
    op.create_index("ix_transit_rides_account", "transit_rides", ["account_id", "status"])


def downgrade() -> None:
    op.drop_table("transit_code_uses")
    op.drop_index("ix_transit_rides_account", table_name="transit_rides")
    op.drop_table("transit_rides")
    op.drop_index("ix_transit_accounts_blacklist", table_name="transit_accounts")
    op.drop_index("ix_transit_accounts_user", table_name="transit_accounts")
    op.drop_table("transit_accounts")
    op.drop_table("transit_issuer_keys")
    op.drop_table("transit_operators")
