"""Coupons on withholding deductions, through the gateway on the real database (SQLite and
PostgreSQL): an agreement pay (`alipay.trade.pay` with `agreement_params`) takes the signer's
best coupons as a till payment does, answers, queries and notifies Alipay's split, every
agreement limit counts what the user paid (buyer_pay), refunds split pro rata, two deductions
racing for one coupon use it once, and the books reconcile after each."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from agreement_support import GENERAL, deduct, receiver, row_count, signed_agreement
from fastapi.testclient import TestClient
from gateway_support import (
    PAYMENT_PASSWORD,
    balance_fen,
    call,
    make_buyer,
    make_shop,
    wallet_balance,
)
from test_agreements_race import race
from tests.integration.coupon_support import (
    claim,
    marketing_spent,
    operator_campaign,
    shop_campaign,
)
from tests.integration.credit_support import reconcile_clean

from paybao.bootstrap import Platform
from paybao.domain.account_class import china_date
from paybao.domain.coupons import US_PER_DAY, CouponStatus

PHONE = "13800138000"


@pytest.fixture
def shop(platform: Platform) -> Any:
    return make_shop(platform, notify_url="http://127.0.0.1:9/notify")


def usage_fen(platform: Platform, user_id: int, period: str) -> int:
    sql = (
        f"SELECT used_fen FROM withholding_usage WHERE user_id = {user_id} AND period = '{period}'"
    )
    return int(row_count(platform, sql))


def today_key(platform: Platform) -> str:
    return f"d:{china_date(platform.clock.now()).isoformat()}"


def test_a_deduction_takes_the_best_pair_and_answers_queries_and_notifies_the_split(
    platform: Platform, client: TestClient
) -> None:
    with receiver() as endpoint:
        shop = make_shop(platform, notify_url=endpoint.url)
        paid, forms = _deduct_with_both_coupons(platform, client, shop, endpoint)
    (form,) = forms
    assert (form["receipt_amount"], form["buyer_pay_amount"]) == ("108.00", "98.00")
    assert (form["discount_amount"], form["mdiscount_amount"]) == ("10.00", "12.00")
    assert json.loads(form["voucher_detail_list"]) == paid["voucher_detail_list"]
    assert [bill["fundChannel"] for bill in json.loads(form["fund_bill_list"])] == [
        "ALIPAYACCOUNT",
        "DISCOUNT",
        "MDISCOUNT",
    ]
    assert reconcile_clean(platform) == []


def _deduct_with_both_coupons(
    platform: Platform, client: TestClient, shop: Any, endpoint: Any
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A 120.00 deduction with the shop's 9折 and the platform's 满100减10; checks the answer,
    the query, the money and the counters; the answer and the trade notifications sent."""
    user_id = make_buyer(platform, PHONE, balance_fen=200_00)
    number = signed_agreement(client, PHONE)
    platform_coupon = claim(platform, user_id, operator_campaign(platform))  # 满100减10
    shop_coupon = claim(platform, user_id, shop_campaign(platform, shop))  # 9折, at most 50
    settlement_before = balance_fen(platform, shop.merchant.settlement_account_id)

    paid = deduct(client, number, "park-1", "120.00")

    # The shop's 9折 takes 12.00 of 120.00; the platform's 满100减10 the 108.00 left.
    assert paid["code"] == "10000", paid
    assert (paid["total_amount"], paid["receipt_amount"]) == ("120.00", "108.00")
    assert (paid["buyer_pay_amount"], paid["invoice_amount"]) == ("98.00", "98.00")
    assert (paid["discount_amount"], paid["mdiscount_amount"]) == ("10.00", "12.00")
    assert paid["fund_bill_list"] == [
        {"fund_channel": "ALIPAYACCOUNT", "amount": "98.00"},
        {"fund_channel": "DISCOUNT", "amount": "10.00"},
        {"fund_channel": "MDISCOUNT", "amount": "12.00"},
    ]
    vouchers = {v["id"]: v for v in paid["voucher_detail_list"]}
    assert set(vouchers) == {str(platform_coupon), str(shop_coupon)}
    assert vouchers[str(shop_coupon)]["type"] == "ALIPAY_DISCOUNT_VOUCHER"
    assert vouchers[str(shop_coupon)]["merchant_contribute"] == "12.00"
    assert vouchers[str(platform_coupon)]["type"] == "ALIPAY_FIX_VOUCHER"
    assert vouchers[str(platform_coupon)]["other_contribute"] == "10.00"

    # The money: the user paid 98.00, the marketing account 10.00, the shop received 108.00
    # less its fee on 108.00 (0.6 %: 0.648 rounds to 0.65).
    assert wallet_balance(platform, user_id) == 200_00 - 98_00
    assert marketing_spent(platform) == 10_00
    settlement = balance_fen(platform, shop.merchant.settlement_account_id)
    assert settlement - settlement_before == 108_00 - 65

    query = call(client, "alipay.trade.query", {"out_trade_no": "park-1"})
    for key in ("receipt_amount", "buyer_pay_amount", "discount_amount", "mdiscount_amount"):
        assert query[key] == paid[key]
    assert query["fund_bill_list"] == paid["fund_bill_list"]
    assert query["voucher_detail_list"] == paid["voucher_detail_list"]
    # The agreement and the user's totals count the 98.00 the user paid, not the 120.00.
    assert row_count(platform, "SELECT paid_fen FROM agreements") == 98_00
    assert row_count(platform, "SELECT amount_fen FROM agreement_deductions") == 98_00
    assert usage_fen(platform, user_id, today_key(platform)) == 98_00
    # A replay answers the first result and spends nothing again.
    assert deduct(client, number, "park-1", "120.00")["buyer_pay_amount"] == "98.00"
    assert wallet_balance(platform, user_id) == 200_00 - 98_00
    platform.jobs.run_due()
    return paid, endpoint.of_type("trade_status_sync")


