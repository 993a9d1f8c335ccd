"""Coupon campaign terms for the coupon tests, unit and integration alike: the platform's
满100减10 and a shop's own 9折, both valid for a month from `now_us`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from paybao.domain.coupons import US_PER_DAY, CouponKind, Terms
from paybao.domain.trades import DiscountFunder


def platform_terms_at(now_us: int, **changes: Any) -> Terms:
    """满100减10, platform-funded, any shop, a month long, 100 coupons, one each."""
    base = Terms(
        name="满100减10",
        kind=CouponKind.FIXED,
        funder=DiscountFunder.PLATFORM,
        merchant_id=None,
        face_fen=10_00,
        rate_permille=0,
        cap_fen=0,
        threshold_fen=100_00,
        valid_from_us=now_us - 1,
        valid_until_us=now_us + 30 * US_PER_DAY,
        coupon_days=0,
        budget_fen=1_000_00,
        count_max=100,
        per_user_max=1,
    )
    return replace(base, **changes)


def shop_discount_terms_at(now_us: int, merchant_id: int, **changes: Any) -> Terms:
    """The shop's own 9折 (at most 50.00 off), limited to itself."""
    values: dict[str, Any] = {
        "name": "店铺9折",
        "kind": CouponKind.DISCOUNT,
        "funder": DiscountFunder.MERCHANT,
        "merchant_id": merchant_id,
        "face_fen": 0,
        "rate_permille": 900,
        "cap_fen": 50_00,
        "threshold_fen": 0,
    }
    return platform_terms_at(now_us, **{**values, **changes})
