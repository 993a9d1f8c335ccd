"""Huabei checkout installments end to end on the real platform (SQLite, or PostgreSQL with
PAYBAO_TEST_DATABASE_URL): page.pay with extend_params, the cashier's offers and its pay form,
the plan on the line, the 1st billing its periods, refunds lowering the unbilled periods and
giving the merchant its fee back pro rata, the under-100 rule, the pay channels, early
repayment, and reconcile clean after each."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from tests.integration.checkout_installment_support import (
    amounts,
    extend,
    income_fen,
    page_pay,
    plan_of,
    settlement_fen,
)
from tests.integration.credit_support import (
    advance_to,
    cashier_pay,
    cashier_signed_in,
    credit_buyer,
    next_month,
    reconcile_clean,
)
from tests.integration.gateway_support import call, wallet_balance
from tests.integration.test_fund_bills import notification_forms
from tests.integration.test_wallet_rules import PIN

from paybao.adapters.alipay.methods import user_wire_id
from paybao.bootstrap import Platform
from paybao.domain.credit_installments import PlanStatus
from paybao.domain.errors import DomainError
from paybao.domain.trades import Funding, TradeStatus

PHONE = "13900000201"


def test_six_buyer_paid_periods_fixed_by_the_merchant(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, limit_fen=2_000_00)
    trade_no = page_pay(client, "HB-6", "600.00", extend_params=extend("6", "0"))
    page = cashier_signed_in(client, trade_no, PHONE)
    assert 'value="installments:6"' in page
    assert 'value="installments:3"' not in page and 'value="installments:12"' not in page
    assert "¥104.50 × 6期" in page  # 100.00 + 4.5 % / 6
    assert "含手续费 ¥27.00" in page
    response = cashier_pay(client, trade_no, "installments:6")
    assert response.status_code == 303, response.text
    trade = platform.services["trades"].get(trade_no)
    assert (trade.status, trade.funding) == (TradeStatus.TRADE_SUCCESS, Funding.CREDIT)
    plan = plan_of(platform, trade_no)
    assert (plan.count, plan.principal_fen, plan.fee_fen, plan.seller_fee_fen) == (
        6,
        600_00,
        27_00,
        0,
    )
    assert amounts(plan) == [(100_00, 4_50, "scheduled")] * 6
    line = platform.services["credit"].line(user_id)
    assert (line.open_fen, line.installment_fen, line.outstanding_fen) == (0, 600_00, 600_00)
    assert line.available_fen == 1_400_00  # the whole principal at once

    query = call(client, "alipay.trade.query", {"out_trade_no": "HB-6"})
    assert query["hb_fq_pay_info"] == {"user_install_num": "6"}
    assert query["fund_bill_list"] == [{"fund_channel": "PCREDIT", "amount": "600.00"}]
    [form] = notification_forms(platform)
    assert json.loads(form["hb_fq_pay_info"]) == {"user_install_num": "6"}
    assert form["fund_bill_list"] == '[{"amount":"600.00","fundChannel":"PCREDIT"}]'
    assert reconcile_clean(platform) == []

    year, month = next_month(platform)
    advance_to(platform, year, month, 1, 1)
    [bill] = platform.services["credit"].summary(user_id).bills
    assert (bill.principal_fen, bill.periods_principal_fen, bill.fee_fen) == (
        100_00,
        100_00,
        4_50,
    )
    line = platform.services["credit"].line(user_id)
    assert (line.installment_fen, line.outstanding_fen) == (500_00, 604_50)
    assert reconcile_clean(platform) == []


def test_twelve_seller_paid_periods_then_partial_and_full_refunds(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, limit_fen=2_000_00)
    trade_no = page_pay(client, "HB-12", "1000.00", extend_params=extend("12", "100"))
    page = cashier_signed_in(client, trade_no, PHONE)
    assert 'id="seller-pays"' in page and "商家承担手续费" in page
    income_before = income_fen(platform)
    assert cashier_pay(client, trade_no, "installments:12").status_code == 303
    trade = platform.services["trades"].get(trade_no)
    plan = plan_of(platform, trade_no)
    assert (plan.fee_fen, plan.seller_fee_fen) == (0, 88_00)
    assert amounts(plan) == [(83_33, 0, "scheduled")] * 11 + [(83_37, 0, "scheduled")]
    assert settlement_fen(platform, trade_no) == 1_000_00 - trade.fee_fen - 88_00
    assert income_fen(platform) == income_before + 88_00
    assert reconcile_clean(platform) == []

    refund = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "HB-12", "refund_amount": "250.00", "out_request_no": "r1"},
    )
    assert refund["refund_detail_item_list"] == [{"fund_channel": "PCREDIT", "amount": "250.00"}]
    plan = plan_of(platform, trade_no)
    assert amounts(plan) == [(62_50, 0, "scheduled")] * 12
    assert (plan.refunded_fen, plan.cancelled_fen, plan.seller_fee_refunded_fen) == (
        250_00,
        250_00,
        22_00,
    )
    assert income_fen(platform) == income_before + 66_00
    line = platform.services["credit"].line(user_id)
    assert (line.installment_fen, line.outstanding_fen) == (750_00, 750_00)
    # The same request again changes nothing.
    again = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "HB-12", "refund_amount": "250.00", "out_request_no": "r1"},
    )
    assert again["fund_change"] == "N"
    assert plan_of(platform, trade_no).refunded_fen == 250_00

    full = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "HB-12", "refund_amount": "750.00", "out_request_no": "r2"},
    )
    assert full.get("refund_fee") == "1000.00", full
    plan = plan_of(platform, trade_no)
    assert plan.status is PlanStatus.REFUNDED
    assert amounts(plan) == [(0, 0, "refunded")] * 12
    assert plan.seller_fee_refunded_fen == 88_00
    assert income_fen(platform) == income_before
    line = platform.services["credit"].line(user_id)
    assert (line.installment_fen, line.outstanding_fen) == (0, 0)
    assert wallet_balance(platform, user_id) == 0
    assert platform.services["trades"].get(trade_no).status is TradeStatus.TRADE_CLOSED
    assert reconcile_clean(platform) == []


def test_the_buyer_chooses_three_and_a_refund_after_the_first_bill(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, limit_fen=2_000_00)
    trade_no = page_pay(client, "HB-3", "300.00")
    page = cashier_signed_in(client, trade_no, PHONE)
    for count in (3, 6, 12):
        assert f'value="installments:{count}"' in page
    assert cashier_pay(client, trade_no, "installments:3").status_code == 303
    plan = plan_of(platform, trade_no)
    assert amounts(plan) == [(100_00, 2_50, "scheduled")] * 3  # 2.5 % of 300.00
    year, month = next_month(platform)
    advance_to(platform, year, month, 1, 1)
    assert [p.status.value for p in plan_of(platform, trade_no).periods] == [
        "billed",
        "scheduled",
        "scheduled",
    ]
    call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "HB-3", "refund_amount": "150.00", "out_request_no": "r1"},
    )
    plan = plan_of(platform, trade_no)
    # 150.00 off the unbilled 200.00; their fee 5.00 less 3.75 waived pro rata.
    assert [a[:2] for a in amounts(plan)] == [(100_00, 2_50), (25_00, 62), (25_00, 63)]
    assert plan.cancelled_fee_fen == 3_75
    call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "HB-3", "refund_amount": "150.00", "out_request_no": "r2"},
    )
    plan = plan_of(platform, trade_no)
    assert plan.status is PlanStatus.COMPLETED
    assert amounts(plan)[1:] == [(0, 0, "refunded")] * 2
    # The billed period's 100.00 comes back to the balance (the bill still asks for it).
    assert wallet_balance(platform, user_id) == 100_00
    line = platform.services["credit"].line(user_id)
    assert (line.installment_fen, line.outstanding_fen) == (0, 102_50)
    assert reconcile_clean(platform) == []


def test_orders_under_100_need_the_merchants_number(platform: Platform, client: TestClient) -> None:
    user_id = credit_buyer(platform, limit_fen=2_000_00)
    trades = platform.services["trades"]
    free = page_pay(client, "HB-99", "99.00")
    page = cashier_signed_in(client, free, PHONE)
    assert "installments:" not in page and 'value="credit"' in page
    try:
        trades.pay_by_buyer(free, user_id, PIN, funding=Funding.CREDIT, installments=3)
        raise AssertionError("paid in installments under 100 CNY without hb_fq_num")
    except DomainError as error:
        assert error.code == "installment_not_offered"
    assert platform.services["trades"].get(free).status is TradeStatus.WAIT_BUYER_PAY
    assert platform.services["credit"].line(user_id).outstanding_fen == 0

    fixed = page_pay(client, "HB-99F", "99.00", extend_params=extend("3"))
    page = cashier_signed_in(client, fixed, PHONE)
    assert 'value="installments:3"' in page
    trades.pay_by_buyer(fixed, user_id, PIN, funding=Funding.CREDIT, installments=3)
    assert [a[:2] for a in amounts(plan_of(platform, fixed))] == [
        (33_00, 82),
        (33_00, 82),
        (33_00, 83),
    ]
    assert reconcile_clean(platform) == []


def test_bad_terms_get_alipays_invalid_parameter(platform: Platform, client: TestClient) -> None:
    page_pay(client, "HB-OK", "200.00", extend_params=extend("3", "100"))  # the shop
    bad = [
        {"extend_params": extend("9")},
        {"extend_params": extend("3", "50")},
        {"extend_params": extend(None, "100")},
        {"extend_params": {"hb_fq_num": "three"}},
        {"enable_pay_channels": "pcredit", "disable_pay_channels": "balance"},
        {"extend_params": extend("3"), "disable_pay_channels": "pcreditpayInstallment"},
    ]
    for number, biz in enumerate(bad):
        content = {"out_trade_no": f"HB-BAD-{number}", "total_amount": "200.00", "subject": "x"}
        answer = call(client, "alipay.trade.precreate", {**content, **biz})
        assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER"), biz
    # Each kind of order accepts the terms; the same order number with others is another order.
    buyer = {"buyer_id": user_wire_id(credit_buyer(platform, limit_fen=2_000_00))}
    for method, named in (("alipay.trade.create", buyer), ("alipay.trade.precreate", {})):
        content = {"out_trade_no": f"HB-{method}", "total_amount": "200.00", "subject": "x"}
        content |= named
        assert call(client, method, {**content, "extend_params": extend("6")})["code"] == "10000"
        again = call(client, method, {**content, "extend_params": extend("12")})
        assert again["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"


def test_pay_channels_decide_what_the_cashier_offers(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, limit_fen=2_000_00)
    no_installments = page_pay(
        client, "HB-CH1", "300.00", disable_pay_channels="pcreditpayInstallment"
    )
    page = cashier_signed_in(client, no_installments, PHONE)
    assert "installments:" not in page and 'value="credit"' in page
    only_installments = page_pay(
        client, "HB-CH2", "300.00", enable_pay_channels="balance,pcreditpayInstallment"
    )
    page = cashier_signed_in(client, only_installments, PHONE)
    assert "installments:6" in page and 'value="credit"' not in page
    try:
        platform.services["trades"].pay_by_buyer(
            only_installments, user_id, PIN, funding=Funding.CREDIT
        )
        raise AssertionError("paid with plain Huabei though the order excludes it")
    except DomainError as error:
        assert error.code == "credit_channel_disabled"
    assert cashier_pay(client, only_installments, "installments:6").status_code == 303


def test_early_repayment_waives_the_unbilled_fees(platform: Platform, client: TestClient) -> None:
    user_id = credit_buyer(platform, limit_fen=2_000_00, balance_fen=1_000_00)
    trade_no = page_pay(client, "HB-PRE", "600.00", extend_params=extend("3"))
    cashier_signed_in(client, trade_no, PHONE)
    assert cashier_pay(client, trade_no, "installments:3").status_code == 303
    year, month = next_month(platform)
    advance_to(platform, year, month, 1, 1)
    plan = plan_of(platform, trade_no)
    installments = platform.services["credit_installments"]
    prepaid = installments.prepay(user_id, plan.id, PIN)
    assert prepaid.status is PlanStatus.PREPAID
    assert (prepaid.prepaid_fen, prepaid.waived_fee_fen) == (400_00, 10_00)
    assert wallet_balance(platform, user_id) == 600_00
    line = platform.services["credit"].line(user_id)
    assert (line.installment_fen, line.outstanding_fen) == (0, 205_00)  # the first bill
    assert reconcile_clean(platform) == []
