"""Coupons' pure rules (domain/coupons.py, domain/trades.py): what a coupon takes off, the
funding split of §13's worked example, choosing the best pair, the buyer's own pick, template
checks, and refunds pro rata that never drift."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.support.coupons import platform_terms_at

from paybao.domain.coupons import (
    US_PER_DAY,
    Coupon,
    CouponChoice,
    CouponKind,
    CouponNotApplicable,
    CouponStatus,
    CouponTemplateInvalid,
    CouponUnavailable,
    Held,
    Template,
    TemplateStatus,
    Terms,
    best_quote,
    check_terms,
    chosen_quote,
    expires_at_us,
    issue_template_for,
    quote,
    value_fen,
)
from paybao.domain.trades import (
    DiscountFunder,
    FundBill,
    Funding,
    TradeStatus,
    fund_bills,
    plan_refund,
    refund_parts,
)

NOW_US = 1_800_000_000 * 1_000_000
MERCHANT_ID = 7


def terms(**changes: object) -> Terms:
    """The platform's 满100减10 (tests/support/coupons.py), valid since a day before NOW_US."""
    return platform_terms_at(NOW_US, **{"valid_from_us": NOW_US - US_PER_DAY, **changes})


def discount_terms(rate_permille: int = 900, cap_fen: int = 50_00, **changes: object) -> Terms:
    values: dict[str, object] = {
        "kind": CouponKind.DISCOUNT,
        "name": "9折",
        "face_fen": 0,
        "rate_permille": rate_permille,
        "cap_fen": cap_fen,
        "threshold_fen": 0,
    }
    return terms(**{**values, **changes})


def held(coupon_id: int, t: Terms, *, expires_at_us: int | None = None, **changes: object) -> Held:
    coupon = Coupon(
        id=coupon_id,
        template_id=coupon_id,
        user_id=1,
        status=CouponStatus.AVAILABLE,
        value_fen=t.max_value_fen,
        issued_at_us=NOW_US - 1,
        expires_at_us=expires_at_us or t.valid_until_us,
    )
    return Held(replace(coupon, **changes), t)  # type: ignore[arg-type]


MERCHANT_10_OFF = discount_terms(funder=DiscountFunder.MERCHANT, merchant_id=MERCHANT_ID)
PLATFORM_5_OFF = terms(face_fen=5_00, threshold_fen=0, name="立减5元")


# What one coupon takes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "base_fen", "off_fen"),
    [
        (terms(), 100_00, 10_00),  # 满100减10 at exactly 100
        (terms(), 99_99, 0),  # one fen short of the threshold
        (terms(threshold_fen=0, face_fen=5_00), 3_00, 3_00),  # never more than the base
        (discount_terms(), 80_00, 8_00),  # 9折 on 80.00
        (discount_terms(), 333, 33),  # 33.3 fen off, rounded down
        (discount_terms(cap_fen=5_00), 80_00, 5_00),  # capped
        (discount_terms(rate_permille=850, threshold_fen=50_00), 49_99, 0),
        (discount_terms(rate_permille=850), 100_00, 15_00),  # 8.5折
    ],
)
def test_value_of_a_coupon(t: Terms, base_fen: int, off_fen: int) -> None:
    assert value_fen(t, base_fen) == off_fen


def test_worked_example_of_section_13() -> None:
    """100 bill, 20 excluded, merchant 10% off, platform 5 off: the merchant receives 92, the
    buyer pays 87 (no points in paybao: the invoice amount is what the buyer paid)."""
    split = quote(100_00, 20_00, held(1, MERCHANT_10_OFF), held(2, PLATFORM_5_OFF))
    assert split.mdiscount_fen == 8_00  # 10% of the 80 discountable
    assert split.discount_fen == 5_00
    assert split.receipt_fen == 92_00
    assert split.buyer_pay_fen == 87_00
    assert [(v.coupon_id, v.funder, v.amount_fen) for v in split.vouchers] == [
        (1, DiscountFunder.MERCHANT, 8_00),
        (2, DiscountFunder.PLATFORM, 5_00),
    ]
    bills = fund_bills(
        Funding.BALANCE, split.buyer_pay_fen, split.discount_fen, split.mdiscount_fen
    )
    assert bills == (
        FundBill(Funding.BALANCE, 87_00),
        FundBill(DiscountFunder.PLATFORM, 5_00),
        FundBill(DiscountFunder.MERCHANT, 8_00),
    )
    assert sum(bill.amount_fen for bill in bills) == 100_00


