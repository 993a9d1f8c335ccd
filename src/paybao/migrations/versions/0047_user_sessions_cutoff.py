"""users' browser sessions end when their login password changes; tokens by user

`users.sessions_valid_from_s` (Unix seconds, wall clock like the session cookie): a wallet
session signed in before it is refused (web/session.py), so a password reset or change ends the
sessions on every other device, as `operators.sessions_valid_from_s` does for the console.
`ix_api_tokens_user_id`: a reset revokes all of a user's API tokens without a table scan.

Revision ID: 0047_user_sessions_cutoff
Revises: 0046_user_oauth
Create Date: 2026-11-27 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0047_user_sessions_cutoff"
down_revision = "0046_user_oauth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("sessions_valid_from_s", sa.BigInteger(), nullable=True))
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("sessions_valid_from_s")
