"""Both real SDKs against a real `paybao serve` for "log in with paybao": the official SDK's
AlipaySystemOauthTokenRequest (code / grant_type / refresh_token as top-level parameters) and
AlipayUserInfoShareRequest (auth_token added as an extra text parameter, which the SDK sends
among the common parameters), and python-alipay-sdk's `server_api(method, grant_type=..., ...)`;
each answer verified by the SDK's own signature check. Refusals of oauth.token come under a
signed `error_response`: the official SDK verifies and parses it, python-alipay-sdk raises
AliPayException on it, as both do against Alipay.

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module); this process shares its SQLite file to issue the user's auth codes (the authorize page
itself is tested in tests/integration/test_user_oauth.py and tests/e2e).

Then the JSAPI flow with both SDKs: the token's user_id goes into alipay.trade.create as
buyer_id, another user signed in at the server's cashier is shown a refusal, the user pays there
(over HTTP, as a browser would), and trade.query answers TRADE_SUCCESS with that buyer_user_id
(the notification names the same buyer_id).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from alipay.aop.api.domain.AlipayTradeCreateModel import AlipayTradeCreateModel
from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
from alipay.aop.api.request.AlipaySystemOauthTokenRequest import AlipaySystemOauthTokenRequest
from alipay.aop.api.request.AlipayTradeCreateRequest import AlipayTradeCreateRequest
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.aop.api.request.AlipayUserInfoShareRequest import AlipayUserInfoShareRequest
from alipay.aop.api.response.AlipaySystemOauthTokenResponse import (
    AlipaySystemOauthTokenResponse,
)
from alipay.aop.api.response.AlipayTradeCreateResponse import AlipayTradeCreateResponse
from alipay.aop.api.response.AlipayTradeQueryResponse import AlipayTradeQueryResponse
from alipay.aop.api.response.AlipayUserInfoShareResponse import AlipayUserInfoShareResponse
from alipay.exceptions import AliPayException
from test_gateway_sdks import APP_ID, Server, _wait_for_form, official, python_sdk, server

from paybao.adapters.alipay.methods import user_wire_id
from paybao.adapters.db.user_store import SqlUserStore
from paybao.domain.user_oauth import Scope
from paybao.services.user_oauth import AuthorizeRequest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from admin_support import csrf_of
from gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, make_buyer, wallet_balance

__all__ = ["official", "server"]  # fixtures used by the tests below

TOKEN = "alipay.system.oauth.token"
INFO = "alipay.user.info.share"


def _user(server: Server, phone: str) -> int:
    user_id = make_buyer(server.platform, phone=phone, balance_fen=0)
    server.platform.db.run(lambda tx: SqlUserStore().update(tx, user_id, real_name="张三"))
    return user_id


def _code(server: Server, user_id: int, scope: Scope = Scope.AUTH_USER) -> str:
    """What the authorize page issues when the user agrees (the page's own checks — the
    redirect_uri rule among them — are the integration tests')."""
    merchant_id = server.platform.services["merchants"].app(APP_ID).merchant_id
    asked = AuthorizeRequest(
        app_id=APP_ID,
        merchant_id=merchant_id,
        merchant_name="SDK 商户",
        scopes=frozenset({scope}),
        redirect_uri="http://127.0.0.1/cb",
        state="",
    )
    return str(server.platform.services["user_oauth"].authorize(user_id, asked, consented=True))


def _official_token(client: Any, grant_type: str, **fields: str) -> AlipaySystemOauthTokenResponse:
    request = AlipaySystemOauthTokenRequest()
    request.grant_type = grant_type
    request.code = fields.get("code")
    request.refresh_token = fields.get("refresh_token")
    response = AlipaySystemOauthTokenResponse()
    response.parse_response_content(client.execute(request))
    return response


def _official_info(client: Any, auth_token: str) -> AlipayUserInfoShareResponse:
    request = AlipayUserInfoShareRequest()
    request.add_other_text_param("auth_token", auth_token)
    response = AlipayUserInfoShareResponse()
    response.parse_response_content(client.execute(request))
    return response


def test_official_sdk_trades_a_code_refreshes_and_reads_the_profile(
    server: Server, official: Any
) -> None:
    client = official()
    user_id = _user(server, "13900000801")
    code = _code(server, user_id)

    token = _official_token(client, "authorization_code", code=code)
    assert token.is_success(), token.sub_code
    assert token.user_id == user_wire_id(user_id)
    assert (token.expires_in, token.re_expires_in) == (1_296_000, 2_592_000)
    assert token.access_token.startswith("authusrB") and token.auth_start

    profile = _official_info(client, token.access_token)
    assert profile.is_success(), profile.sub_code
    assert (profile.user_id, profile.nick_name, profile.is_certified) == (
        user_wire_id(user_id),
        "*三",
        "T",
    )

    again = _official_token(client, "authorization_code", code=code)  # a signed error_response
    assert (again.is_success(), again.code, again.sub_code) == (
        False,
        "40002",
        "isv.code-invalid",
    )
    rotated = _official_token(client, "refresh_token", refresh_token=token.refresh_token)
    assert rotated.is_success() and rotated.access_token != token.access_token
    stale = _official_info(client, token.access_token)
    assert (stale.code, stale.sub_code) == ("20001", "aop.invalid-auth-token")
    assert _official_info(client, rotated.access_token).user_id == user_wire_id(user_id)
    # The SDK sends auth_token in the query string: the server's request log masks it.
    log = server.log_path.read_text(errors="replace")
    assert "auth_token=***" in log
    assert token.access_token not in log and rotated.access_token not in log


def test_official_sdk_sees_auth_base_refused_the_profile(server: Server, official: Any) -> None:
    client = official()
    user_id = _user(server, "13900000802")
    token = _official_token(
        client, "authorization_code", code=_code(server, user_id, Scope.AUTH_BASE)
    )
    assert token.user_id == user_wire_id(user_id)
    refused = _official_info(client, token.access_token)
    assert (refused.code, refused.sub_code) == ("40006", "isv.insufficient-user-permissions")


def test_python_sdk_trades_a_code_and_reads_the_profile(server: Server) -> None:
    client = python_sdk(server)
    user_id = _user(server, "13900000803")
    code = _code(server, user_id)

    token = client.server_api(TOKEN, grant_type="authorization_code", code=code)
    assert token["user_id"] == user_wire_id(user_id)
    assert token["expires_in"] == 1_296_000 and token["re_expires_in"] == 2_592_000
    profile = client.server_api(INFO, auth_token=token["access_token"])
    assert (profile["code"], profile["user_id"], profile["nick_name"]) == (
        "10000",
        user_wire_id(user_id),
        "*三",
    )
    refreshed = client.server_api(
        TOKEN, grant_type="refresh_token", refresh_token=token["refresh_token"]
    )
    assert refreshed["user_id"] == user_wire_id(user_id)
    assert refreshed["refresh_token"] != token["refresh_token"]

    # A spent code: Alipay's error_response, which this SDK raises on.
    with pytest.raises(AliPayException) as raised:
        client.server_api(TOKEN, grant_type="authorization_code", code=code)
    text = str(raised.value)  # "AliPayException: code:40002, message:<the raw body>"
    assert text.startswith("AliPayException: code:40002, message:")
    answer = json.loads(text.split("message:", 1)[1])
    assert answer["error_response"]["sub_code"] == "isv.code-invalid"
    assert "sign" in answer  # signed, though this SDK does not check it
    stale = client.server_api(INFO, auth_token=token["access_token"])
    assert (stale["code"], stale["sub_code"]) == ("20001", "aop.invalid-auth-token")


# An order for the user who logged in (alipay.trade.create with buyer_id: JSAPI) ------------


@contextmanager
def _cashier_client(server: Server, trade_no: str, phone: str) -> Iterator[httpx.Client]:
    """A browser at the server's cashier for this order, signed in as `phone`'s user."""
    with httpx.Client(base_url=f"http://{server.host}:{server.port}", timeout=15) as browser:
        page = browser.get(f"/cashier/{trade_no}")
        form = {"csrf_token": csrf_of(page.text), "phone": phone, "password": LOGIN_PASSWORD}
        signed_in = browser.post(f"/cashier/{trade_no}/login", data=form)
        assert signed_in.status_code == 303, signed_in.text
        yield browser


def _pay_at_cashier(browser: httpx.Client, trade_no: str) -> httpx.Response:
    page = browser.get(f"/cashier/{trade_no}")
    form = {
        "csrf_token": csrf_of(page.text),
        "funding": "balance",
        "payment_password": PAYMENT_PASSWORD,
    }
    return browser.post(f"/cashier/{trade_no}/pay", data=form)


def _jsapi_buyers(server: Server, phone: str, other_phone: str) -> tuple[int, int]:
    """The user who logs in (with money to pay) and another user with money too."""
    user_id = make_buyer(server.platform, phone=phone, balance_fen=50_00)
    return user_id, make_buyer(server.platform, phone=other_phone, balance_fen=50_00)


def test_official_sdk_creates_an_order_for_the_user_who_logged_in(
    server: Server, official: Any
) -> None:
    client = official()
    user_id, other_id = _jsapi_buyers(server, "13900000811", "13900000812")
    token = _official_token(client, "authorization_code", code=_code(server, user_id))
    assert token.is_success() and token.user_id == user_wire_id(user_id)

    out = f"jsapi-of-{time.time_ns()}"
    model = AlipayTradeCreateModel()
    model.out_trade_no, model.subject, model.total_amount = out, "JSAPI 订单", "6.60"
    model.buyer_id, model.product_code = token.user_id, "JSAPI_PAY"
    request = AlipayTradeCreateRequest(biz_model=model)
    request.notify_url = server.receiver.url
    created = AlipayTradeCreateResponse()
    created.parse_response_content(client.execute(request))
    assert created.is_success(), created.sub_code
    trade_no = created.trade_no

    # Another user signed in at the cashier is refused; nothing is paid.
    with _cashier_client(server, trade_no, "13900000812") as stranger:
        shown = stranger.get(f"/cashier/{trade_no}")
        assert 'id="other-buyer"' in shown.text and 'id="pay"' not in shown.text
    assert wallet_balance(server.platform, other_id) == 50_00

    with _cashier_client(server, trade_no, "13900000811") as browser:
        paid = _pay_at_cashier(browser, trade_no)
        assert paid.status_code == 200, paid.text  # no return_url: the done page

    query_model = AlipayTradeQueryModel()
    query_model.out_trade_no = out
    query = AlipayTradeQueryResponse()
    query.parse_response_content(client.execute(AlipayTradeQueryRequest(biz_model=query_model)))
    assert (query.trade_status, query.buyer_user_id, query.total_amount) == (
        "TRADE_SUCCESS",
        token.user_id,
        "6.60",
    )
    form = _wait_for_form(server.receiver, out, "TRADE_SUCCESS")
    assert form["buyer_id"] == token.user_id

    # The same order number for another buyer: Alipay's CONTEXT_INCONSISTENT, signed.
    model.buyer_id = user_wire_id(other_id)
    again = AlipayTradeCreateResponse()
    again.parse_response_content(client.execute(AlipayTradeCreateRequest(biz_model=model)))
    assert (again.code, again.sub_code) == ("40004", "ACQ.CONTEXT_INCONSISTENT")


def test_python_sdk_creates_an_order_for_the_user_who_logged_in(server: Server) -> None:
    client = python_sdk(server)
    user_id, other_id = _jsapi_buyers(server, "13900000813", "13900000814")
    token = client.server_api(TOKEN, grant_type="authorization_code", code=_code(server, user_id))
    buyer_id = token["user_id"]
    assert buyer_id == user_wire_id(user_id)

    out = f"jsapi-py-{time.time_ns()}"
    created = client.api_alipay_trade_create(
        subject="JSAPI 订单", out_trade_no=out, total_amount="7.70", buyer_id=buyer_id
    )
    assert created["code"] == "10000"
    trade_no = created["trade_no"]
    before = client.api_alipay_trade_query(out_trade_no=out)
    assert (before["trade_status"], before["buyer_user_id"]) == ("WAIT_BUYER_PAY", buyer_id)

    with _cashier_client(server, trade_no, "13900000814") as stranger:
        shown = stranger.get(f"/cashier/{trade_no}")
        assert 'id="other-buyer"' in shown.text and 'id="pay"' not in shown.text
    with _cashier_client(server, trade_no, "13900000813") as browser:
        assert _pay_at_cashier(browser, trade_no).status_code == 200

    query = client.api_alipay_trade_query(out_trade_no=out)
    assert (query["trade_status"], query["buyer_user_id"], query["buyer_pay_amount"]) == (
        "TRADE_SUCCESS",
        buyer_id,
        "7.70",
    )
    assert wallet_balance(server.platform, user_id) == 50_00 - 7_70
    assert wallet_balance(server.platform, other_id) == 50_00
    assert _wait_for_form(server.receiver, out, "TRADE_SUCCESS")["buyer_id"] == buyer_id

    unknown = client.api_alipay_trade_create(
        subject="JSAPI 订单",
        out_trade_no=out + "-x",
        total_amount="1.00",
        buyer_id="2088099999999999",
    )
    assert (unknown["code"], unknown["sub_code"]) == ("40004", "ACQ.BUYER_NOT_EXIST")