def test_the_platform_coupon_prices_what_the_merchant_coupon_left() -> None:
    """A platform 满80减10 no longer applies once the merchant's 9折 took 80.00 down to 72.00."""
    platform = held(2, terms(threshold_fen=80_00))
    split = quote(100_00, 20_00, held(1, MERCHANT_10_OFF), platform)
    assert [v.coupon_id for v in split.vouchers] == [1]
    with pytest.raises(CouponNotApplicable):
        chosen_quote(100_00, 20_00, [held(1, MERCHANT_10_OFF), platform], MERCHANT_ID, NOW_US)


def test_the_buyer_always_pays_at_least_a_fen() -> None:
    big = held(1, terms(face_fen=50_00, threshold_fen=0))
    split = quote(30_00, 0, None, big)
    assert split.discount_fen == 29_99 and split.buyer_pay_fen == 1
    assert quote(1, 0, None, big).vouchers == ()  # nothing to take off a one-fen trade


# Choosing --------------------------------------------------------------------------------------


def test_best_pair_takes_the_most_off_and_skips_what_cannot_be_used() -> None:
    candidates = [
        held(1, terms(face_fen=3_00, threshold_fen=0)),
        held(2, terms(face_fen=20_00, threshold_fen=200_00)),  # threshold not reached
        held(3, terms(face_fen=8_00, threshold_fen=50_00)),
        held(4, MERCHANT_10_OFF),
        held(5, replace(MERCHANT_10_OFF, merchant_id=99)),  # another merchant's
        held(6, terms(face_fen=30_00, threshold_fen=0), status=CouponStatus.USED),
        held(7, terms(face_fen=30_00, threshold_fen=0), expires_at_us=NOW_US),  # expired now
        held(8, terms(face_fen=30_00, threshold_fen=0, valid_from_us=NOW_US + 1)),  # not yet
    ]
    best = best_quote(100_00, 0, candidates, MERCHANT_ID, NOW_US)
    assert [(v.coupon_id, v.amount_fen) for v in best.vouchers] == [(4, 10_00), (3, 8_00)]
    assert best.auto and best.buyer_pay_fen == 82_00


def test_ties_go_to_the_coupon_that_expires_first() -> None:
    late = held(1, PLATFORM_5_OFF, expires_at_us=NOW_US + 9 * US_PER_DAY)
    soon = held(2, PLATFORM_5_OFF, expires_at_us=NOW_US + 2 * US_PER_DAY)
    assert best_quote(20_00, 0, [late, soon], MERCHANT_ID, NOW_US).vouchers[0].coupon_id == 2


def test_no_coupons_no_discount() -> None:
    best = best_quote(20_00, 0, [], MERCHANT_ID, NOW_US)
    assert best.vouchers == () and best.buyer_pay_fen == 20_00


def test_the_buyers_own_pick_is_checked() -> None:
    with pytest.raises(CouponUnavailable):
        chosen_quote(100_00, 0, [held(1, terms(), status=CouponStatus.USED)], 7, NOW_US)
    with pytest.raises(CouponUnavailable):
        chosen_quote(100_00, 0, [held(1, MERCHANT_10_OFF)], 8, NOW_US)  # another merchant
    with pytest.raises(CouponNotApplicable):
        chosen_quote(100_00, 0, [held(1, terms()), held(2, terms())], 7, NOW_US)  # same funder
    with pytest.raises(CouponNotApplicable):
        chosen_quote(90_00, 0, [held(1, terms())], 7, NOW_US)  # below 满100
    with pytest.raises(CouponNotApplicable):
        CouponChoice(coupon_ids=(1, 2, 3))
    picked = chosen_quote(100_00, 0, [held(1, terms())], 7, NOW_US)
    assert picked.discount_fen == 10_00 and not picked.auto


