"""Both real SDKs against a real `paybao serve` for withholding agreements: page.sign builds the
sign page's address (python-alipay-sdk's client_api, the official SDK's page_execute), a buyer
signs it over HTTP, each SDK verifies the return_url parameters and the dut_user_sign /
dut_user_unsign notifications with its own verifier, queries and ends the agreement, and takes
password-free deductions with alipay.trade.pay (the official SDK's request and model classes).

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module); this process shares its SQLite file to register the buyers.
"""

from __future__ import annotations

import re
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
from alipay.aop.api.domain.AccessParams import AccessParams
from alipay.aop.api.domain.AgreementParams import AgreementParams
from alipay.aop.api.domain.AlipayTradePayModel import AlipayTradePayModel
from alipay.aop.api.domain.AlipayUserAgreementPageSignModel import AlipayUserAgreementPageSignModel
from alipay.aop.api.domain.AlipayUserAgreementQueryModel import AlipayUserAgreementQueryModel
from alipay.aop.api.domain.AlipayUserAgreementUnsignModel import AlipayUserAgreementUnsignModel
from alipay.aop.api.domain.PeriodRuleParams import PeriodRuleParams
from alipay.aop.api.request.AlipayTradePayRequest import AlipayTradePayRequest
from alipay.aop.api.request.AlipayUserAgreementPageSignRequest import (
    AlipayUserAgreementPageSignRequest,
)
from alipay.aop.api.request.AlipayUserAgreementQueryRequest import AlipayUserAgreementQueryRequest
from alipay.aop.api.request.AlipayUserAgreementUnsignRequest import (
    AlipayUserAgreementUnsignRequest,
)
from alipay.aop.api.response.AlipayTradePayResponse import AlipayTradePayResponse
from alipay.aop.api.response.AlipayUserAgreementQueryResponse import (
    AlipayUserAgreementQueryResponse,
)
from alipay.aop.api.response.AlipayUserAgreementUnsignResponse import (
    AlipayUserAgreementUnsignResponse,
)
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from test_gateway_sdks import Server, official, python_sdk, server

from paybao.domain.account_class import china_date

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, make_buyer

__all__ = ["official", "server"]  # fixtures used by the tests below
RETURN_URL = "https://shop.example/agreements/back"


