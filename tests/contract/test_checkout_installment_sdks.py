"""Both real SDKs against a real `paybao serve` for Huabei checkout installments: page.pay with
extend_params (hb_fq_num, hb_fq_seller_percent) leads to the cashier, which offers exactly that
number of periods; the buyer pays in them; the notification carries hb_fq_pay_info and PCREDIT
and verifies with each SDK's own check; trade.query answers hb_fq_pay_info (the official SDK
parses it into its HbFqPayInfo model); a refund goes back to the plan. A bad hb_fq_num is
Alipay's ACQ.INVALID_PARAMETER, signed.

The server and its fixtures are test_gateway_sdks.py's; this process shares its SQLite file to
register the buyer and grant its Huabei line.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import httpx
from alipay.aop.api.domain.AlipayTradePagePayModel import AlipayTradePagePayModel
from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
from alipay.aop.api.domain.AlipayTradeRefundModel import AlipayTradeRefundModel
from alipay.aop.api.domain.ExtendParams import ExtendParams
from alipay.aop.api.request.AlipayTradePagePayRequest import AlipayTradePagePayRequest
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.aop.api.request.AlipayTradeRefundRequest import AlipayTradeRefundRequest
from alipay.aop.api.response.AlipayTradeQueryResponse import AlipayTradeQueryResponse
from alipay.aop.api.response.AlipayTradeRefundResponse import AlipayTradeRefundResponse
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from test_gateway_sdks import (  # the module-scoped server and the official client maker
    Server,
    _unique,
    _wait_for_form,
    official,
    python_sdk,
    server,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from admin_support import csrf_of
from credit_support import LOGIN_PASSWORD, credit_buyer
from test_wallet_rules import PIN

__all__ = ["official", "server"]  # fixtures used by the tests below
_PHONES = itertools.count(13600000301)


def buyer(server: Server) -> str:
    """A buyer with a 5,000 CNY Huabei line; its phone (the cashier's sign-in)."""
    phone = str(next(_PHONES))
    credit_buyer(server.platform, phone=phone, limit_fen=5_000_00)
    return phone


def pay_at_cashier(redirect: httpx.Response, phone: str, count: int) -> str:
    """Follow the gateway's redirect to the cashier, sign in, pay in `count` periods; the
    page's text before paying."""
    assert redirect.status_code == 302, redirect.text
    cashier_url = redirect.headers["location"]
    with httpx.Client(timeout=15) as browser:
        page = browser.get(cashier_url)
        page = browser.post(
            f"{cashier_url}/login",
            data={"csrf_token": csrf_of(page.text), "phone": phone, "password": LOGIN_PASSWORD},
            follow_redirects=True,
        )
        offered = page.text
        paid = browser.post(
            f"{cashier_url}/pay",
            data={
                "csrf_token": csrf_of(page.text),
                "funding": f"installments:{count}",
                "payment_password": PIN,
            },
        )
        assert paid.status_code in (200, 303), paid.text
    return offered


def test_python_sdk_pays_in_installments_at_the_cashier(server: Server) -> None:
    client = python_sdk(server)
    phone = buyer(server)
    out = _unique("py-hbfq")
    query_string = client.client_api(
        "alipay.trade.page.pay",
        biz_content={
            "out_trade_no": out,
            "total_amount": "600.00",
            "subject": "花呗分期 6 期",
            "product_code": "FAST_INSTANT_TRADE_PAY",
            "extend_params": {"hb_fq_num": "6", "hb_fq_seller_percent": "100"},
        },
        return_url="http://127.0.0.1:9/return",
    )
    offered = pay_at_cashier(httpx.get(server.gateway_url + "?" + query_string), phone, 6)
    assert 'value="installments:6"' in offered and 'value="installments:3"' not in offered
    assert "商家承担手续费" in offered

    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    signature = form.pop("sign")
    assert client.verify(form, signature)
    assert json.loads(form["hb_fq_pay_info"]) == {"user_install_num": "6"}
    assert json.loads(form["fund_bill_list"]) == [{"amount": "600.00", "fundChannel": "PCREDIT"}]

    query = client.api_alipay_trade_query(out_trade_no=out)
    assert (query["code"], query["trade_status"]) == ("10000", "TRADE_SUCCESS")
    assert query["hb_fq_pay_info"] == {"user_install_num": "6"}
    refund = client.api_alipay_trade_refund("100.00", out_trade_no=out, out_request_no="r1")
    assert (refund["code"], refund["refund_fee"]) == ("10000", "100.00")
    assert refund["refund_detail_item_list"] == [{"fund_channel": "PCREDIT", "amount": "100.00"}]

    bad = client.client_api(
        "alipay.trade.precreate",
        biz_content={
            "out_trade_no": _unique("py-bad"),
            "total_amount": "600.00",
            "subject": "bad",
            "extend_params": {"hb_fq_num": "9"},
        },
    )
    answer = httpx.post(
        server.gateway_url,
        content=bad,
        headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
    )
    assert '"sub_code":"ACQ.INVALID_PARAMETER"' in answer.text


def test_official_sdk_pays_in_installments_at_the_cashier(server: Server, official: Any) -> None:
    client = official()
    phone = buyer(server)
    model = AlipayTradePagePayModel()
    out = _unique("of-hbfq")
    model.out_trade_no, model.total_amount, model.subject = out, "300.00", "花呗分期"
    model.product_code = "FAST_INSTANT_TRADE_PAY"
    extend = ExtendParams()
    extend.hb_fq_num, extend.hb_fq_seller_percent = "3", "0"
    model.extend_params = extend
    request = AlipayTradePagePayRequest(biz_model=model)
    request.notify_url = server.receiver.url
    url = client.page_execute(request, http_method="GET")
    offered = pay_at_cashier(httpx.get(url), phone, 3)
    assert "¥102.50 × 3期" in offered  # 100.00 + 2.5 % / 3

    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    signature = form.pop("sign")
    form.pop("sign_type")
    public_base64 = "".join(server.platform_public_pem.splitlines()[1:-1])
    assert verify_with_rsa(public_base64, get_sign_content(form).encode("utf-8"), signature)
    assert json.loads(form["hb_fq_pay_info"]) == {"user_install_num": "3"}

    query_model = AlipayTradeQueryModel()
    query_model.out_trade_no = out
    query = AlipayTradeQueryResponse()
    query.parse_response_content(client.execute(AlipayTradeQueryRequest(biz_model=query_model)))
    assert query.is_success() and query.trade_status == "TRADE_SUCCESS"
    assert query.hb_fq_pay_info.user_install_num == "3"
    assert [(b.fund_channel, b.amount) for b in query.fund_bill_list] == [("PCREDIT", "300.00")]

    refund_model = AlipayTradeRefundModel()
    refund_model.out_trade_no, refund_model.refund_amount = out, "300.00"
    refund_model.out_request_no = "all"
    refund = AlipayTradeRefundResponse()
    refund.parse_response_content(client.execute(AlipayTradeRefundRequest(biz_model=refund_model)))
    assert refund.is_success() and refund.refund_fee == "300.00"
    plan = server.platform.services["checkout_installments"].plan_of_trade(query.trade_no)
    assert plan is not None and plan.status.value == "refunded"
