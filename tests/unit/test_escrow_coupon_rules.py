"""Coupons on escrow, without a platform: the pure split of a discounted hold at its end (pro rata
as trade refunds, every fen accounted for), and MarketingService's escrow pricing on the real
coupon store (in-memory SQLite): platform-funded coupons only, a merchant-limited one only for
that merchant's escrow, the same threshold, expiry and one-use rules as trades."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.test_coupon_service import NOW_US, SHOP, USER, World, shop_terms, terms, world

from paybao.domain.coupons import BEST_COUPONS, US_PER_DAY, CouponChoice
from paybao.domain.errors import DomainError
from paybao.domain.escrow import split_hold
from paybao.domain.trades import fee_fen_for, refund_parts
from paybao.services.marketing import Creator

__all__ = ["world"]  # the fixture


@pytest.mark.parametrize(
    ("total", "discount", "refund"),
    [
        (100_00, 10_00, 0),
        (100_00, 10_00, 100_00),
        (100_00, 10_00, 33_33),
        (100_00, 0, 40_00),
        (10_00, 9_99, 5_00),
        (1_00, 99, 1),
        (99_99, 1, 99_98),
        (7, 3, 5),
    ],
)
def test_the_split_accounts_for_every_fen(total: int, discount: int, refund: int) -> None:
    split = split_hold(total, discount, refund, 6_000)
    resolution = split.resolution
    assert resolution.refund_fen == refund
    assert resolution.seller_fen == total - refund
    assert resolution.fee_fen == fee_fen_for(total - refund, 6_000)
    # The buyer's hold either posts or comes back; the subsidy either stays or goes back.
    assert split.post_fen + split.buyer_back_fen == total - discount
    assert split.post_fen + (discount - split.discount_back_fen) == resolution.seller_fen
    assert split.buyer_back_fen + split.discount_back_fen == refund
    if refund:
        parts = refund_parts(
            total_fen=total,
            discount_fen=discount,
            mdiscount_fen=0,
            refunded_fen=0,
            refund_fen=refund,
        )
        assert (split.buyer_back_fen, split.discount_back_fen) == (
            parts.buyer_fen,
            parts.discount_back_fen,
        )
    else:
        assert (split.buyer_back_fen, split.discount_back_fen) == (0, 0)


def test_a_full_refund_gives_everything_back_where_it_came_from() -> None:
    split = split_hold(100_00, 10_00, 100_00, 6_000)
    assert (split.post_fen, split.buyer_back_fen, split.discount_back_fen) == (0, 90_00, 10_00)
    assert split.resolution.fee_fen == 0


def quote(world: World, total_fen: int, merchant_id: int | None, choice: CouponChoice) -> Any:
    with world.db.read() as tx:
        return world.service.escrow_quote_in(tx, total_fen, merchant_id, USER, choice)


def code(call: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def test_escrow_takes_platform_coupons_only(world: World) -> None:
    platform_coupon = world.coupon(terms())
    shops_own = world.coupon(shop_terms(), Creator(merchant_id=SHOP))
    chosen = quote(world, 100_00, SHOP, CouponChoice(coupon_ids=(platform_coupon,)))
    assert (chosen.discount_fen, chosen.mdiscount_fen, chosen.buyer_pay_fen) == (10_00, 0, 90_00)
    for merchant_id in (SHOP, None):
        pick = CouponChoice(coupon_ids=(shops_own,))
        assert code(lambda m=merchant_id, p=pick: quote(world, 100_00, m, p)) == (
            "coupon_not_applicable"
        )
    # The best pair would take the shop's 9折 too on a trade; on its escrow only the platform's.
    best = quote(world, 100_00, SHOP, BEST_COUPONS)
    assert [v.coupon_id for v in best.vouchers] == [platform_coupon]
    offers = world.service.escrow_offers(100_00, SHOP, USER)
    assert offers.merchant == () and [o.held.coupon.id for o in offers.platform] == [
        platform_coupon
    ]
    assert offers.buyer_pay[f"0:{platform_coupon}"] == 90_00


def test_a_coupon_limited_to_a_merchant_fits_only_its_escrow(world: World) -> None:
    limited = world.coupon(terms(merchant_id=SHOP))
    pick = CouponChoice(coupon_ids=(limited,))
    assert quote(world, 100_00, SHOP, pick).discount_fen == 10_00
    assert code(lambda: quote(world, 100_00, 4, pick)) == "coupon_not_applicable"  # other shop
    assert code(lambda: quote(world, 100_00, None, pick)) == "coupon_not_applicable"  # market
    assert quote(world, 100_00, None, BEST_COUPONS).vouchers == ()
    assert world.service.escrow_offers(100_00, None, USER).platform == ()


def test_the_trade_rules_hold_for_escrow_too(world: World) -> None:
    coupon_id = world.coupon(terms(coupon_days=1))
    pick = CouponChoice(coupon_ids=(coupon_id,))
    assert code(lambda: quote(world, 99_99, None, pick)) == "coupon_not_applicable"  # threshold
    used = quote(world, 100_00, None, pick)
    world.redeem("E000000000000000000000001", used)
    assert code(lambda: quote(world, 100_00, None, pick)) == "coupon_unavailable"  # used
    later = world.coupon(terms(name="再来一张", coupon_days=1))
    world.clock.set_us(NOW_US + 2 * US_PER_DAY)
    assert code(lambda: quote(world, 100_00, None, CouponChoice(coupon_ids=(later,)))) == (
        "coupon_unavailable"  # expired
    )