def _sign_as_buyer(sign_url: str, phone: str) -> dict[str, str]:
    """The buyer's browser: the gateway's redirect, the sign page, sign-in, the payment
    password; returns the parameters the merchant's return_url receives."""
    with httpx.Client(timeout=15) as browser:
        redirect = browser.get(sign_url)
        assert redirect.status_code == 302, redirect.text
        page_url = redirect.headers["location"]
        assert "/agreements/sign/" in page_url, page_url
        csrf = _csrf(browser.get(page_url).text)
        login = {"csrf_token": csrf, "phone": phone, "password": LOGIN_PASSWORD}
        assert browser.post(page_url + "/login", data=login).status_code == 303
        signed = browser.post(
            page_url, data={"csrf_token": csrf, "payment_password": PAYMENT_PASSWORD}
        )
        assert signed.status_code == 303, signed.text
        location = signed.headers["location"]
    assert location.startswith(RETURN_URL + "?"), location
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def _wait_for_agreement_form(server: Server, notify_type: str, agreement_no: str) -> dict[str, str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for form in server.receiver.forms:
            if (form.get("notify_type"), form.get("agreement_no")) == (notify_type, agreement_no):
                return form
        time.sleep(0.05)
    raise AssertionError(f"no {notify_type} notification for {agreement_no}")


def _official_verifies(server: Server, params: dict[str, str]) -> bool:
    content = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
    public_base64 = "".join(server.platform_public_pem.splitlines()[1:-1])
    return bool(verify_with_rsa(public_base64, get_sign_content(content).encode(), params["sign"]))


def test_python_sdk_signs_queries_deducts_and_verifies_everything(server: Server) -> None:
    client = python_sdk(server)
    make_buyer(server.platform, "13600000201", balance_fen=200_00)
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
    back = _sign_as_buyer(f"{server.gateway_url}?{order}", "13600000201")
    signature = back.pop("sign")
    assert client.verify(dict(back), signature)
    number = back["agreement_no"]

    form = dict(_wait_for_agreement_form(server, "dut_user_sign", number))
    assert _official_verifies(server, form)
    signature = form.pop("sign")
    assert client.verify(form, signature)
    assert (form["status"], form["external_agreement_no"]) == (
        "NORMAL",
        biz["external_agreement_no"],
    )

    query = client.server_api("alipay.user.agreement.query", biz_content={"agreement_no": number})
    assert (query["code"], query["status"]) == ("10000", "NORMAL")
    paid = client.server_api(
        "alipay.trade.pay",
        biz_content={
            "out_trade_no": f"park{time.time_ns()}",
            "product_code": "GENERAL_WITHHOLDING",
            "total_amount": "15.00",
            "subject": "停车费 {A12345}",
            "agreement_params": {"agreement_no": number},
        },
    )
    assert paid["code"] == "10000", paid
    assert paid["total_amount"] == "15.00"
    over = client.server_api(
        "alipay.trade.pay",
        biz_content={
            "out_trade_no": f"park{time.time_ns()}",
            "product_code": "GENERAL_WITHHOLDING",
            "total_amount": "100.01",
            "subject": "停车费",
            "agreement_params": {"agreement_no": number},
        },
    )
    assert (over["code"], over["sub_code"]) == ("40004", "ACQ.PRODUCT_AMOUNT_LIMIT_ERROR")

    ended = client.server_api("alipay.user.agreement.unsign", biz_content={"agreement_no": number})
    assert ended["code"] == "10000"
    unsigned = dict(_wait_for_agreement_form(server, "dut_user_unsign", number))
    assert _official_verifies(server, unsigned)
    signature = unsigned.pop("sign")
    assert client.verify(unsigned, signature)
    assert unsigned["status"] == "UNSIGN"


def test_official_sdk_request_classes(server: Server, official: Any) -> None:
    client = official()
    user_id = make_buyer(server.platform, "13600000202", balance_fen=100_00)
    model = AlipayUserAgreementPageSignModel()
    model.personal_product_code = "CYCLE_PAY_AUTH_P"
    model.product_code = "CYCLE_PAY_AUTH"
    model.sign_scene = "INDUSTRY|GYM"
    model.external_agreement_no = f"gym{time.time_ns()}"
    access = AccessParams()
    access.channel = "ALIPAYAPP"
    model.access_params = access
    rule = PeriodRuleParams()
    rule.period_type = "DAY"
    rule.period = 7
    rule.execute_time = china_date(server.platform.clock.now()).isoformat()
    rule.single_amount = "25.00"
    rule.total_payments = 4
    model.period_rule_params = rule
    request = AlipayUserAgreementPageSignRequest(biz_model=model)
    request.return_url = RETURN_URL
    request.notify_url = server.receiver.url
    sign_url = client.page_execute(request, http_method="GET")
    back = _sign_as_buyer(sign_url, "13600000202")
    assert _official_verifies(server, back)
    number = back["agreement_no"]
    assert _official_verifies(server, _wait_for_agreement_form(server, "dut_user_sign", number))

    query_model = AlipayUserAgreementQueryModel()
    query_model.personal_product_code = "CYCLE_PAY_AUTH_P"
    query_model.sign_scene = "INDUSTRY|GYM"
    query_model.external_agreement_no = model.external_agreement_no
    query = AlipayUserAgreementQueryResponse()
    query.parse_response_content(
        client.execute(AlipayUserAgreementQueryRequest(biz_model=query_model))
    )
    assert query.is_success(), query.sub_code
    assert (query.agreement_no, query.status) == (number, "NORMAL")
    assert query.principal_id == f"2088{user_id:012d}"
    assert query.single_quota == "25.00"

    def pay(out_trade_no: str, amount: str) -> AlipayTradePayResponse:
        pay_model = AlipayTradePayModel()
        pay_model.out_trade_no = out_trade_no
        pay_model.product_code = "CYCLE_PAY_AUTH"
        pay_model.total_amount = amount
        pay_model.subject = "健身月卡"
        agreement = AgreementParams()
        agreement.agreement_no = number
        pay_model.agreement_params = agreement
        response = AlipayTradePayResponse()
        response.parse_response_content(client.execute(AlipayTradePayRequest(biz_model=pay_model)))
        return response

    paid = pay(f"gym{time.time_ns()}", "25.00")
    assert paid.is_success(), paid.sub_code
    assert (paid.total_amount, paid.buyer_user_id) == ("25.00", f"2088{user_id:012d}")
    again = pay(f"gym{time.time_ns()}", "25.00")  # the same week
    assert (again.code, again.sub_code) == ("40004", "ACQ.CYCLE_PAY_DATE_NOT_MATCH")

    unsign_model = AlipayUserAgreementUnsignModel()
    unsign_model.agreement_no = number
    unsigned = AlipayUserAgreementUnsignResponse()
    unsigned.parse_response_content(
        client.execute(AlipayUserAgreementUnsignRequest(biz_model=unsign_model))
    )
    assert unsigned.is_success(), unsigned.sub_code
    assert _official_verifies(server, _wait_for_agreement_form(server, "dut_user_unsign", number))
    gone = AlipayUserAgreementQueryResponse()
    query_model = AlipayUserAgreementQueryModel()
    query_model.agreement_no = number
    gone.parse_response_content(
        client.execute(AlipayUserAgreementQueryRequest(biz_model=query_model))
    )
    assert (gone.is_success(), gone.sub_code) == (False, "USER_AGREEMENT_NOT_EXIST")
