"""Coupons through the gateway: `alipay.trade.pay` takes the buyer's best coupons by itself; the
pay and query answers and the notification carry Alipay's split (receipt_amount, buyer_pay_amount,
invoice_amount, discount_amount, mdiscount_amount, voucher_detail_list, DISCOUNT / MDISCOUNT fund
bills); the money moves in one journal (the buyer's part, the marketing account's subsidy, the
fee on what the shop receives); refunds give the buyer back its part pro rata, reclaim the
subsidy pro rata and never return the coupons; discountable_amount / undiscountable_amount are
honoured and checked; the books reconcile."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from tests.integration.coupon_support import (
    claim,
    marketing_spent,
    operator_campaign,
    shop_campaign,
)
from tests.integration.credit_support import reconcile_clean
from tests.integration.gateway_support import (
    Shop,
    balance_fen,
    call,
    make_buyer,
    make_shop,
    wallet_balance,
)
from tests.integration.test_fund_bills import notification_forms, refund_query

from paybao.bootstrap import Platform
from paybao.domain.coupons import CouponKind, CouponStatus
from paybao.domain.trades import Funding


@pytest.fixture
def shop(platform: Platform) -> Shop:
    return make_shop(platform, notify_url="http://127.0.0.1:9/notify")


def pay_by_code(client: TestClient, platform: Platform, buyer: int, biz: dict[str, str]) -> dict:
    code = platform.services["trades"].issue_auth_code(buyer)
    return call(client, "alipay.trade.pay", {"auth_code": code, "subject": "午餐", **biz})


def test_a_till_payment_takes_the_best_coupons_and_answers_the_split(
    platform: Platform, client: TestClient, shop: Shop
) -> None:
    buyer = make_buyer(platform, balance_fen=200_00)
    platform_coupon = claim(platform, buyer, operator_campaign(platform))  # 满100减10
    shop_coupon = claim(platform, buyer, shop_campaign(platform, shop))  # 9折, at most 50
    settlement_before = balance_fen(platform, shop.merchant.settlement_account_id)

    paid = pay_by_code(client, platform, buyer, {"out_trade_no": "C-1", "total_amount": "120.00"})

    # The shop's 9折 takes 12.00 of 120.00; the platform's 满100减10 applies to the 108.00 left.
    assert paid["code"] == "10000"
    assert (paid["total_amount"], paid["receipt_amount"]) == ("120.00", "108.00")
    assert (paid["buyer_pay_amount"], paid["invoice_amount"]) == ("98.00", "98.00")
    assert (paid["discount_amount"], paid["mdiscount_amount"]) == ("10.00", "12.00")
    assert paid["fund_bill_list"] == [
        {"fund_channel": "ALIPAYACCOUNT", "amount": "98.00"},
        {"fund_channel": "DISCOUNT", "amount": "10.00"},
        {"fund_channel": "MDISCOUNT", "amount": "12.00"},
    ]
    vouchers = {v["id"]: v for v in paid["voucher_detail_list"]}
    assert vouchers[str(shop_coupon)] == {
        "id": str(shop_coupon),
        "name": "店铺9折",
        "type": "ALIPAY_DISCOUNT_VOUCHER",
        "amount": "12.00",
        "merchant_contribute": "12.00",
        "other_contribute": "0.00",
        "template_id": vouchers[str(shop_coupon)]["template_id"],
    }
    assert vouchers[str(platform_coupon)]["type"] == "ALIPAY_FIX_VOUCHER"
    assert vouchers[str(platform_coupon)]["other_contribute"] == "10.00"
    assert vouchers[str(platform_coupon)]["merchant_contribute"] == "0.00"

    # The money: the buyer paid 98.00, the marketing account 10.00, the shop got 108.00 less
    # its fee on 108.00 (0.6 %, 0.648 rounds to 0.65).
    assert wallet_balance(platform, buyer) == 102_00
    assert marketing_spent(platform) == 10_00
    settlement = balance_fen(platform, shop.merchant.settlement_account_id)
    assert settlement - settlement_before == 108_00 - 65
    trade = platform.services["trades"].get(paid["trade_no"])
    assert (trade.fee_fen, trade.discount_fen, trade.mdiscount_fen) == (65, 10_00, 12_00)

    query = call(client, "alipay.trade.query", {"out_trade_no": "C-1"})
    for key in ("receipt_amount", "buyer_pay_amount", "discount_amount", "mdiscount_amount"):
        assert query[key] == paid[key]
    assert query["fund_bill_list"] == paid["fund_bill_list"]
    assert query["voucher_detail_list"] == paid["voucher_detail_list"]

    (form,) = notification_forms(platform)
    assert (form["receipt_amount"], form["buyer_pay_amount"]) == ("108.00", "98.00")
    assert (form["discount_amount"], form["mdiscount_amount"]) == ("10.00", "12.00")
    assert json.loads(form["fund_bill_list"]) == [
        {"amount": "98.00", "fundChannel": "ALIPAYACCOUNT"},
        {"amount": "10.00", "fundChannel": "DISCOUNT"},
        {"amount": "12.00", "fundChannel": "MDISCOUNT"},
    ]
    assert json.loads(form["voucher_detail_list"]) == paid["voucher_detail_list"]
    assert reconcile_clean(platform) == []


def test_refunds_give_the_buyer_its_part_pro_rata_and_keep_the_coupons(
    platform: Platform, client: TestClient, shop: Shop
) -> None:
    buyer = make_buyer(platform, balance_fen=200_00)
    claim(platform, buyer, operator_campaign(platform))
    claim(platform, buyer, shop_campaign(platform, shop))
    pay_by_code(client, platform, buyer, {"out_trade_no": "R-1", "total_amount": "120.00"})
    settlement_before = balance_fen(platform, shop.merchant.settlement_account_id)

    half = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "R-1", "refund_amount": "60.00", "out_request_no": "r1"},
    )
    # Half the order: the buyer gets back half of its 98.00, the platform half its 10.00;
    # half of the shop's own 12.00 discount was never received, so it leaves the shop 54.00.
    assert (half["refund_fee"], half["send_back_fee"]) == ("60.00", "54.00")
    assert half["present_refund_buyer_amount"] == "49.00"
    assert half["present_refund_discount_amount"] == "5.00"
    assert half["present_refund_mdiscount_amount"] == "6.00"
    assert half["refund_detail_item_list"] == [
        {"fund_channel": "ALIPAYACCOUNT", "amount": "49.00"},
        {"fund_channel": "DISCOUNT", "amount": "5.00"},
        {"fund_channel": "MDISCOUNT", "amount": "6.00"},
    ]
    assert wallet_balance(platform, buyer) == 102_00 + 49_00
    assert marketing_spent(platform) == 5_00
    fee_back = 33  # half of the 0.65 fee, rounded half up
    settlement = balance_fen(platform, shop.merchant.settlement_account_id)
    assert settlement_before - settlement == 54_00 - fee_back
    assert refund_query(client, half["trade_no"], "r1")["present_refund_buyer_amount"] == "49.00"

    rest = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "R-1", "refund_amount": "60.00", "out_request_no": "r2"},
    )
    assert rest["refund_fee"] == "120.00"
    assert wallet_balance(platform, buyer) == 200_00  # exactly what it paid, back
    assert marketing_spent(platform) == 0  # the subsidy reclaimed in full
    query = call(client, "alipay.trade.query", {"out_trade_no": "R-1"})
    assert query["trade_status"] == "TRADE_CLOSED"
    used = platform.services["marketing"].coupons_of(buyer, CouponStatus.USED)
    assert len(used) == 2  # used coupons are not given back
    assert platform.services["marketing"].coupons_of(buyer, CouponStatus.AVAILABLE) == []
    forms = notification_forms(platform)
    assert [f.get("send_back_fee") for f in forms] == [None, "54.00", "54.00"]
    assert reconcile_clean(platform) == []


def test_a_one_fen_refund_of_a_heavily_discounted_trade(
    platform: Platform, client: TestClient, shop: Shop
) -> None:
    """Refunds of one fen at a time never give the buyer more than its share, and the last one
    settles every part exactly."""
    buyer = make_buyer(platform, balance_fen=10_00)
    claim(platform, buyer, operator_campaign(platform, face_fen=2_99, threshold_fen=0))
    paid = pay_by_code(client, platform, buyer, {"out_trade_no": "T-1", "total_amount": "3.00"})
    assert (paid["buyer_pay_amount"], paid["discount_amount"]) == ("0.01", "2.99")
    parts = []
    for n in range(3):
        biz = {"out_trade_no": "T-1", "refund_amount": "0.01", "out_request_no": f"t{n}"}
        answer = call(client, "alipay.trade.refund", biz)
        parts.append(
            (answer["present_refund_buyer_amount"], answer["present_refund_discount_amount"])
        )
    assert parts == [("0.01", "0.00"), ("0.00", "0.01"), ("0.00", "0.01")]
    assert wallet_balance(platform, buyer) == 10_00
    assert marketing_spent(platform) == 2_99 - 2
    assert reconcile_clean(platform) == []


def test_the_worked_example_with_undiscountable_amount(
    platform: Platform, client: TestClient, shop: Shop
) -> None:
    """§13: a 100.00 bill with 20.00 of drinks excluded, the shop's 9折 and the platform's
    5.00 off: the shop receives 92.00, the buyer pays 87.00."""
    buyer = make_buyer(platform, balance_fen=100_00)
    claim(platform, buyer, shop_campaign(platform, shop))
    claim(
        platform, buyer, operator_campaign(platform, name="立减5元", face_fen=5_00, threshold_fen=0)
    )
    biz = {"out_trade_no": "W-1", "total_amount": "100.00", "undiscountable_amount": "20.00"}
    paid = pay_by_code(client, platform, buyer, biz)
    assert (paid["receipt_amount"], paid["buyer_pay_amount"]) == ("92.00", "87.00")
    assert (paid["mdiscount_amount"], paid["discount_amount"]) == ("8.00", "5.00")
    trade = platform.services["trades"].get(paid["trade_no"])
    assert trade.undiscountable_fen == 20_00
    assert reconcile_clean(platform) == []


def test_discountable_amounts_are_checked(
    platform: Platform, client: TestClient, shop: Shop
) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    claim(platform, buyer, operator_campaign(platform, face_fen=5_00, threshold_fen=0))
    bad = [
        {"total_amount": "10.00", "discountable_amount": "10.01"},
        {"total_amount": "10.00", "undiscountable_amount": "10.01"},
        {"total_amount": "10.00", "discountable_amount": "6.00", "undiscountable_amount": "3.00"},
        {"total_amount": "10.00", "discountable_amount": "abc"},
    ]
    for n, amounts in enumerate(bad):
        answer = pay_by_code(client, platform, buyer, {"out_trade_no": f"D-{n}", **amounts})
        assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER"), amounts
    # Nothing discountable: the coupon stays in the buyer's pocket.
    biz = {"out_trade_no": "D-9", "total_amount": "10.00", "discountable_amount": "0"}
    paid = pay_by_code(client, platform, buyer, biz)
    assert (paid["buyer_pay_amount"], "discount_amount" in paid) == ("10.00", False)
    # Only 4.00 may be discounted: the 5.00 coupon takes 4.00.
    biz = {"out_trade_no": "D-10", "total_amount": "10.00", "discountable_amount": "4.00"}
    paid = pay_by_code(client, platform, buyer, biz)
    assert (paid["buyer_pay_amount"], paid["discount_amount"]) == ("6.00", "4.00")


def test_a_replay_of_a_discounted_payment_spends_nothing_again(
    platform: Platform, client: TestClient, shop: Shop
) -> None:
    buyer = make_buyer(platform, balance_fen=200_00)
    claim(platform, buyer, operator_campaign(platform, per_user_max=2))
    claim(platform, buyer, operator_campaign(platform, per_user_max=2))
    code = platform.services["trades"].issue_auth_code(buyer)
    biz = {"out_trade_no": "P-1", "auth_code": code, "subject": "x", "total_amount": "100.00"}
    first = call(client, "alipay.trade.pay", biz)
    again = call(client, "alipay.trade.pay", biz)
    assert first["trade_no"] == again["trade_no"]
    assert again["buyer_pay_amount"] == "90.00"
    assert len(platform.services["marketing"].coupons_of(buyer, CouponStatus.AVAILABLE)) == 1
    assert wallet_balance(platform, buyer) == 110_00


def test_a_coupon_for_another_shop_or_below_its_threshold_is_left_alone(
    platform: Platform, client: TestClient, shop: Shop
) -> None:
    buyer = make_buyer(platform, balance_fen=200_00)
    other = make_shop(platform, app_id="2021000000000888")
    claim(platform, buyer, shop_campaign(platform, other))  # only at the other shop
    claim(platform, buyer, operator_campaign(platform))  # 满100减10
    paid = pay_by_code(client, platform, buyer, {"out_trade_no": "N-1", "total_amount": "99.99"})
    assert paid["buyer_pay_amount"] == "99.99"
    assert "voucher_detail_list" not in paid
    assert platform.services["trades"].get(paid["trade_no"]).funding is Funding.BALANCE
    kinds = {
        h.terms.kind
        for h in platform.services["marketing"].coupons_of(buyer, CouponStatus.AVAILABLE)
    }
    assert kinds == {CouponKind.FIXED, CouponKind.DISCOUNT}


def test_the_trade_bill_names_what_the_shop_received_and_each_discount(
    platform: Platform, client: TestClient, shop: Shop
) -> None:
    """业务明细: 商家实收 is the order less the shop's own discount; 支付宝优惠 / 商家优惠 /
    券核销金额 carry the coupons, refunds negative, and the footer sums the shop's discounts."""
    from paybao.adapters.bills.alipay_bill import _detail_text
    from paybao.adapters.db.bill_queries import SqlBillSource
    from paybao.domain.bills import china_day_of, day_period

    buyer = make_buyer(platform, balance_fen=200_00)
    claim(platform, buyer, operator_campaign(platform))
    claim(platform, buyer, shop_campaign(platform, shop))
    pay_by_code(client, platform, buyer, {"out_trade_no": "B-1", "total_amount": "120.00"})
    biz = {"out_trade_no": "B-1", "refund_amount": "60.00", "out_request_no": "r1"}
    call(client, "alipay.trade.refund", biz)
    period = day_period(china_day_of(platform.clock.now_us()))
    with platform.db.read() as tx:
        rows = SqlBillSource().trade_rows(tx, shop.app.app_id, period)
    text = _detail_text("2088", period, rows, platform.clock.now_us())
    trade_line, refund_line = [line for line in text.splitlines() if "B-1" in line]
    # 订单金额, 商家实收, 支付宝红包, 集分宝, 支付宝优惠, 商家优惠, 券核销金额
    assert trade_line.split(",")[11:18] == [
        "120.00", "108.00", "0.00", "0.00", "10.00", "12.00", "22.00"
    ]  # fmt: skip
    assert refund_line.split(",")[11:18] == [
        "-60.00", "-54.00", "0.00", "0.00", "-5.00", "-6.00", "-11.00"
    ]  # fmt: skip
    assert "商家实收共108.00元，商家优惠共12.00元" in text
    assert "商家实收退款共-54.00元，商家优惠退款共-6.00元" in text


