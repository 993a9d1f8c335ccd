"""Coupons under concurrency (SQLite, or PostgreSQL with PAYBAO_TEST_DATABASE_URL): users racing
for the last coupons get exactly as many as there are; one user tapping claim at once holds no
more than the cap; one coupon raced by two payments pays for exactly one of them, and the
platform's subsidy is spent once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.integration.coupon_support import (
    claim,
    marketing_spent,
    open_trade,
    operator_campaign,
)
from tests.integration.credit_support import reconcile_clean
from tests.integration.gateway_support import call, make_buyer, make_shop, wallet_balance
from tests.integration.test_wallet_rules import PIN, open_user
from tests.support.races import race_outcomes

from paybao.bootstrap import Platform
from paybao.domain.coupons import CouponChoice, CouponStatus
from paybao.domain.errors import DomainError

RACERS = 6


def test_users_racing_for_the_last_coupons_get_exactly_as_many_as_there_are(
    platform: Platform,
) -> None:
    users = [open_user(platform, f"1390000050{i}")[0] for i in range(RACERS)]
    # Two coupons left by the count; the budget would allow more.
    template = operator_campaign(platform, count_max=2, budget_fen=1_000_00)
    marketing = platform.services["marketing"]
    results = race_outcomes(RACERS, lambda i: marketing.claim(users[i], template.id))
    assert results == ["coupon_sold_out"] * (RACERS - 2) + ["ok"] * 2
    # And the last one of a budget: 25.00 holds two 10.00 coupons, whatever the count says.
    budgeted = operator_campaign(platform, count_max=100, budget_fen=25_00)
    results = race_outcomes(RACERS, lambda i: marketing.claim(users[i], budgeted.id))
    assert results == ["coupon_sold_out"] * (RACERS - 2) + ["ok"] * 2
    after = marketing.template(budgeted.id)
    assert (after.issued_count, after.issued_fen) == (2, 20_00)
    assert reconcile_clean(platform) == []


def test_two_users_and_the_very_last_coupon(platform: Platform) -> None:
    marketing = platform.services["marketing"]
    first, _ = open_user(platform, "13900000511")
    second, _ = open_user(platform, "13900000512")
    buyers = (first, second)
    for _round in range(5):
        template = operator_campaign(platform, count_max=1, budget_fen=10_00)
        results = race_outcomes(2, lambda i, t=template: marketing.claim(buyers[i], t.id))
        assert results == ["coupon_sold_out", "ok"]
    assert reconcile_clean(platform) == []


def test_one_user_tapping_claim_at_once_holds_no_more_than_the_cap(platform: Platform) -> None:
    user_id, _ = open_user(platform, "13900000521")
    template = operator_campaign(platform, per_user_max=2)
    marketing = platform.services["marketing"]
    results = race_outcomes(RACERS, lambda _i: marketing.claim(user_id, template.id))
    assert results == ["coupon_claim_limit"] * (RACERS - 2) + ["ok"] * 2
    assert len(marketing.coupons_of(user_id, CouponStatus.AVAILABLE)) == 2
    assert marketing.template(template.id).issued_count == 2
    assert reconcile_clean(platform) == []


def test_one_coupon_raced_by_two_cashier_payments_pays_for_one(platform: Platform) -> None:
    shop = make_shop(platform)
    user_id, card_id = open_user(platform, "13900000531")
    platform.services["wallet"].top_up(user_id, card_id, 500_00, PIN)
    coupon = claim(platform, user_id, operator_campaign(platform, threshold_fen=0))
    trades = [open_trade(platform, shop, f"DS-{i}", 50_00) for i in range(RACERS)]
    choice = CouponChoice(coupon_ids=(coupon,))

    def pay(index: int) -> None:
        platform.services["trades"].pay_by_buyer(
            trades[index].trade_no, user_id, PIN, coupons=choice
        )

    results = race_outcomes(RACERS, pay)
    assert results == ["coupon_unavailable"] * (RACERS - 1) + ["ok"]
    paid = [t for t in (platform.services["trades"].get(o.trade_no) for o in trades) if t.paid]
    assert [(t.discount_fen, t.buyer_pay_fen) for t in paid] == [(10_00, 40_00)]
    assert marketing_spent(platform) == 10_00
    assert wallet_balance(platform, user_id) == 500_00 - 40_00
    assert reconcile_clean(platform) == []


def test_one_coupon_raced_by_till_payments_discounts_one_and_the_rest_pay_in_full(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    buyer = make_buyer(platform, balance_fen=500_00)
    claim(platform, buyer, operator_campaign(platform, threshold_fen=0))
    codes = [platform.services["trades"].issue_auth_code(buyer) for _ in range(RACERS)]
    answers: list[dict[str, str]] = []

    def pay(index: int) -> None:
        biz = {
            "out_trade_no": f"TILL-{index}",
            "auth_code": codes[index],
            "subject": "咖啡",
            "total_amount": "30.00",
        }
        answer = call(client, "alipay.trade.pay", biz)
        if answer["code"] != "10000":
            raise DomainError(answer.get("sub_code", answer["code"]))
        answers.append(answer)

    assert race_outcomes(RACERS, pay) == ["ok"] * RACERS
    buyer_paid = sorted(answer["buyer_pay_amount"] for answer in answers)
    assert buyer_paid == ["20.00"] + ["30.00"] * (RACERS - 1)
    assert marketing_spent(platform) == 10_00
    assert wallet_balance(platform, buyer) == 500_00 - 20_00 - 30_00 * (RACERS - 1)
    assert reconcile_clean(platform) == []
