"""operators: disabling an operator, and personal admin API tokens

`operators.disabled_at_us` (NULL: enabled; every existing operator stays enabled),
`operators.sessions_valid_from_s` (console sessions signed in before it are refused: set by a
disable, so that enabling again does not bring old sessions back) and the table `operator_tokens`: one row per personal admin API token, holding only the token's
SHA-256, with an optional expiry, when it was last used and when it was revoked. A partial
unique index keeps one unrevoked token per (operator, name). And an index on
`trade_notifications (status, id)` for the admin console's notifications list (the failed
ones of every merchant, newest first).

Revision ID: 0019_operator_access
Revises: 0018_agreements
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_operator_access"
down_revision = "0018_agreements"
branch_labels = None
depends_on = None

UNREVOKED = "revoked_at_us IS NULL"


def upgrade() -> None:
    # Nullable, no default: in place on both databases (no table rebuild on SQLite).
    op.add_column("operators", sa.Column("disabled_at_us", sa.BigInteger(), nullable=True))
    op.add_column("operators", sa.Column("sessions_valid_from_s", sa.BigInteger(), nullable=True))
    op.create_table(
        "operator_tokens",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("operator_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("created_by_operator_id", sa.BigInteger(), nullable=True),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=True),
        sa.Column("last_used_at_us", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_operator_tokens_token_sha256")),
    )
    op.create_index(
        "ix_operator_tokens_operator", "operator_tokens", ["operator_id", "id"], unique=False
    )
    op.create_index(
        "uq_operator_tokens_live_name",
        "operator_tokens",
        ["operator_id", "name"],
        unique=True,
        sqlite_where=sa.text(UNREVOKED),
        postgresql_where=sa.text(UNREVOKED),
    )
    op.create_index(
        "ix_trade_notifications_status",
        "trade_notifications",
        ["status", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_trade_notifications_status", table_name="trade_notifications")
    op.drop_index("uq_operator_tokens_live_name", table_name="operator_tokens")
    op.drop_index("ix_operator_tokens_operator", table_name="operator_tokens")
    op.drop_table("operator_tokens")
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("sessions_valid_from_s")
        batch_op.drop_column("disabled_at_us")