def test_the_wallets_payment_code_takes_the_best_coupon_too(
    platform: Platform, client: TestClient, shop: Shop
) -> None:
    """The device's offline code (password-free, and confirmed with the password above the
    password-free amount) pays with the best coupon like the one-time codes."""
    from tests.integration.gateway_support import PAYMENT_PASSWORD
    from tests.integration.test_paycode_gateway import bind, code_of

    buyer = make_buyer(platform, balance_fen=3_000_00)
    claim(platform, buyer, operator_campaign(platform, per_user_max=2))
    claim(platform, buyer, operator_campaign(platform, per_user_max=2))
    bound = bind(platform, buyer)
    biz = {"scene": "bar_code", "subject": "咖啡", "auth_code": code_of(platform, bound)}
    free = call(
        client, "alipay.trade.pay", {**biz, "out_trade_no": "PC-1", "total_amount": "120.00"}
    )
    assert (free["code"], free["buyer_pay_amount"], free["discount_amount"]) == (
        "10000",
        "110.00",
        "10.00",
    )
    platform.sandbox_clock.advance(60)  # the next code
    biz["auth_code"] = code_of(platform, bound)
    waiting = call(
        client, "alipay.trade.pay", {**biz, "out_trade_no": "PC-2", "total_amount": "1500.00"}
    )
    assert waiting["code"] == "10003"
    paycodes = platform.services["paycodes"]
    [(row, _)] = paycodes.pending(buyer)
    confirmed = paycodes.confirm(buyer, row.id, PAYMENT_PASSWORD)
    assert (confirmed.buyer_pay_fen, confirmed.discount_fen) == (1_490_00, 10_00)
    assert wallet_balance(platform, buyer) == 3_000_00 - 110_00 - 1_490_00
    assert marketing_spent(platform) == 20_00
    assert reconcile_clean(platform) == []