# Templates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        terms(name=""),
        terms(name="x" * 33),
        terms(face_fen=0),
        terms(face_fen=100_00),  # 满100减100 is not a coupon, it is free goods
        terms(rate_permille=900),  # a fixed coupon with a rate
        discount_terms(rate_permille=995),
        discount_terms(rate_permille=50),
        discount_terms(cap_fen=0),  # an uncapped discount cannot keep to a budget
        terms(valid_until_us=NOW_US - 1, valid_from_us=NOW_US - 2),  # over already
        terms(valid_from_us=NOW_US, valid_until_us=NOW_US + 400 * US_PER_DAY),
        terms(budget_fen=9_99),  # less than one coupon
        terms(count_max=0),
        terms(per_user_max=11),
        terms(per_user_max=5, count_max=4),
        terms(funder=DiscountFunder.MERCHANT, merchant_id=None),
        terms(issue_min_fen=0),
    ],
)
def test_templates_that_are_refused(bad: Terms) -> None:
    with pytest.raises(CouponTemplateInvalid):
        check_terms(bad, NOW_US)


def test_a_good_template_and_its_coupons_expiry() -> None:
    good = check_terms(terms(coupon_days=7), NOW_US)
    assert expires_at_us(good, NOW_US) == NOW_US + 7 * US_PER_DAY
    assert expires_at_us(good, good.valid_until_us - US_PER_DAY) == good.valid_until_us
    assert expires_at_us(terms(), NOW_US) == terms().valid_until_us


def template(template_id: int, t: Terms, **changes: object) -> Template:
    base = Template(template_id, t, TemplateStatus.ACTIVE, 0, 0, "operator:1", NOW_US)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_left_count_is_the_tighter_of_count_and_budget() -> None:
    t = terms(budget_fen=95_00, count_max=20)  # 9 coupons of 10.00 fit the budget
    assert template(1, t).left_count == 9
    assert template(1, t, issued_count=19, issued_fen=10_00).left_count == 1
    assert template(1, t, issued_count=9, issued_fen=90_00).left_count == 0


def test_the_gift_after_a_payment_is_the_most_valuable_that_fits() -> None:
    gifts = [
        template(1, terms(issue_min_fen=10_00, face_fen=2_00, threshold_fen=0)),
        template(2, terms(issue_min_fen=50_00, face_fen=8_00, threshold_fen=0)),
        template(3, terms(issue_min_fen=20_00, face_fen=30_00, threshold_fen=0, merchant_id=9)),
        template(4, terms(issue_min_fen=5_00, face_fen=20_00, threshold_fen=0), issued_count=100),
        template(5, terms(face_fen=50_00, threshold_fen=0)),  # claimed, never given
    ]
    assert issue_template_for(gifts, MERCHANT_ID, 60_00, NOW_US).id == 2  # type: ignore[union-attr]
    assert issue_template_for(gifts, MERCHANT_ID, 20_00, NOW_US).id == 1  # type: ignore[union-attr]
    assert issue_template_for(gifts, 9, 20_00, NOW_US).id == 3  # type: ignore[union-attr]
    assert issue_template_for(gifts, MERCHANT_ID, 9_99, NOW_US) is None


# Refunds pro rata ------------------------------------------------------------------------------


