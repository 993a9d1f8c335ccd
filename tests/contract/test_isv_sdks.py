"""Third-party app authorisation with the real SDKs against a real `paybao serve` over HTTP:
the merchant authorises the ISV's app on the served page (signing in to the portal, consenting,
the app_auth_code read from the redirect), python-alipay-sdk's ISVAliPay trades the code
(api_alipay_open_auth_token_app) and then precreates, pays, queries and refunds with the token
(ISVAliPay adds app_auth_token to every call), refreshes and queries the token; the official SDK
passes the token with add_other_text_param (its udf_params, sent among the common parameters)
for a trade query, queries the token, and trades a code, reading the flat answer and its
`tokens` list. Every answer is verified by the SDK with the ISV's own platform key; the
trade and the money are the merchant's, and the notification names the ISV's app as app_id and
the merchant's as auth_app_id, verified by the ISV's SDK.

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module); this process shares its SQLite file to create the apps and read balances.
"""

from __future__ import annotations

import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
from alipay import ISVAliPay
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.domain.AlipayOpenAuthTokenAppModel import AlipayOpenAuthTokenAppModel
from alipay.aop.api.domain.AlipayOpenAuthTokenAppQueryModel import AlipayOpenAuthTokenAppQueryModel
from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
from alipay.aop.api.request.AlipayOpenAuthTokenAppQueryRequest import (
    AlipayOpenAuthTokenAppQueryRequest,
)
from alipay.aop.api.request.AlipayOpenAuthTokenAppRequest import AlipayOpenAuthTokenAppRequest
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.aop.api.response.AlipayOpenAuthTokenAppQueryResponse import (
    AlipayOpenAuthTokenAppQueryResponse,
)
from alipay.aop.api.response.AlipayOpenAuthTokenAppResponse import AlipayOpenAuthTokenAppResponse
from alipay.aop.api.response.AlipayTradeQueryResponse import AlipayTradeQueryResponse
from alipay.aop.api.util import WebUtils
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from alipay_harness import port_honouring_connection
from test_gateway_sdks import Server, _wait_for_form, server

from paybao.adapters.alipay.keys import KeyPair, generate_key_pair
from paybao.adapters.alipay.methods import seller_wire_id, user_wire_id
from paybao.services.merchants import App, Merchant, NewMerchant
from paybao.services.trades import TradeRef

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from admin_support import csrf_of
from gateway_support import make_buyer, wallet_balance
from royalty_support import receiver as royalty_receiver

__all__ = ["server"]  # the fixture used below

ISV_APP = "2021000000006001"
OTHER_ISV_APP = "2021000000006002"
SHOP_APP = "2021000000006101"
OTHER_SHOP_APP = "2021000000006102"
SHOP_PASSWORD = "shop-pass-2024"


def _isv(server: Server) -> KeyPair:
    """The ISV: its own merchant, app and key; its notify_url is the test's receiver, whose
    origin the authorisation redirect must share."""
    keys = generate_key_pair()
    new = NewMerchant(name="收银云服务商", notify_url=server.receiver.url, app_id=ISV_APP)
    server.platform.services["merchants"].create(new, keys.public_pem_spki)
    return keys


def _shop(server: Server) -> tuple[Merchant, App]:
    new = NewMerchant(name="街角咖啡", app_id=SHOP_APP)
    merchant, app = server.platform.services["merchants"].create(
        new, generate_key_pair().public_pem_spki
    )
    server.platform.services["merchant_accounts"].set_password(merchant.id, SHOP_PASSWORD)
    return merchant, app


def _settled(server: Server, merchant_id: int) -> int:
    account = server.platform.services["merchants"].merchant(merchant_id).settlement_account_id
    return int(server.platform.ledger.balance(account).balance_fen)


