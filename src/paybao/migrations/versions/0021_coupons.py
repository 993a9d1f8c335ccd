"""marketing: coupon templates, issued coupons, their use in trades

Tables of the coupons feature (domain/coupons.py): `coupon_templates` (活动: kind, funder,
window, budget and caps, with the issued count and reserved budget raised by one conditional
update) and `coupons` (what users hold; `claim_no` makes the per-user cap a unique key,
`source_trade_no` issues at most one coupon per payment). The trade carries its funding split:
`trades.undiscountable_fen`, `discount_fen` (platform-funded), `mdiscount_fen` (merchant-funded);
a refund its pro-rata parts: `trade_refunds.discount_back_fen`, `mdiscount_back_fen`. A card
payment at the cashier remembers the buyer's coupons (`card_payments.coupon_ids`). Existing rows
get zeros: no trade was discounted before. The platform's marketing account needs no change.

Revision ID: 0021_coupons
Revises: 0020_risk
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_coupons"
down_revision = "0020_risk"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _zero(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    _templates()
    _coupons()
    with op.batch_alter_table("trades") as batch:
        batch.add_column(_zero("undiscountable_fen"))
        batch.add_column(_zero("discount_fen"))
        batch.add_column(_zero("mdiscount_fen"))
    with op.batch_alter_table("trade_refunds") as batch:
        batch.add_column(_zero("discount_back_fen"))
        batch.add_column(_zero("mdiscount_back_fen"))
    with op.batch_alter_table("card_payments") as batch:
        batch.add_column(sa.Column("coupon_ids", sa.String(length=32), nullable=True))


def _templates() -> None:
    op.create_table(
        "coupon_templates",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("funder", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=True),
        sa.Column("face_fen", sa.BigInteger(), nullable=False),
        sa.Column("rate_permille", sa.Integer(), nullable=False),
        sa.Column("cap_fen", sa.BigInteger(), nullable=False),
        sa.Column("threshold_fen", sa.BigInteger(), nullable=False),
        sa.Column("valid_from_us", sa.BigInteger(), nullable=False),
        sa.Column("valid_until_us", sa.BigInteger(), nullable=False),
        sa.Column("coupon_days", sa.Integer(), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("count_max", sa.BigInteger(), nullable=False),
        sa.Column("per_user_max", sa.Integer(), nullable=False),
        sa.Column("issue_min_fen", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        _zero("issued_count"),
        _zero("issued_fen"),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("stopped_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "issued_count >= 0 AND issued_count <= count_max",
            name=op.f("ck_coupon_templates_count_within_cap"),
        ),
        sa.CheckConstraint(
            "issued_fen >= 0 AND issued_fen <= budget_fen",
            name=op.f("ck_coupon_templates_within_budget"),
        ),
        sa.CheckConstraint(
            "funder = 'platform' OR merchant_id IS NOT NULL",
            name=op.f("ck_coupon_templates_merchant_funded_names_merchant"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_templates")),
    )
    op.create_index("ix_coupon_templates_status", "coupon_templates", ["status", "valid_until_us"])
    op.create_index("ix_coupon_templates_merchant", "coupon_templates", ["merchant_id"])


def _coupons() -> None:
    op.create_table(
        "coupons",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("template_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("claim_no", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.Column("issued_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("source_trade_no", sa.String(length=32), nullable=True),
        sa.Column("trade_no", sa.String(length=32), nullable=True),
        sa.Column("used_at_us", sa.BigInteger(), nullable=True),
        _zero("discount_fen"),
        sa.CheckConstraint(
            "(status = 'used' AND trade_no IS NOT NULL AND discount_fen > 0)"
            " OR (status = 'available' AND trade_no IS NULL AND discount_fen = 0)",
            name=op.f("ck_coupons_used_by_a_trade"),
        ),
        sa.CheckConstraint("discount_fen <= value_fen", name=op.f("ck_coupons_within_value")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint(
            "template_id", "user_id", "claim_no", name="uq_coupons_template_user_claim"
        ),
        sa.UniqueConstraint("source_trade_no", name="uq_coupons_source_trade_no"),
    )
    op.create_index("ix_coupons_user", "coupons", ["user_id", "status", "expires_at_us"])
    op.create_index("ix_coupons_trade_no", "coupons", ["trade_no"])


def downgrade() -> None:
    with op.batch_alter_table("card_payments") as batch:
        batch.drop_column("coupon_ids")
    with op.batch_alter_table("trade_refunds") as batch:
        batch.drop_column("mdiscount_back_fen")
        batch.drop_column("discount_back_fen")
    with op.batch_alter_table("trades") as batch:
        batch.drop_column("mdiscount_fen")
        batch.drop_column("discount_fen")
        batch.drop_column("undiscountable_fen")
    op.drop_index("ix_coupons_trade_no", table_name="coupons")
    op.drop_index("ix_coupons_user", table_name="coupons")
    op.drop_table("coupons")
    op.drop_index("ix_coupon_templates_merchant", table_name="coupon_templates")
    op.drop_index("ix_coupon_templates_status", table_name="coupon_templates")
    op.drop_table("coupon_templates")
