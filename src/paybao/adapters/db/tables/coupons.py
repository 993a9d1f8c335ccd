"""Marketing: coupon templates (活动) and the coupons users hold (domain/coupons.py).

Invariants held by constraints, not by checks in code: a template never issues past its count
cap or its budget (one conditional update raises `issued_count` / `issued_fen`, and CHECKs back
it); one user holds at most `per_user_max` coupons of a template (`claim_no` is 1..cap, unique
per template and user); a payment issues at most one coupon (`source_trade_no` unique); a coupon
is used by exactly one trade, for at most its value. The trade side of the split lives on
`trades` (discount_fen, mdiscount_fen) and `trade_refunds` (discount_back_fen,
mdiscount_back_fen); `adapters/db/coupon_checks.py` ties them to the ledger.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata

coupon_templates = Table(
    "coupon_templates",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String(32), nullable=False),
    Column("kind", String(16), nullable=False),  # fixed | discount
    Column("funder", String(16), nullable=False),  # platform | merchant
    Column("merchant_id", BigInteger, nullable=True),  # NULL: any merchant
    Column("face_fen", BigInteger, nullable=False),
    Column("rate_permille", Integer, nullable=False),
    Column("cap_fen", BigInteger, nullable=False),
    Column("threshold_fen", BigInteger, nullable=False),
    Column("valid_from_us", BigInteger, nullable=False),
    Column("valid_until_us", BigInteger, nullable=False),
    Column("coupon_days", Integer, nullable=False),
    Column("budget_fen", BigInteger, nullable=False),
    Column("count_max", BigInteger, nullable=False),
    Column("per_user_max", Integer, nullable=False),
    # Set: issued after a payment of at least this much, never claimed.
    Column("issue_min_fen", BigInteger, nullable=True),
    Column("status", String(16), nullable=False),  # active | stopped
    Column("issued_count", BigInteger, nullable=False, server_default="0"),
    Column("issued_fen", BigInteger, nullable=False, server_default="0"),
    Column("created_by", String(64), nullable=False),  # operator:<id> | merchant:<id>
    Column("created_at_us", BigInteger, nullable=False),
    Column("stopped_at_us", BigInteger, nullable=True),
    CheckConstraint("issued_count >= 0 AND issued_count <= count_max", name="count_within_cap"),
    CheckConstraint("issued_fen >= 0 AND issued_fen <= budget_fen", name="within_budget"),
    CheckConstraint(
        "funder = 'platform' OR merchant_id IS NOT NULL", name="merchant_funded_names_merchant"
    ),
)
Index("ix_coupon_templates_status", coupon_templates.c.status, coupon_templates.c.valid_until_us)
Index("ix_coupon_templates_merchant", coupon_templates.c.merchant_id)

coupons = Table(
    "coupons",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("template_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    # The user's n-th coupon of the template, 1..per_user_max: the per-user cap as a key.
    Column("claim_no", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # available | used (expired: by time)
    Column("value_fen", BigInteger, nullable=False),  # what it reserved of the budget
    Column("issued_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    # Issued on the success page of this payment (NULL: claimed).
    Column("source_trade_no", String(32), nullable=True),
    Column("trade_no", String(32), nullable=True),
    Column("used_at_us", BigInteger, nullable=True),
    Column("discount_fen", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("template_id", "user_id", "claim_no", name="uq_coupons_template_user_claim"),
    UniqueConstraint("source_trade_no", name="uq_coupons_source_trade_no"),
    CheckConstraint(
        "(status = 'used' AND trade_no IS NOT NULL AND discount_fen > 0)"
        " OR (status = 'available' AND trade_no IS NULL AND discount_fen = 0)",
        name="used_by_a_trade",
    ),
    CheckConstraint("discount_fen <= value_fen", name="within_value"),
)
Index("ix_coupons_user", coupons.c.user_id, coupons.c.status, coupons.c.expires_at_us)
Index("ix_coupons_trade_no", coupons.c.trade_no)