def test_refund_of_the_worked_example() -> None:
    """Half of the 100.00 back: the buyer gets 43.50 of the 87.00 it paid, the platform
    reclaims 2.50 of its 5.00, and 4.00 is the merchant discount's share (no money)."""
    half = refund_parts(
        total_fen=100_00, discount_fen=5_00, mdiscount_fen=8_00, refunded_fen=0, refund_fen=50_00
    )
    assert (half.buyer_fen, half.discount_back_fen, half.mdiscount_back_fen) == (43_50, 2_50, 4_00)
    rest = refund_parts(
        total_fen=100_00,
        discount_fen=5_00,
        mdiscount_fen=8_00,
        refunded_fen=50_00,
        refund_fen=50_00,
    )
    assert half.buyer_fen + rest.buyer_fen == 87_00
    assert half.discount_back_fen + rest.discount_back_fen == 5_00
    assert half.mdiscount_back_fen + rest.mdiscount_back_fen == 8_00


def test_a_plan_carries_the_parts_and_an_undiscounted_refund_is_all_the_buyers() -> None:
    plan = plan_refund(
        status=TradeStatus.TRADE_SUCCESS,
        total_fen=100_00,
        fee_fen=55,
        refunded_fen=0,
        refund_fen=100_00,
        window_open=True,
        discount_fen=5_00,
        mdiscount_fen=8_00,
    )
    assert plan.parts.buyer_fen == 87_00 and plan.fee_back_fen == 55
    assert plan.status_after is TradeStatus.TRADE_CLOSED
    plain = refund_parts(
        total_fen=100_00, discount_fen=0, mdiscount_fen=0, refunded_fen=0, refund_fen=1
    )
    assert (plain.buyer_fen, plain.discount_back_fen, plain.mdiscount_back_fen) == (1, 0, 0)


@st.composite
def discounted_refunds(draw: st.DrawFn) -> tuple[int, int, int, list[int]]:
    total = draw(st.integers(min_value=2, max_value=1_000_000))
    discount = draw(st.integers(min_value=0, max_value=total - 1))
    mdiscount = draw(st.integers(min_value=0, max_value=total - 1 - discount))
    cuts = sorted(set(draw(st.lists(st.integers(1, total - 1), max_size=8))))
    pieces = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
    return total, discount, mdiscount, pieces


@given(discounted_refunds())
def test_refunds_in_any_pieces_return_exactly_what_was_paid(
    case: tuple[int, int, int, list[int]],
) -> None:
    total, discount, mdiscount, pieces = case
    refunded = buyer = platform = merchant = 0
    for piece in pieces:
        parts = refund_parts(
            total_fen=total,
            discount_fen=discount,
            mdiscount_fen=mdiscount,
            refunded_fen=refunded,
            refund_fen=piece,
        )
        assert min(parts.buyer_fen, parts.discount_back_fen, parts.mdiscount_back_fen) >= 0
        assert parts.buyer_fen + parts.discount_back_fen + parts.mdiscount_back_fen == piece
        refunded += piece
        buyer += parts.buyer_fen
        platform += parts.discount_back_fen
        merchant += parts.mdiscount_back_fen
        # Never more back to the buyer than its share so far, rounded its way.
        assert buyer <= (total - discount - mdiscount) * refunded // total + 1
    assert (buyer, platform, merchant) == (total - discount - mdiscount, discount, mdiscount)


@given(
    st.integers(min_value=1, max_value=10_000_00),
    st.integers(min_value=0, max_value=10_000_00),
    st.integers(min_value=100, max_value=990),
    st.integers(min_value=1, max_value=1_000_00),
    st.integers(min_value=0, max_value=2_000_00),
)
def test_any_pair_leaves_the_buyer_paying_and_the_parts_add_up(
    total: int, undiscountable_seed: int, rate: int, face: int, threshold: int
) -> None:
    undiscountable = undiscountable_seed % (total + 1)
    merchant = held(1, discount_terms(rate, 100_00, funder=DiscountFunder.MERCHANT, merchant_id=7))
    platform = held(2, terms(face_fen=face, threshold_fen=threshold if threshold > face else 0))
    split = quote(total, undiscountable, merchant, platform)
    assert 1 <= split.buyer_pay_fen <= split.receipt_fen <= total
    assert split.mdiscount_fen + split.discount_fen <= total - undiscountable
    assert split.buyer_pay_fen + split.discount_fen + split.mdiscount_fen == total
