"""member card templates: modified_at_us, and the modifications made (template.modify)

alipay.marketing.card.template.modify changes a template in place. `member_card_templates`
gains `modified_at_us` (NULL: never changed; nullable with no default, so PostgreSQL adds it
without rewriting the table and SQLite with a plain ADD COLUMN); the new table
`member_card_template_modifications` keys each modify by the app's request_id (idempotency).

Revision ID: 0055_member_card_template_modify
Revises: 0054_escrow_channel_context
Create Date: 2026-11-27 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0055_member_card_template_modify"
down_revision = "0054_escrow_channel_context"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column(
        "member_card_templates", sa.Column("modified_at_us", sa.BigInteger(), nullable=True)
    )
    op.create_table(
        "member_card_template_modifications",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("template_id", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_member_card_template_modifications"),
        sa.UniqueConstraint(
            "app_id", "request_id", name="uq_member_card_template_modifications_app_request"
        ),
    )


def downgrade() -> None:
    op.drop_table("member_card_template_modifications")
    with op.batch_alter_table("member_card_templates") as batch_op:
        batch_op.drop_column("modified_at_us")