def _authorise_in_a_browser(server: Server, merchant_id: int) -> str:
    """The merchant on the served page: sign in, pick the app, agree; the code from the
    redirect (not followed: it goes to the ISV's site)."""
    back_to = server.receiver.url.rsplit("/", 1)[0] + "/alipay/auth-back"
    query = urllib.parse.urlencode({"app_id": ISV_APP, "redirect_uri": back_to})
    base = f"http://{server.host}:{server.port}"
    with httpx.Client(base_url=base, timeout=15) as browser:
        page = browser.get(f"/oauth2/appToAppAuth.htm?{query}")
        assert page.status_code == 200 and "收银云服务商" in page.text
        form = {
            "csrf_token": csrf_of(page.text),
            "merchant_id": str(merchant_id),
            "password": SHOP_PASSWORD,
        }
        signed_in = browser.post(f"/oauth2/appToAppAuth.htm/login?{query}", data=form)
        assert signed_in.status_code == 303, signed_in.text
        page = browser.get(f"/oauth2/appToAppAuth.htm?{query}")
        assert f'value="{SHOP_APP}"' in page.text
        agreed = browser.post(
            "/oauth2/appToAppAuth.htm",
            data={
                "csrf_token": csrf_of(page.text),
                "app_id": ISV_APP,
                "redirect_uri": back_to,
                "auth_app_id": SHOP_APP,
                "decision": "agree",
            },
        )
    assert agreed.status_code == 303, agreed.text
    location = agreed.headers["location"]
    assert location.startswith(back_to + "?")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert (params["app_id"], params["source"]) == (ISV_APP, "alipay_app_auth")
    return params["app_auth_code"]


def _isv_sdk(server: Server, keys: KeyPair, **auth: str) -> ISVAliPay:
    client = ISVAliPay(
        appid=ISV_APP,
        app_notify_url=server.receiver.url,
        app_private_key_string=keys.private_pem_pkcs1,
        alipay_public_key_string=server.platform_public_pem,
        sign_type="RSA2",
        **auth,
    )
    client._gateway = server.gateway_url
    return client


def _official(
    server: Server, keys: KeyPair, monkeypatch: pytest.MonkeyPatch, app_id: str = ISV_APP
) -> Any:
    if server.official_shortcut:
        monkeypatch.setattr(WebUtils, "get_http_connection", port_honouring_connection)
    config = AlipayClientConfig()
    config.server_url = server.gateway_url
    config.app_id = app_id
    config.app_private_key = keys.private_base64
    config.alipay_public_key = "".join(server.platform_public_pem.splitlines()[1:-1])
    config.sign_type = "RSA2"
    config.timeout = 15
    return DefaultAlipayClient(alipay_client_config=config)


