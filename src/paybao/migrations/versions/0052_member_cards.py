"""member cards: templates, cards, their open/delete requests and history

Merchant membership cards (domain/member_cards.py, alipay.marketing.card.*). New tables: nothing
existing changes. A card's balance is the merchant's stored value, shown only: no ledger rows.

Revision ID: 0052_member_cards
Revises: 0050_app_aes_keys
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0052_member_cards"
down_revision = "0050_app_aes_keys"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "member_card_templates",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("template_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("card_show_name", sa.String(length=32), nullable=False),
        sa.Column("biz_no_prefix", sa.String(length=24), nullable=False),
        sa.Column("biz_no_suffix_len", sa.Integer(), nullable=False),
        sa.Column("write_off_type", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_member_card_templates"),
        sa.UniqueConstraint("template_id", name="uq_member_card_templates_template_id"),
        sa.UniqueConstraint("app_id", "request_id", name="uq_member_card_templates_app_request"),
    )
    op.create_index("ix_member_card_templates_merchant", "member_card_templates", ["merchant_id"])
    op.create_table(
        "member_cards",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("biz_card_no", sa.String(length=32), nullable=False),
        sa.Column("template_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("holder_id", sa.BigInteger(), nullable=True),
        sa.Column("external_card_no", sa.String(length=64), nullable=False),
        sa.Column("point_hundredths", sa.BigInteger(), nullable=False),
        sa.Column("balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("open_at_us", sa.BigInteger(), nullable=False),
        sa.Column("valid_until_us", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at_us", sa.BigInteger(), nullable=True),
        sa.Column("opened_by", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("delete_reason", sa.String(length=16), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("changed_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_member_cards"),
        sa.UniqueConstraint("biz_card_no", name="uq_member_cards_biz_card_no"),
        sa.UniqueConstraint("template_id", "holder_id", name="uq_member_cards_template_holder"),
        sa.CheckConstraint("status IN ('active', 'deleted')", name="ck_member_cards_status_known"),
        sa.CheckConstraint(
            "opened_by IN ('merchant', 'user')", name="ck_member_cards_opened_by_known"
        ),
        sa.CheckConstraint(
            "point_hundredths >= 0 AND balance_fen >= 0",
            name="ck_member_cards_values_not_negative",
        ),
    )
    op.create_index("ix_member_cards_user", "member_cards", ["user_id", "id"])
    op.create_index("ix_member_cards_template_user", "member_cards", ["template_id", "user_id"])
    op.create_table(
        "member_card_requests",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("out_serial_no", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("card_id", sa.BigInteger(), nullable=False),
        sa.Column("biz_serial_no", sa.String(length=32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_member_card_requests"),
        sa.UniqueConstraint("app_id", "kind", "out_serial_no", name="uq_member_card_requests_key"),
        sa.CheckConstraint("kind IN ('open', 'delete')", name="ck_member_card_requests_kind_known"),
    )
    op.create_table(
        "member_card_changes",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("card_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("change_key", sa.String(length=32), nullable=False),
        sa.Column("occurred_at_us", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("point_hundredths", sa.BigInteger(), nullable=True),
        sa.Column("balance_fen", sa.BigInteger(), nullable=True),
        sa.Column("level", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_member_card_changes"),
        sa.UniqueConstraint("card_id", "change_key", name="uq_member_card_changes_key"),
        sa.CheckConstraint(
            "kind IN ('open', 'update', 'delete')", name="ck_member_card_changes_kind_known"
        ),
    )
    op.create_index("ix_member_card_changes_card", "member_card_changes", ["card_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_member_card_changes_card", table_name="member_card_changes")
    op.drop_table("member_card_changes")
    op.drop_table("member_card_requests")
    op.drop_index("ix_member_cards_template_user", table_name="member_cards")
    op.drop_index("ix_member_cards_user", table_name="member_cards")
    op.drop_table("member_cards")
    op.drop_index("ix_member_card_templates_merchant", table_name="member_card_templates")
    op.drop_table("member_card_templates")
