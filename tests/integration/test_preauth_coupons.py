"""Coupons on a pre-authorisation capture (资金授权转支付), through the gateway on the real
database (SQLite and PostgreSQL): `alipay.trade.pay` with an auth_no takes the user's best
coupons as a till payment does; the freeze pays only what the user owes after them, the
platform's marketing account pays its part, the capture's mode decides the rest as always;
refunds split pro rata; two captures racing for one coupon use it once; reconcile stays clean
(the pre-authorisation and the marketing checks)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway_support import balance_fen, call, make_buyer, make_shop
from preauth_support import freeze, money_of, pay, query, reconcile_clean
from test_preauth_race import pay_request, race
from tests.integration.coupon_support import (
    claim,
    marketing_spent,
    operator_campaign,
    shop_campaign,
)

from paybao.bootstrap import Platform
from paybao.domain.coupons import CouponStatus

PHONE = "13800138000"


@pytest.fixture
def shop(platform: Platform) -> Any:
    return make_shop(platform)


def codes(answer: dict[str, Any]) -> tuple[str, str]:
    return answer["code"], answer.get("sub_code", "")


def test_a_capture_takes_the_best_pair_and_the_freeze_pays_what_the_user_owes(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=1_000_00)
    auth_no = freeze(client, user_id, "room-801", "300.00")["auth_no"]
    claim(platform, user_id, operator_campaign(platform))  # 满100减10
    claim(platform, user_id, shop_campaign(platform, shop))  # the hotel's 9折

    paid = pay(client, auth_no, "bill-1", "120.00")  # NOT_COMPLETE

    # The hotel's 9折 takes 12.00, the platform's 满100减10 10.00 of the 108.00 left: the
    # freeze pays 98.00 and 202.00 stays frozen.
    assert codes(paid) == ("10000", "")
    assert (paid["total_amount"], paid["receipt_amount"]) == ("120.00", "108.00")
    assert (paid["buyer_pay_amount"], paid["invoice_amount"]) == ("98.00", "98.00")
    assert (paid["discount_amount"], paid["mdiscount_amount"]) == ("10.00", "12.00")
    assert paid["fund_bill_list"] == [
        {"fund_channel": "ALIPAYACCOUNT", "amount": "98.00"},
        {"fund_channel": "DISCOUNT", "amount": "10.00"},
        {"fund_channel": "MDISCOUNT", "amount": "12.00"},
    ]
    assert len(paid["voucher_detail_list"]) == 2
    assert money_of(platform, user_id) == (1_000_00 - 98_00, 202_00)
    assert marketing_spent(platform) == 10_00
    settlement = balance_fen(platform, shop.merchant.settlement_account_id)
    assert settlement == 108_00 - 65  # the receipt less the 0.6 % fee on it
    detail = query(client, auth_no=auth_no)
    assert (detail["total_pay_amount"], detail["rest_amount"]) == ("98.00", "202.00")
    trade_query = call(client, "alipay.trade.query", {"out_trade_no": "bill-1"})
    assert trade_query["buyer_pay_amount"] == "98.00"
    assert trade_query["voucher_detail_list"] == paid["voucher_detail_list"]
    reconcile_clean(platform)

    # No coupon left: COMPLETE pays 150.00 and gives the other 52.00 back.
    rest = pay(client, auth_no, "bill-2", "150.00", "COMPLETE")
    assert (rest["buyer_pay_amount"], rest.get("discount_amount")) == ("150.00", None)
    assert money_of(platform, user_id) == (1_000_00 - 248_00, 0)
    detail = query(client, auth_no=auth_no)
    assert (detail["order_status"], detail["total_pay_amount"]) == ("FINISH", "248.00")
    reconcile_clean(platform)


def test_what_is_still_frozen_bounds_what_the_user_owes(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=500_00)
    auth_no = freeze(client, user_id, "car-1", "100.00")["auth_no"]
    claim(platform, user_id, operator_campaign(platform))  # 满100减10

    over = pay(client, auth_no, "bill-1", "110.01")  # 100.01 after the coupon: too much
    assert codes(over) == ("40004", "ACQ.TOTAL_FEE_EXCEED")
    assert platform.services["marketing"].coupons_of(user_id, CouponStatus.USED) == []
    assert money_of(platform, user_id) == (500_00, 100_00)

    paid = pay(client, auth_no, "bill-2", "110.00", "COMPLETE")  # 100.00 after it: all of it
    assert (paid["total_amount"], paid["buyer_pay_amount"]) == ("110.00", "100.00")
    assert money_of(platform, user_id) == (400_00, 0)
    assert query(client, auth_no=auth_no)["order_status"] == "FINISH"
    reconcile_clean(platform)


def test_the_user_pays_at_least_one_fen_and_complete_unfreezes_the_rest(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=100_00)
    auth_no = freeze(client, user_id, "bike-1", "50.00")["auth_no"]
    claim(platform, user_id, operator_campaign(platform, name="立减10元", threshold_fen=0))

    paid = pay(client, auth_no, "ride-1", "8.00", "COMPLETE")

    assert (paid["buyer_pay_amount"], paid["discount_amount"]) == ("0.01", "7.99")
    assert money_of(platform, user_id) == (100_00 - 1, 0)
    detail = query(client, auth_no=auth_no)
    assert (detail["total_pay_amount"], detail["rest_amount"]) == ("0.01", "0.00")
    reconcile_clean(platform)


def test_refunds_of_a_discounted_capture_split_pro_rata(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=500_00)
    auth_no = freeze(client, user_id, "room-1", "200.00")["auth_no"]
    claim(platform, user_id, operator_campaign(platform))  # 满100减10
    pay(client, auth_no, "bill-1", "120.00", "COMPLETE")  # 110.00 from the freeze, 90 back
    assert money_of(platform, user_id) == (390_00, 0)

    half = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "bill-1", "refund_amount": "60.00", "out_request_no": "r1"},
    )
    assert half["present_refund_buyer_amount"] == "55.00"
    assert half["present_refund_discount_amount"] == "5.00"
    assert money_of(platform, user_id) == (445_00, 0)  # back to the balance
    assert marketing_spent(platform) == 5_00
    call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "bill-1", "refund_amount": "60.00", "out_request_no": "r2"},
    )
    assert money_of(platform, user_id) == (500_00, 0)
    assert marketing_spent(platform) == 0
    reconcile_clean(platform)


def test_two_captures_racing_for_one_coupon_use_it_once(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=1_000_00)
    orders = [freeze(client, user_id, f"room-{n}", "100.00")["auth_no"] for n in range(4)]
    coupon = claim(platform, user_id, operator_campaign(platform, name="立减10元", threshold_fen=0))

    answers = race(
        platform,
        [
            pay_request(auth_no, f"bill-{n}", "30.00", "COMPLETE")
            for n, auth_no in enumerate(orders)
        ],
    )

    assert [codes(answer) for answer in answers] == [("10000", "")] * 4, answers
    pays = sorted(answer["buyer_pay_amount"] for answer in answers)
    assert pays == ["20.00", "30.00", "30.00", "30.00"]
    used = platform.services["marketing"].coupons_of(user_id, CouponStatus.USED)
    assert [held.coupon.id for held in used] == [coupon]
    assert money_of(platform, user_id) == (1_000_00 - 110_00, 0)
    assert marketing_spent(platform) == 10_00
    reconcile_clean(platform)
