"""Both real SDKs against a real `paybao serve` for a trade a coupon paid part of: the pay and
query answers carry the split (receipt_amount, buyer_pay_amount, discount_amount,
mdiscount_amount, voucher_detail_list), each SDK verifies and parses them (the official SDK into
its VoucherDetail model), a refund answers present_refund_* and send_back_fee, and the
notification carries voucher_detail_list as a JSON string that verifies.

The server and its fixtures are test_gateway_sdks.py's; this process shares its SQLite file to
run the campaign, register the buyer and issue its payment code.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

from alipay.aop.api.domain.AlipayTradePayModel import AlipayTradePayModel
from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
from alipay.aop.api.domain.AlipayTradeRefundModel import AlipayTradeRefundModel
from alipay.aop.api.request.AlipayTradePayRequest import AlipayTradePayRequest
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.aop.api.request.AlipayTradeRefundRequest import AlipayTradeRefundRequest
from alipay.aop.api.response.AlipayTradePayResponse import AlipayTradePayResponse
from alipay.aop.api.response.AlipayTradeQueryResponse import AlipayTradeQueryResponse
from alipay.aop.api.response.AlipayTradeRefundResponse import AlipayTradeRefundResponse
from test_gateway_sdks import (  # the module-scoped server and the official client maker
    Server,
    _unique,
    _wait_for_form,
    official,
    python_sdk,
    server,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from coupon_support import platform_terms
from gateway_support import make_buyer

from paybao.services.marketing import Creator

__all__ = ["official", "server"]  # fixtures used by the tests below
_PHONES = itertools.count(13500000201)


def buyer_with_coupon(server: Server) -> int:
    """A funded buyer holding a platform 满100减10 coupon of a fresh campaign."""
    platform = server.platform
    operator = platform.services["operators"].create(_unique("ops"), "Operator#2024")
    template = platform.services["marketing"].create_template(
        platform_terms(platform), Creator(operator_id=operator.id)
    )
    buyer = make_buyer(platform, phone=str(next(_PHONES)), balance_fen=500_00)
    platform.services["marketing"].claim(buyer, template.id)
    return buyer


def test_python_sdk_reads_the_split_of_a_discounted_trade(server: Server) -> None:
    client = python_sdk(server)
    buyer = buyer_with_coupon(server)
    out = _unique("coupon")
    paid = client.api_alipay_trade_pay(
        out, "bar_code", server.code_for(buyer), "早餐", total_amount="120.00"
    )
    assert paid["code"] == "10000", paid
    assert (paid["receipt_amount"], paid["buyer_pay_amount"]) == ("120.00", "110.00")
    assert (paid["discount_amount"], paid["mdiscount_amount"]) == ("10.00", "0.00")

    query = client.api_alipay_trade_query(out_trade_no=out)
    assert query["buyer_pay_amount"] == "110.00" and query["invoice_amount"] == "110.00"
    (voucher,) = query["voucher_detail_list"]
    assert (voucher["name"], voucher["type"], voucher["amount"]) == (
        "满100减10",
        "ALIPAY_FIX_VOUCHER",
        "10.00",
    )
    assert query["fund_bill_list"] == [
        {"fund_channel": "ALIPAYACCOUNT", "amount": "110.00"},
        {"fund_channel": "DISCOUNT", "amount": "10.00"},
    ]
    refund = client.api_alipay_trade_refund("60.00", out_trade_no=out, out_request_no="r1")
    assert (refund["present_refund_buyer_amount"], refund["send_back_fee"]) == ("55.00", "60.00")
    assert refund["present_refund_discount_amount"] == "5.00"

    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    signature = form.pop("sign")
    assert client.verify(form, signature)
    assert form["buyer_pay_amount"] == "110.00" and form["discount_amount"] == "10.00"
    assert json.loads(form["voucher_detail_list"]) == query["voucher_detail_list"]


def test_official_sdk_parses_alipay_trade_query_of_a_discounted_trade(
    server: Server, official: Any
) -> None:
    client = official()
    buyer = buyer_with_coupon(server)
    out = _unique("coupon")

    pay_model = AlipayTradePayModel()
    pay_model.out_trade_no, pay_model.scene = out, "bar_code"
    pay_model.auth_code, pay_model.subject = server.code_for(buyer), "午餐"
    pay_model.total_amount, pay_model.undiscountable_amount = "130.00", "20.00"
    paid = AlipayTradePayResponse()
    paid.parse_response_content(client.execute(AlipayTradePayRequest(biz_model=pay_model)))
    assert paid.is_success() and paid.code == "10000", paid.sub_msg
    assert (paid.buyer_pay_amount, paid.discount_amount) == ("120.00", "10.00")

    query_model = AlipayTradeQueryModel()
    query_model.out_trade_no = out
    query = AlipayTradeQueryResponse()
    query.parse_response_content(client.execute(AlipayTradeQueryRequest(biz_model=query_model)))
    assert query.is_success() and query.trade_status == "TRADE_SUCCESS"
    assert (query.total_amount, query.receipt_amount) == ("130.00", "130.00")
    assert (query.buyer_pay_amount, query.invoice_amount) == ("120.00", "120.00")
    assert (query.discount_amount, query.mdiscount_amount) == ("10.00", "0.00")
    (voucher,) = query.voucher_detail_list  # the SDK's VoucherDetail model
    assert (voucher.name, voucher.type, voucher.amount) == (
        "满100减10",
        "ALIPAY_FIX_VOUCHER",
        "10.00",
    )
    assert (voucher.merchant_contribute, voucher.other_contribute) == ("0.00", "10.00")
    channels = {(bill.fund_channel, bill.amount) for bill in query.fund_bill_list}
    assert channels == {("ALIPAYACCOUNT", "120.00"), ("DISCOUNT", "10.00")}

    refund_model = AlipayTradeRefundModel()
    refund_model.out_trade_no, refund_model.refund_amount = out, "130.00"
    refund = AlipayTradeRefundResponse()
    refund.parse_response_content(client.execute(AlipayTradeRefundRequest(biz_model=refund_model)))
    assert refund.is_success()
    assert (refund.present_refund_buyer_amount, refund.present_refund_discount_amount) == (
        "120.00",
        "10.00",
    )