def test_an_isv_authorised_on_the_page_trades_for_the_merchant_with_both_sdks(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = _isv(server)
    merchant, _app = _shop(server)
    isv_merchant_id = server.platform.services["merchants"].app(ISV_APP).merchant_id
    code = _authorise_in_a_browser(server, merchant.id)

    granted = _isv_sdk(server, keys, app_auth_code=code).api_alipay_open_auth_token_app()
    assert granted["code"] == "10000", granted
    assert (granted["auth_app_id"], granted["user_id"]) == (SHOP_APP, seller_wire_id(merchant.id))
    assert granted["tokens"][0]["app_auth_token"] == granted["app_auth_token"]
    token = granted["app_auth_token"]
    isv = _isv_sdk(server, keys, app_auth_token=token)

    out = f"isv-{time.time_ns()}"
    pre = isv.api_alipay_trade_precreate(
        subject="扫码点单", out_trade_no=out + "-qr", total_amount=3
    )
    assert pre["code"] == "10000" and pre["qr_code"].startswith("http")
    buyer = make_buyer(server.platform, phone="13500000901", balance_fen=100_00)
    paid = isv.api_alipay_trade_pay(
        out, "bar_code", server.code_for(buyer), "拿铁", total_amount="20.00"
    )
    assert (paid["code"], paid["total_amount"]) == ("10000", "20.00"), paid
    query = isv.api_alipay_trade_query(out_trade_no=out)
    assert (query["trade_status"], query["trade_no"]) == ("TRADE_SUCCESS", paid["trade_no"])
    refund = isv.api_alipay_trade_refund("5.00", out_trade_no=out, out_request_no="r1")
    assert (refund["code"], refund["refund_fee"]) == ("10000", "5.00"), refund

    # The trade and the money are the merchant's; the ISV's own account never moved.
    trade = server.platform.services["trades"].find(SHOP_APP, TradeRef(out_trade_no=out))
    assert trade.merchant_id == merchant.id
    assert wallet_balance(server.platform, buyer) == 85_00
    assert _settled(server, merchant.id) == 20_00 - 12 - 5_00 + 3  # 0.6 % fee, 3 fen back
    assert _settled(server, isv_merchant_id) == 0

    # The notification goes to the ISV's notify_url, names both apps, and the ISV verifies it.
    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    assert (form["app_id"], form["auth_app_id"]) == (ISV_APP, SHOP_APP)
    signature = form.pop("sign")
    assert isv.verify(form, signature)

    # The official SDK passes the token as an extra text parameter for one query.
    official = _official(server, keys, monkeypatch)
    model = AlipayTradeQueryModel()
    model.out_trade_no = out
    request = AlipayTradeQueryRequest(biz_model=model)
    request.add_other_text_param("app_auth_token", token)
    answer = AlipayTradeQueryResponse()
    answer.parse_response_content(official.execute(request))
    assert answer.is_success(), answer.sub_code
    assert (answer.trade_status, answer.trade_no) == ("TRADE_SUCCESS", paid["trade_no"])
    bare = AlipayTradeQueryResponse()
    bare.parse_response_content(official.execute(AlipayTradeQueryRequest(biz_model=model)))
    assert (bare.code, bare.sub_code) == ("40004", "ACQ.TRADE_NOT_EXIST")

    # Query the token (both SDKs), refresh it: the old one stops working at once.
    status = isv.api_alipay_open_auth_token_app_query()
    assert (status["status"], status["auth_app_id"]) == ("valid", SHOP_APP)
    token_model = AlipayOpenAuthTokenAppQueryModel()
    token_model.app_auth_token = token
    asked = AlipayOpenAuthTokenAppQueryResponse()
    asked.parse_response_content(
        official.execute(AlipayOpenAuthTokenAppQueryRequest(biz_model=token_model))
    )
    assert asked.is_success(), asked.sub_code
    assert (asked.status, asked.auth_app_id) == ("valid", SHOP_APP)
    assert "alipay.trade.refund" in asked.auth_methods
    renewed = isv.api_alipay_open_auth_token_app(granted["app_refresh_token"])
    assert renewed["code"] == "10000" and renewed["app_auth_token"] != token
    stale = isv.api_alipay_trade_query(out_trade_no=out)
    assert (stale["code"], stale["sub_code"]) == ("20001", "aop.invalid-app-auth-token")
    fresh = _isv_sdk(server, keys, app_auth_token=renewed["app_auth_token"])
    assert fresh.api_alipay_trade_query(out_trade_no=out)["trade_status"] == "TRADE_SUCCESS"


def test_the_official_sdk_trades_a_code_and_reads_both_answer_shapes(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = generate_key_pair()
    new = NewMerchant(name="另一家服务商", notify_url=server.receiver.url, app_id=OTHER_ISV_APP)
    server.platform.services["merchants"].create(new, keys.public_pem_spki)
    merchant, _app = server.platform.services["merchants"].create(
        NewMerchant(name="街角面包", app_id=OTHER_SHOP_APP), generate_key_pair().public_pem_spki
    )
    service = server.platform.services["app_auth"]
    asked = service.check_request(OTHER_ISV_APP, server.receiver.url, "")
    code = service.authorize(merchant.id, asked, OTHER_SHOP_APP)  # the page is tested above

    official = _official(server, keys, monkeypatch, OTHER_ISV_APP)
    model = AlipayOpenAuthTokenAppModel()
    model.grant_type, model.code = "authorization_code", code
    granted = AlipayOpenAuthTokenAppResponse()
    granted.parse_response_content(official.execute(AlipayOpenAuthTokenAppRequest(model)))
    assert granted.is_success(), granted.sub_code
    assert (granted.auth_app_id, granted.user_id) == (OTHER_SHOP_APP, seller_wire_id(merchant.id))
    (element,) = granted.tokens
    assert (element.app_auth_token, element.app_refresh_token, element.auth_app_id) == (
        granted.app_auth_token,
        granted.app_refresh_token,
        OTHER_SHOP_APP,
    )
    again = AlipayOpenAuthTokenAppResponse()
    again.parse_response_content(official.execute(AlipayOpenAuthTokenAppRequest(model)))
    assert (again.code, again.sub_code) == ("40002", "isv.code-invalid")


NOTIFY_ISV_APP = "2021000000006003"
NOTIFY_SHOP_APP = "2021000000006103"


def _wait_for(server: Server, key: str, value: str, kind: str) -> dict[str, str]:
    """The form whose `key` is `value` and whose notify_type (or msg_method) is `kind`."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for form in server.receiver.forms:
            if form.get(key) == value and kind in (form.get("notify_type"), form.get("msg_method")):
                return dict(form)
        time.sleep(0.05)
    raise AssertionError(f"no {kind} notification with {key}={value}")


def _official_verifies(server: Server, form: dict[str, str]) -> bool:
    content = {k: v for k, v in form.items() if k not in ("sign", "sign_type")}
    public_base64 = "".join(server.platform_public_pem.splitlines()[1:-1])
    return bool(verify_with_rsa(public_base64, get_sign_content(content).encode(), form["sign"]))


def _isv_verifies(isv: ISVAliPay, form: dict[str, str]) -> bool:
    data = dict(form)
    signature = data.pop("sign")
    return bool(isv.verify(data, signature))


def test_an_isvs_preauth_order_and_async_settle_notify_the_isv_verified_by_both_sdks(
    server: Server,
) -> None:
    """Objects other than trades that an ISV makes with a token: the freeze's
    fund_auth_freeze (to the notify_url the call passed) and the async settle's
    alipay.trade.order.settle.notify message (to the ISV's own notify URL) name the ISV's app
    as app_id and the merchant's as auth_app_id / msg_app_id; both SDKs verify them."""
    keys = generate_key_pair()
    new = NewMerchant(name="押金云服务商", notify_url=server.receiver.url, app_id=NOTIFY_ISV_APP)
    server.platform.services["merchants"].create(new, keys.public_pem_spki)
    merchant, _app = server.platform.services["merchants"].create(
        NewMerchant(name="街角酒店", app_id=NOTIFY_SHOP_APP), generate_key_pair().public_pem_spki
    )
    service = server.platform.services["app_auth"]
    asked = service.check_request(NOTIFY_ISV_APP, server.receiver.url, "")
    code = service.authorize(merchant.id, asked, NOTIFY_SHOP_APP)  # the page is tested above

    def sdk(**auth: str) -> ISVAliPay:
        made = ISVAliPay(
            appid=NOTIFY_ISV_APP,
            app_notify_url=server.receiver.url,
            app_private_key_string=keys.private_pem_pkcs1,
            alipay_public_key_string=server.platform_public_pem,
            sign_type="RSA2",
            **auth,
        )
        made._gateway = server.gateway_url
        return made

    granted = sdk(app_auth_code=code).api_alipay_open_auth_token_app()
    assert granted["code"] == "10000", granted
    client = sdk(app_auth_token=granted["app_auth_token"])
    buyer = make_buyer(server.platform, phone="13500000911", balance_fen=1_000_00)
    out = f"isv-hotel-{time.time_ns()}"
    frozen = client.server_api(
        "alipay.fund.auth.order.freeze",
        biz_content={
            "auth_code": server.code_for(buyer),
            "auth_code_type": "bar_code",
            "out_order_no": out,
            "out_request_no": out + "f",
            "order_title": "酒店押金",
            "amount": "300.00",
            "product_code": "PRE_AUTH",
        },
        notify_url=server.receiver.url,  # the SDK adds it to alipay.trade.* calls only
    )
    assert (frozen["code"], frozen["status"]) == ("10000", "SUCCESS"), frozen
    form = _wait_for(server, "auth_no", frozen["auth_no"], "fund_auth_freeze")
    assert (form["app_id"], form["auth_app_id"]) == (NOTIFY_ISV_APP, NOTIFY_SHOP_APP)
    assert _isv_verifies(client, form) and _official_verifies(server, form)

    alice = royalty_receiver(server.platform, "13500000912").user_id
    receivers = [{"type": "userId", "account": user_wire_id(alice), "memo": "导游"}]
    bind = {"out_request_no": f"bind_{time.time_ns()}", "receiver_list": receivers}
    bound = client.server_api("alipay.trade.royalty.relation.bind", biz_content=bind)
    assert bound["code"] == "10000", bound
    paid = client.api_alipay_trade_pay(
        out, "bar_code", server.code_for(buyer), "房费", total_amount="100.00"
    )
    assert paid["code"] == "10000", paid
    settle = {
        "out_request_no": f"s_{time.time_ns()}",
        "trade_no": paid["trade_no"],
        "royalty_parameters": [
            {"trans_in_type": "userId", "trans_in": user_wire_id(alice), "amount": "10.00"}
        ],
        "royalty_mode": "async",
    }
    accepted = client.server_api("alipay.trade.order.settle", biz_content=settle)
    assert accepted["code"] == "10000", accepted
    message = _wait_for(server, "msg_app_id", NOTIFY_SHOP_APP, "alipay.trade.order.settle.notify")
    assert message["app_id"] == NOTIFY_ISV_APP
    assert '"settle_no":"' + accepted["settle_no"] + '"' in message["biz_content"]
    assert _isv_verifies(client, message) and _official_verifies(server, message)
    assert wallet_balance(server.platform, alice) == 10_00