def test_coupons_of_another_shop_expired_or_below_threshold_are_left_alone(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=100_00)
    number = signed_agreement(client, PHONE)
    other = make_shop(platform, app_id="2021000000000888")
    claim(platform, user_id, shop_campaign(platform, other))  # the other shop's 9折
    now_us = platform.clock.now_us()
    expiring = operator_campaign(
        platform, name="立减3元", face_fen=3_00, threshold_fen=0, valid_until_us=now_us + US_PER_DAY
    )
    claim(platform, user_id, expiring)
    claim(platform, user_id, operator_campaign(platform))  # 满100减10: below its threshold
    platform.sandbox_clock.advance(2 * US_PER_DAY // 1_000_000)  # the 立减3元 has expired

    paid = deduct(client, number, "park-1", "20.00")

    assert paid["code"] == "10000", paid
    assert (paid["receipt_amount"], paid["buyer_pay_amount"]) == ("20.00", "20.00")
    assert "voucher_detail_list" not in paid and "discount_amount" not in paid
    assert paid["fund_bill_list"] == [{"fund_channel": "ALIPAYACCOUNT", "amount": "20.00"}]
    assert wallet_balance(platform, user_id) == 100_00 - 20_00
    assert platform.services["marketing"].coupons_of(user_id, CouponStatus.USED) == []
    assert reconcile_clean(platform) == []


def test_the_user_always_pays_at_least_one_fen(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=10_00)
    number = signed_agreement(client, PHONE)
    claim(platform, user_id, operator_campaign(platform, name="立减10元", threshold_fen=0))

    paid = deduct(client, number, "park-1", "5.00")

    assert (paid["buyer_pay_amount"], paid["discount_amount"]) == ("0.01", "4.99")
    assert paid["fund_bill_list"][0] == {"fund_channel": "ALIPAYACCOUNT", "amount": "0.01"}
    assert wallet_balance(platform, user_id) == 10_00 - 1
    assert row_count(platform, "SELECT paid_fen FROM agreements") == 1
    assert reconcile_clean(platform) == []


def test_the_caps_count_what_the_user_pays(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    """100.00 a deduction (PAYBAO_WITHHOLDING_SINGLE_FEN_MAX) and the user's own monthly cap
    bound what leaves the user's wallet: 105.00 less a 10.00 coupon passes, and is counted as
    95.00."""
    user_id = make_buyer(platform, PHONE, balance_fen=300_00)
    number = signed_agreement(client, PHONE)
    claim(platform, user_id, operator_campaign(platform))  # 满100减10

    paid = deduct(client, number, "park-1", "105.00")
    assert (paid["code"], paid["buyer_pay_amount"]) == ("10000", "95.00")
    # Without a coupon left, the same amount is over the cap.
    over = deduct(client, number, "park-2", "105.00")
    assert (over["code"], over["sub_code"]) == ("40004", "ACQ.PRODUCT_AMOUNT_LIMIT_ERROR")

    # The user's monthly cap of 100.00 on this agreement: 95.00 used, 5.00 left; a 15.00
    # order less a 10.00 立减 is 5.00 and passes, 5.01 would not.
    platform.services["agreements"].set_user_cap(user_id, number, 100_00, PAYMENT_PASSWORD)
    claim(platform, user_id, operator_campaign(platform, name="立减10元", threshold_fen=0))
    within = deduct(client, number, "park-3", "15.00")
    assert (within["code"], within["buyer_pay_amount"]) == ("10000", "5.00"), within
    capped = deduct(client, number, "park-4", "0.01")
    assert capped["sub_code"] == "ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR"
    assert row_count(platform, "SELECT paid_fen FROM agreements") == 100_00
    assert usage_fen(platform, user_id, today_key(platform)) == 100_00
    assert wallet_balance(platform, user_id) == 300_00 - 100_00
    assert reconcile_clean(platform) == []


def test_a_cycle_deduction_counts_what_the_user_pays_against_its_single_amount(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=100_00)
    today = china_date(platform.clock.now())
    rule = {
        "period_type": "DAY",
        "period": 7,
        "execute_time": today.isoformat(),
        "single_amount": "20.00",
        "total_amount": "100.00",
    }
    biz = {
        "personal_product_code": "CYCLE_PAY_AUTH_P",
        "sign_scene": "INDUSTRY|MEMBERSHIP",
        "period_rule_params": rule,
    }
    number = signed_agreement(client, PHONE, biz)
    claim(
        platform,
        user_id,
        operator_campaign(platform, name="立减5元", face_fen=5_00, threshold_fen=0),
    )

    paid = deduct(client, number, "week-1", "25.00", "CYCLE_PAY_AUTH")

    assert (paid["code"], paid["buyer_pay_amount"]) == ("10000", "20.00"), paid
    assert row_count(platform, "SELECT paid_fen FROM agreements") == 20_00
    assert wallet_balance(platform, user_id) == 100_00 - 20_00
    assert reconcile_clean(platform) == []


def test_refunds_of_a_withheld_trade_split_pro_rata(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=200_00)
    number = signed_agreement(client, PHONE)
    claim(platform, user_id, operator_campaign(platform))
    claim(platform, user_id, shop_campaign(platform, shop))
    deduct(client, number, "park-1", "120.00")  # pays 98.00, 10.00 + 12.00 off

    half = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "park-1", "refund_amount": "60.00", "out_request_no": "r1"},
    )
    assert (half["refund_fee"], half["send_back_fee"]) == ("60.00", "54.00")
    assert half["present_refund_buyer_amount"] == "49.00"
    assert half["present_refund_discount_amount"] == "5.00"
    assert half["present_refund_mdiscount_amount"] == "6.00"
    assert wallet_balance(platform, user_id) == 200_00 - 98_00 + 49_00
    assert marketing_spent(platform) == 5_00

    rest = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "park-1", "refund_amount": "60.00", "out_request_no": "r2"},
    )
    assert rest["refund_fee"] == "120.00"
    assert wallet_balance(platform, user_id) == 200_00
    assert marketing_spent(platform) == 0
    assert len(platform.services["marketing"].coupons_of(user_id, CouponStatus.USED)) == 2
    # A refund gives money back; the deduction (what the limits counted) stays as it was.
    assert row_count(platform, "SELECT paid_fen FROM agreements") == 98_00
    assert reconcile_clean(platform) == []


