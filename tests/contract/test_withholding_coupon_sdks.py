"""Both real SDKs against a real `paybao serve` for a withholding deduction a coupon paid part
of: python-alipay-sdk signs the agreement and takes the deduction (alipay.trade.pay with
agreement_params), the answer and the query carry the split (receipt_amount, buyer_pay_amount,
discount_amount, mdiscount_amount, voucher_detail_list, DISCOUNT in fund_bill_list) and verify,
the notification carries it too; the official SDK parses a discounted deduction into its
response model.

The server and its fixtures are test_gateway_sdks.py's; this process shares its SQLite file to
run the campaign and register the buyers.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

from alipay.aop.api.domain.AgreementParams import AgreementParams
from alipay.aop.api.domain.AlipayTradePayModel import AlipayTradePayModel
from alipay.aop.api.request.AlipayTradePayRequest import AlipayTradePayRequest
from alipay.aop.api.response.AlipayTradePayResponse import AlipayTradePayResponse
from test_agreement_sdks import RETURN_URL, _sign_as_buyer
from test_gateway_sdks import Server, _unique, _wait_for_form, official, python_sdk, server

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from coupon_support import platform_terms
from gateway_support import make_buyer

from paybao.services.marketing import Creator

__all__ = ["official", "server"]  # fixtures used by the tests below


def _signed_agreement(server: Server, client: Any, phone: str) -> str:
    """The buyer signs a car park's password-free agreement; its number."""
    biz = {
        "personal_product_code": "GENERAL_WITHHOLDING_P",
        "product_code": "GENERAL_WITHHOLDING",
        "sign_scene": "INDUSTRY|PARKING",
        "external_agreement_no": f"plate{time.time_ns()}",
        "access_params": {"channel": "ALIPAYAPP"},
    }
    order = client.client_api(
        "alipay.user.agreement.page.sign",
        biz_content=biz,
        return_url=RETURN_URL,
        notify_url=server.receiver.url,
    )
    return str(_sign_as_buyer(f"{server.gateway_url}?{order}", phone)["agreement_no"])


_PHONES = itertools.count(13600000301)


def _buyer_with_coupon(server: Server) -> str:
    """A funded buyer holding a platform 满100减10 coupon of a fresh campaign; its phone."""
    platform = server.platform
    operator = platform.services["operators"].create(_unique("ops"), "Operator#2024")
    template = platform.services["marketing"].create_template(
        platform_terms(platform), Creator(operator_id=operator.id)
    )
    phone = str(next(_PHONES))
    buyer = make_buyer(platform, phone=phone, balance_fen=500_00)
    platform.services["marketing"].claim(buyer, template.id)
    return phone


def test_python_sdk_reads_the_split_of_a_discounted_deduction(server: Server) -> None:
    client = python_sdk(server)
    phone = _buyer_with_coupon(server)  # 500.00 and a platform 满100减10
    number = _signed_agreement(server, client, phone)
    out = _unique("park")

    paid = client.server_api(
        "alipay.trade.pay",
        biz_content={
            "out_trade_no": out,
            "product_code": "GENERAL_WITHHOLDING",
            "total_amount": "105.00",
            "subject": "停车费",
            "agreement_params": {"agreement_no": number},
        },
        notify_url=server.receiver.url,
    )

    # 105.00 less the 10.00 coupon: 95.00 from the buyer, within the 100.00 a deduction.
    assert paid["code"] == "10000", paid
    assert (paid["total_amount"], paid["receipt_amount"]) == ("105.00", "105.00")
    assert (paid["buyer_pay_amount"], paid["invoice_amount"]) == ("95.00", "95.00")
    assert (paid["discount_amount"], paid["mdiscount_amount"]) == ("10.00", "0.00")
    assert paid["fund_bill_list"] == [
        {"fund_channel": "ALIPAYACCOUNT", "amount": "95.00"},
        {"fund_channel": "DISCOUNT", "amount": "10.00"},
    ]
    (voucher,) = paid["voucher_detail_list"]
    assert (voucher["name"], voucher["type"], voucher["amount"]) == (
        "满100减10",
        "ALIPAY_FIX_VOUCHER",
        "10.00",
    )
    assert (voucher["merchant_contribute"], voucher["other_contribute"]) == ("0.00", "10.00")

    query = client.api_alipay_trade_query(out_trade_no=out)
    assert query["trade_status"] == "TRADE_SUCCESS"
    for key in ("receipt_amount", "buyer_pay_amount", "discount_amount", "mdiscount_amount"):
        assert query[key] == paid[key]
    assert query["voucher_detail_list"] == paid["voucher_detail_list"]
    assert query["fund_bill_list"] == paid["fund_bill_list"]

    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    signature = form.pop("sign")
    assert client.verify(form, signature)
    assert (form["buyer_pay_amount"], form["discount_amount"]) == ("95.00", "10.00")
    assert json.loads(form["voucher_detail_list"]) == paid["voucher_detail_list"]


def test_official_sdk_parses_a_discounted_deduction(server: Server, official: Any) -> None:
    number = _signed_agreement(server, python_sdk(server), _buyer_with_coupon(server))
    client = official()
    model = AlipayTradePayModel()
    model.out_trade_no, model.product_code = _unique("park"), "GENERAL_WITHHOLDING"
    model.total_amount, model.undiscountable_amount = "110.00", "5.00"
    model.subject = "停车费"
    agreement = AgreementParams()
    agreement.agreement_no = number
    model.agreement_params = agreement

    paid = AlipayTradePayResponse()
    paid.parse_response_content(client.execute(AlipayTradePayRequest(biz_model=model)))

    assert paid.is_success(), paid.sub_msg
    assert (paid.total_amount, paid.receipt_amount) == ("110.00", "110.00")
    assert (paid.buyer_pay_amount, paid.discount_amount) == ("100.00", "10.00")
    (voucher,) = paid.voucher_detail_list  # the SDK's VoucherDetail model
    assert (voucher.type, voucher.other_contribute) == ("ALIPAY_FIX_VOUCHER", "10.00")
    channels = {(bill.fund_channel, bill.amount) for bill in paid.fund_bill_list}
    assert channels == {("ALIPAYACCOUNT", "100.00"), ("DISCOUNT", "10.00")}
