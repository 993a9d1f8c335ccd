"""Both real SDKs against a real `paybao serve` for fund pre-authorisation: freeze by payment
code -> pay from the freeze (alipay.trade.pay with auth_no) -> unfreeze -> detail query, with
python-alipay-sdk's generic signed call and with the official SDK's request, model and
response classes; an app freeze's order string (the official sdk_execute, python-alipay-sdk's
client_api) opened against the gateway and confirmed by the user over HTTP; and the
fund_auth_freeze / fund_auth_unfreeze notifications each SDK's verifier accepts.

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module); this process shares its SQLite file to register buyers and issue payment codes.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from alipay.aop.api.domain.AlipayFundAuthOperationCancelModel import (
    AlipayFundAuthOperationCancelModel,
)
from alipay.aop.api.domain.AlipayFundAuthOperationDetailQueryModel import (
    AlipayFundAuthOperationDetailQueryModel,
)
from alipay.aop.api.domain.AlipayFundAuthOrderAppFreezeModel import (
    AlipayFundAuthOrderAppFreezeModel,
)
from alipay.aop.api.domain.AlipayFundAuthOrderFreezeModel import AlipayFundAuthOrderFreezeModel
from alipay.aop.api.domain.AlipayFundAuthOrderUnfreezeModel import (
    AlipayFundAuthOrderUnfreezeModel,
)
from alipay.aop.api.domain.AlipayTradePayModel import AlipayTradePayModel
from alipay.aop.api.request.AlipayFundAuthOperationCancelRequest import (
    AlipayFundAuthOperationCancelRequest,
)
from alipay.aop.api.request.AlipayFundAuthOperationDetailQueryRequest import (
    AlipayFundAuthOperationDetailQueryRequest,
)
from alipay.aop.api.request.AlipayFundAuthOrderAppFreezeRequest import (
    AlipayFundAuthOrderAppFreezeRequest,
)
from alipay.aop.api.request.AlipayFundAuthOrderFreezeRequest import (
    AlipayFundAuthOrderFreezeRequest,
)
from alipay.aop.api.request.AlipayFundAuthOrderUnfreezeRequest import (
    AlipayFundAuthOrderUnfreezeRequest,
)
from alipay.aop.api.request.AlipayTradePayRequest import AlipayTradePayRequest
from alipay.aop.api.response.AlipayFundAuthOperationCancelResponse import (
    AlipayFundAuthOperationCancelResponse,
)
from alipay.aop.api.response.AlipayFundAuthOperationDetailQueryResponse import (
    AlipayFundAuthOperationDetailQueryResponse,
)
from alipay.aop.api.response.AlipayFundAuthOrderFreezeResponse import (
    AlipayFundAuthOrderFreezeResponse,
)
from alipay.aop.api.response.AlipayFundAuthOrderUnfreezeResponse import (
    AlipayFundAuthOrderUnfreezeResponse,
)
from alipay.aop.api.response.AlipayTradePayResponse import AlipayTradePayResponse
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from test_gateway_sdks import Server, official, python_sdk, server

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, make_buyer

__all__ = ["official", "server"]  # fixtures used by the tests below


def _unique(prefix: str) -> str:
    return f"{prefix}{time.time_ns()}"


def _wait_for(server: Server, notify_type: str, key: str, value: str) -> dict[str, str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for form in server.receiver.forms:
            if form.get("notify_type") == notify_type and form.get(key) == value:
                return form
        time.sleep(0.05)
    raise AssertionError(f"no {notify_type} notification with {key}={value}")


def _official_verifies(server: Server, params: dict[str, str]) -> bool:
    content = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
    public_base64 = "".join(server.platform_public_pem.splitlines()[1:-1])
    return bool(verify_with_rsa(public_base64, get_sign_content(content).encode(), params["sign"]))


def _python_verifies(client: Any, params: dict[str, str]) -> bool:
    form = dict(params)
    signature = form.pop("sign")
    return bool(client.verify(form, signature))


def test_python_sdk_freeze_pay_unfreeze_and_query(server: Server) -> None:
    client = python_sdk(server)
    buyer = make_buyer(server.platform, "13700000301", balance_fen=1_000_00)
    out_order_no = _unique("hotel")
    frozen = client.server_api(
        "alipay.fund.auth.order.freeze",
        biz_content={
            "auth_code": server.code_for(buyer),
            "auth_code_type": "bar_code",
            "out_order_no": out_order_no,
            "out_request_no": out_order_no + "f",
            "order_title": "酒店押金 {801}",
            "amount": "300.00",
            "product_code": "PRE_AUTH",
        },
        notify_url=server.receiver.url,  # the SDK adds it to alipay.trade.* calls only
    )
    assert (frozen["code"], frozen["status"], frozen["amount"]) == ("10000", "SUCCESS", "300.00")
    auth_no = frozen["auth_no"]

    paid = client.server_api(
        "alipay.trade.pay",
        biz_content={
            "out_trade_no": _unique("room"),
            "product_code": "PRE_AUTH",
            "auth_no": auth_no,
            "auth_confirm_mode": "NOT_COMPLETE",
            "total_amount": "120.00",
            "subject": "房费",
        },
    )
    assert (paid["code"], paid["total_amount"]) == ("10000", "120.00")
    assert paid["buyer_user_id"] == f"2088{buyer:012d}"

    back = client.server_api(
        "alipay.fund.auth.order.unfreeze",
        biz_content={"auth_no": auth_no, "out_request_no": "back1", "amount": "180.00"},
        notify_url=server.receiver.url,
    )
    assert (back["code"], back["status"], back["amount"]) == ("10000", "SUCCESS", "180.00")
    over = client.server_api(
        "alipay.fund.auth.order.unfreeze",
        biz_content={"auth_no": auth_no, "out_request_no": "back2", "amount": "0.01"},
    )
    assert (over["code"], over["sub_code"]) == ("40004", "ORDER_ALREADY_FINISH")

    query = client.server_api(
        "alipay.fund.auth.operation.detail.query",
        biz_content={"out_order_no": out_order_no, "out_request_no": "back1"},
    )
    assert (query["order_status"], query["operation_type"]) == ("FINISH", "UNFREEZE")
    assert (query["total_freeze_amount"], query["total_pay_amount"], query["rest_amount"]) == (
        "300.00",
        "120.00",
        "0.00",
    )
    assert query["order_title"] == "酒店押金 {801}"

    for notify_type in ("fund_auth_freeze", "fund_auth_unfreeze"):
        form = _wait_for(server, notify_type, "auth_no", auth_no)
        assert _python_verifies(client, form), notify_type
        assert _official_verifies(server, form), notify_type
    trade = _wait_for(server, "trade_status_sync", "trade_no", paid["trade_no"])
    assert _python_verifies(client, trade)


def test_official_sdk_request_classes(server: Server, official: Any) -> None:
    client = official()
    buyer = make_buyer(server.platform, "13700000302", balance_fen=500_00)
    model = AlipayFundAuthOrderFreezeModel()
    model.auth_code = server.code_for(buyer)
    model.auth_code_type = "bar_code"
    model.out_order_no = _unique("car")
    model.out_request_no = model.out_order_no + "f"
    model.order_title = "租车押金"
    model.amount = "200.00"
    model.product_code = "PRE_AUTH"
    request = AlipayFundAuthOrderFreezeRequest(biz_model=model)
    request.notify_url = server.receiver.url
    frozen = AlipayFundAuthOrderFreezeResponse()
    frozen.parse_response_content(client.execute(request))
    assert frozen.is_success(), frozen.sub_code
    assert (frozen.status, frozen.amount, frozen.payer_user_id) == (
        "SUCCESS",
        "200.00",
        f"2088{buyer:012d}",
    )

    pay_model = AlipayTradePayModel()
    pay_model.out_trade_no = _unique("fuel")
    pay_model.product_code = "PRE_AUTH"
    pay_model.auth_no = frozen.auth_no
    pay_model.auth_confirm_mode = "COMPLETE"
    pay_model.total_amount = "55.50"
    pay_model.subject = "油费"
    paid = AlipayTradePayResponse()
    paid.parse_response_content(client.execute(AlipayTradePayRequest(biz_model=pay_model)))
    assert paid.is_success(), paid.sub_code
    assert paid.total_amount == "55.50"

    query_model = AlipayFundAuthOperationDetailQueryModel()
    query_model.auth_no = frozen.auth_no
    query_model.operation_id = frozen.operation_id
    query = AlipayFundAuthOperationDetailQueryResponse()
    query.parse_response_content(
        client.execute(AlipayFundAuthOperationDetailQueryRequest(biz_model=query_model))
    )
    assert query.is_success(), query.sub_code
    assert (query.order_status, query.total_pay_amount, query.rest_amount) == (
        "FINISH",
        "55.50",
        "0.00",
    )
    assert (query.operation_type, query.status) == ("FREEZE", "SUCCESS")

    unfreeze_model = AlipayFundAuthOrderUnfreezeModel()
    unfreeze_model.auth_no = frozen.auth_no
    unfreeze_model.out_request_no = "late"
    unfreeze_model.amount = "1.00"
    late = AlipayFundAuthOrderUnfreezeResponse()
    late.parse_response_content(
        client.execute(AlipayFundAuthOrderUnfreezeRequest(biz_model=unfreeze_model))
    )
    assert (late.is_success(), late.sub_code) == (False, "ORDER_ALREADY_FINISH")
    unfrozen = _wait_for(server, "fund_auth_unfreeze", "auth_no", frozen.auth_no)
    assert unfrozen["amount"] == "144.50"  # COMPLETE gave the rest back
    assert _official_verifies(server, unfrozen)

    # Cancel a freeze whose answer never came: everything goes back.
    lost = AlipayFundAuthOrderFreezeModel()
    lost.auth_code, lost.auth_code_type = server.code_for(buyer), "bar_code"
    lost.out_order_no = _unique("lost")
    lost.out_request_no, lost.order_title = lost.out_order_no + "f", "押金"
    lost.amount, lost.product_code = "10.00", "PRE_AUTH"
    client.execute(AlipayFundAuthOrderFreezeRequest(biz_model=lost))
    cancel_model = AlipayFundAuthOperationCancelModel()
    cancel_model.out_order_no = lost.out_order_no
    cancel_model.out_request_no = lost.out_request_no
    cancel_model.remark = "超时撤销"
    cancelled = AlipayFundAuthOperationCancelResponse()
    cancelled.parse_response_content(
        client.execute(AlipayFundAuthOperationCancelRequest(biz_model=cancel_model))
    )
    assert cancelled.is_success(), cancelled.sub_code
    assert cancelled.action == "unfreeze"


def _confirm_as_user(url: str, phone: str) -> str:
    """The user's browser: the gateway's redirect, sign-in, the payment password; the page
    it ends on."""
    with httpx.Client(timeout=15, follow_redirects=False) as browser:
        redirect = browser.get(url)
        assert redirect.status_code == 302, redirect.text
        page_url = redirect.headers["location"]
        assert "/preauth/confirm/" in page_url, page_url
        csrf = _csrf(browser.get(page_url).text)
        login = {"csrf_token": csrf, "phone": phone, "password": LOGIN_PASSWORD}
        assert browser.post(page_url + "/login", data=login).status_code == 303
        confirmed = browser.post(
            page_url, data={"csrf_token": csrf, "payment_password": PAYMENT_PASSWORD}
        )
        assert confirmed.status_code == 303, confirmed.text
        return browser.get(page_url).text


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def test_app_freeze_order_strings_are_confirmed_by_the_user(server: Server, official: Any) -> None:
    make_buyer(server.platform, "13700000303", balance_fen=1_000_00)
    model = AlipayFundAuthOrderAppFreezeModel()
    model.out_order_no = _unique("bank")
    model.out_request_no = model.out_order_no + "f"
    model.order_title = "充电宝押金"
    model.amount = "99.00"
    model.product_code = "PRE_AUTH_ONLINE"
    model.pay_timeout = "15m"
    request = AlipayFundAuthOrderAppFreezeRequest(biz_model=model)
    request.notify_url = server.receiver.url
    order_string = official().sdk_execute(request)
    page = _confirm_as_user(server.gateway_url + "?" + order_string, "13700000303")
    assert 'data-status="AUTHORIZED"' in page
    form = _wait_for(server, "fund_auth_freeze", "out_order_no", model.out_order_no)
    assert (form["amount"], form["status"]) == ("99.00", "SUCCESS")
    assert _official_verifies(server, form)

    client = python_sdk(server)
    out_order_no = _unique("bike")
    order_string = client.client_api(
        "alipay.fund.auth.order.app.freeze",
        biz_content={
            "out_order_no": out_order_no,
            "out_request_no": out_order_no + "f",
            "order_title": "单车押金",
            "amount": "49.00",
            "product_code": "PRE_AUTH_ONLINE",
        },
        notify_url=server.receiver.url,
    )
    page = _confirm_as_user(server.gateway_url + "?" + order_string, "13700000303")
    assert 'data-status="AUTHORIZED"' in page
    form = _wait_for(server, "fund_auth_freeze", "out_order_no", out_order_no)
    assert _python_verifies(client, form)