def test_the_wallet_shows_what_each_deduction_took_and_the_discount(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=200_00)
    number = signed_agreement(client, PHONE)  # the client is now signed in as the user
    claim(platform, user_id, operator_campaign(platform))
    assert deduct(client, number, "park-1", "105.00")["buyer_pay_amount"] == "95.00"

    page = client.get(f"/wallet/agreements/{number}")

    assert page.status_code == 200
    (item,) = re.findall(r'<li class="deduction">(.*?)</li>', page.text, re.S)
    assert "-95.00" in item  # what left the wallet
    assert "订单金额 ¥105.00" in item and "优惠 -¥10.00" in item
    assert re.search(r'id="paid">¥95.00 · 1 笔', page.text)
    statement = client.get("/wallet/statement")
    assert statement.status_code == 200 and "95.00" in statement.text


def test_two_deductions_racing_for_one_coupon_use_it_once(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=500_00)
    parking = signed_agreement(client, PHONE, {**GENERAL, "external_agreement_no": "car"})
    transit = signed_agreement(
        client, PHONE, {**GENERAL, "sign_scene": "INDUSTRY|TRANSIT", "external_agreement_no": "bus"}
    )
    coupon = claim(platform, user_id, operator_campaign(platform, name="立减10元", threshold_fen=0))
    orders = [
        (parking if n % 2 else transit, f"o-{n}", "30.00", "GENERAL_WITHHOLDING") for n in range(4)
    ]

    answers = race(platform, orders)

    assert [answer["code"] for answer in answers] == ["10000"] * 4, answers
    pays = sorted(answer["buyer_pay_amount"] for answer in answers)
    assert pays == ["20.00", "30.00", "30.00", "30.00"]
    used = platform.services["marketing"].coupons_of(user_id, CouponStatus.USED)
    assert [held.coupon.id for held in used] == [coupon]
    assert wallet_balance(platform, user_id) == 500_00 - 110_00
    assert marketing_spent(platform) == 10_00
    assert usage_fen(platform, user_id, today_key(platform)) == 110_00
    assert reconcile_clean(platform) == []
