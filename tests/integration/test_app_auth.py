"""Third-party app authorisation end to end on a migrated database (SQLite and PostgreSQL):
the authorisation page (merchant sign-in, pick an app, consent, redirect with app_auth_code),
alipay.open.auth.token.app and its query, and the gateway's app_auth_token: an ISV's call with
a merchant's live token runs as the merchant's app (the trade and the money are the merchant's),
any other token is refused with 20001 before anything is written, and the notification names
the ISV's app as app_id and the merchant's as auth_app_id, signed for the ISV."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from typing import Any

import pytest
from app_auth_support import (
    AUTHORIZE,
    CALLBACK,
    ISV_APP,
    OTHER_ISV_APP,
    QUERY,
    SECOND_SHOP_APP,
    SHOP_APP,
    Isv,
    authorize_url,
    code_for,
    consent,
    exchange,
    isv_call,
    jump_clock,
    make_isv,
    make_merchant,
    public_pem_of,
    redirected,
    refresh,
    sign_in_on_page,
)
from fastapi.testclient import TestClient
from gateway_support import call, count_rows, make_buyer, signed_params, wallet_balance
from platform_key_support import new_generation
from sqlalchemy import select, text
from tests.integration.admin_support import csrf_of

from paybao.adapters.alipay.methods import seller_wire_id
from paybao.adapters.alipay.notify_form import NotificationForms
from paybao.adapters.alipay.on_behalf import REFUSE_APP_AUTH
from paybao.adapters.alipay.wire import verify_notification
from paybao.adapters.db.tables.app_auth import app_auth_tokens
from paybao.bootstrap import Platform
from paybao.domain.app_auth import REFRESH_TOKEN_TTL_S, TOKEN_TTL_S
from paybao.services.trades import TradeRef

# What a refused call must leave untouched.
WRITTEN = ("trades", "trade_refunds", "trade_notifications", "ledger_transfers", "jobs")


def _rows(platform: Platform) -> dict[str, int]:
    return {table: count_rows(platform, table) for table in WRITTEN}


def _settled(platform: Platform, merchant_id: int) -> int:
    account = platform.services["merchants"].merchant(merchant_id).settlement_account_id
    return int(platform.ledger.balance(account).balance_fen)


def _token(client: TestClient, platform: Platform, isv: Isv, merchant_id: int) -> dict[str, Any]:
    answer = exchange(client, isv, code_for(platform, merchant_id, SHOP_APP, isv.app_id))
    assert answer["code"] == "10000", answer
    return answer


def _pay(
    client: TestClient,
    platform: Platform,
    isv: Isv,
    buyer: int,
    out: str,
    code: str | None = None,
    **params: str,
) -> dict[str, Any]:
    code = code or platform.services["trades"].issue_auth_code(buyer)
    biz = {"out_trade_no": out, "auth_code": code, "subject": "拿铁", "total_amount": "20.00"}
    return isv_call(client, isv, "alipay.trade.pay", biz, **params)


def test_the_page_signs_the_merchant_in_asks_and_redirects_with_a_code(
    platform: Platform, client: TestClient
) -> None:
    isv = make_isv(platform)
    shop = make_merchant(platform)
    url = authorize_url(state="pos-7")

    page = client.get(url)
    assert page.status_code == 200
    assert "收银云服务商" in page.text and ISV_APP in page.text and 'id="login"' in page.text
    wrong = sign_in_on_page(client, url, shop.merchant.id, password="not-it-2024")
    assert wrong.status_code == 401 and 'id="login"' in wrong.text
    back = sign_in_on_page(client, url, shop.merchant.id)
    assert back.status_code == 303 and back.headers["location"] == url

    shown = client.get(url)
    assert f'value="{SHOP_APP}"' in shown.text and "checked" in shown.text
    params = redirected(consent(client, url, SHOP_APP))
    assert params["from"] == "paybao"  # the ISV's own query is kept
    assert (params["app_id"], params["source"], params["state"]) == (
        ISV_APP,
        "alipay_app_auth",
        "pos-7",
    )

    token = exchange(client, isv, params["app_auth_code"])
    assert token["code"] == "10000"
    flat = {key: token[key] for key in ("user_id", "auth_app_id", "expires_in", "re_expires_in")}
    assert flat == {
        "user_id": seller_wire_id(shop.merchant.id),
        "auth_app_id": SHOP_APP,
        "expires_in": TOKEN_TTL_S,
        "re_expires_in": REFRESH_TOKEN_TTL_S,
    }
    pair = {key: token[key] for key in (*flat, "app_auth_token", "app_refresh_token")}
    assert token["tokens"] == [pair]
    with platform.db.read() as tx:
        stored = tx.execute(select(app_auth_tokens.c.token_hash)).scalar_one()
    assert stored == hashlib.sha256(token["app_auth_token"].encode()).hexdigest()

    again = exchange(client, isv, params["app_auth_code"])
    assert (again["code"], again["sub_code"]) == ("40002", "isv.code-invalid")

    query = isv_call(client, isv, QUERY, {"app_auth_token": token["app_auth_token"]})
    assert query["code"] == "10000"
    assert (query["user_id"], query["auth_app_id"], query["status"]) == (
        seller_wire_id(shop.merchant.id),
        SHOP_APP,
        "valid",
    )
    assert TOKEN_TTL_S - 60 <= query["expires_in"] <= TOKEN_TTL_S and len(query["auth_end"]) == 19
    assert "alipay.trade.pay" in query["auth_methods"]
    assert "alipay.open.auth.token.app" not in query["auth_methods"]

    listed = client.get("/merchant/app-auths")
    assert listed.status_code == 200 and f'data-isv-app-id="{ISV_APP}"' in listed.text


def test_the_page_refuses_bad_requests_without_redirecting(
    platform: Platform, client: TestClient
) -> None:
    make_isv(platform)
    shop = make_merchant(platform)
    for url in (
        authorize_url("2021000000009999"),
        authorize_url(redirect_uri="https://evil.example/steal"),
        authorize_url(redirect_uri="javascript:alert(1)//pos.example"),
        authorize_url(state="has space"),
    ):
        page = client.get(url, follow_redirects=False)
        assert page.status_code == 400, url
        assert 'id="consent"' not in page.text and "location" not in page.headers
    # The batch path is the same page; declining issues nothing.
    url = authorize_url(path="/oauth2/appToAppBatchAuth.htm")
    assert sign_in_on_page(client, url, shop.merchant.id).status_code == 303
    declined = consent(client, url, SHOP_APP, decision="deny")
    assert declined.status_code == 200 and 'id="back"' in declined.text
    assert count_rows(platform, "app_auth_codes") == 0
    # A form without a CSRF token is refused.
    forged = client.post(
        AUTHORIZE,
        data={"app_id": ISV_APP, "redirect_uri": CALLBACK, "decision": "agree"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert count_rows(platform, "app_auth_codes") == 0


def test_an_isv_paying_with_a_merchants_token_makes_the_merchants_trade(
    platform: Platform, client: TestClient
) -> None:
    isv = make_isv(platform)
    shop = make_merchant(platform)
    token = _token(client, platform, isv, shop.merchant.id)["app_auth_token"]
    buyer = make_buyer(platform, phone="13800000701", balance_fen=100_00)

    paid = _pay(client, platform, isv, buyer, "pos-1", app_auth_token=token)
    assert (paid["code"], paid["total_amount"]) == ("10000", "20.00"), paid
    with platform.db.read() as tx:
        trade = tx.execute(text("SELECT app_id, merchant_id FROM trades")).one()
    assert tuple(trade) == (SHOP_APP, shop.merchant.id)
    assert wallet_balance(platform, buyer) == 80_00
    assert _settled(platform, shop.merchant.id) == 20_00 - 12  # its 0.6 % fee
    assert _settled(platform, isv.shop.merchant.id) == 0

    # The merchant sees it as its own; the ISV without the token does not see it at all.
    own = call(client, "alipay.trade.query", {"out_trade_no": "pos-1"}, app_id=SHOP_APP)
    assert (own["code"], own["trade_status"]) == ("10000", "TRADE_SUCCESS")
    bare = isv_call(client, isv, "alipay.trade.query", {"out_trade_no": "pos-1"})
    assert (bare["code"], bare["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
    by_no = isv_call(client, isv, "alipay.trade.query", {"trade_no": paid["trade_no"]})
    assert by_no["sub_code"] == "ACQ.TRADE_NOT_EXIST"

    # Refund and query through the token: the merchant's money goes back.
    refund = isv_call(
        client,
        isv,
        "alipay.trade.refund",
        {"out_trade_no": "pos-1", "refund_amount": "5.00", "out_request_no": "r-1"},
        app_auth_token=token,
    )
    assert (refund["code"], refund["refund_fee"]) == ("10000", "5.00"), refund
    query = isv_call(
        client, isv, "alipay.trade.query", {"out_trade_no": "pos-1"}, app_auth_token=token
    )
    assert (query["trade_status"], query["trade_no"]) == ("TRADE_SUCCESS", paid["trade_no"])
    assert wallet_balance(platform, buyer) == 85_00
    assert _settled(platform, isv.shop.merchant.id) == 0
    assert platform.reconcile.run().clean


@pytest.mark.parametrize("kind", ["unknown", "revoked", "expired", "replaced", "other_isv"])
def test_any_other_token_is_refused_before_anything_is_written(
    platform: Platform, client: TestClient, kind: str
) -> None:
    isv = make_isv(platform)
    other_isv = make_isv(platform, OTHER_ISV_APP, name="另一家服务商")
    shop = make_merchant(platform)
    answer = _token(client, platform, isv, shop.merchant.id)
    token, caller = answer["app_auth_token"], isv
    if kind == "unknown":
        token = "202611BB" + "0" * 40
    elif kind == "revoked":
        auth_id = platform.services["app_auth"].authorisations_of(shop.merchant.id)[0].auth.id
        platform.services["app_auth"].revoke(shop.merchant.id, auth_id)
    elif kind == "expired":
        jump_clock(platform, TOKEN_TTL_S + 1)
    elif kind == "replaced":
        assert refresh(client, isv, answer["app_refresh_token"])["code"] == "10000"
    else:
        caller = other_isv  # ISV C with ISV A's token
    buyer = make_buyer(platform, phone="13800000702", balance_fen=100_00)
    code = platform.services["trades"].issue_auth_code(buyer)
    before = _rows(platform)

    refused = _pay(client, platform, caller, buyer, f"pos-{kind}", code, app_auth_token=token)
    sub_code = "aop.app-auth-token-time-out" if kind == "expired" else "aop.invalid-app-auth-token"
    assert (refused["code"], refused["msg"], refused["sub_code"]) == (
        "20001",
        "Insufficient Token Permissions",
        sub_code,
    )
    assert _rows(platform) == before
    assert wallet_balance(platform, buyer) == 100_00
    assert _settled(platform, shop.merchant.id) == 0
    assert _settled(platform, caller.shop.merchant.id) == 0


def test_a_token_needs_the_isvs_own_signature(platform: Platform, client: TestClient) -> None:
    """The merchant's own app (its own key) sending the token is not the ISV: refused."""
    isv = make_isv(platform)
    shop = make_merchant(platform)
    token = _token(client, platform, isv, shop.merchant.id)["app_auth_token"]
    answer = call(
        client,
        "alipay.trade.query",
        {"out_trade_no": "nope"},
        app_id=SHOP_APP,
        app_auth_token=token,
    )
    assert (answer["code"], answer["sub_code"]) == ("20001", "aop.invalid-app-auth-token")
    # And a second merchant's trade stays out of reach with the first one's token.
    second = make_merchant(platform, SECOND_SHOP_APP, name="别家店")
    buyer = make_buyer(platform, phone="13800000703", balance_fen=100_00)
    code = platform.services["trades"].issue_auth_code(buyer)
    biz = {"out_trade_no": "theirs", "auth_code": code, "subject": "s", "total_amount": "1.00"}
    assert call(client, "alipay.trade.pay", biz, app_id=SECOND_SHOP_APP)["code"] == "10000"
    peek = isv_call(
        client, isv, "alipay.trade.query", {"out_trade_no": "theirs"}, app_auth_token=token
    )
    assert peek["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    assert second.merchant.id != shop.merchant.id


def test_revoking_in_the_portal_stops_the_token(platform: Platform, client: TestClient) -> None:
    isv = make_isv(platform)
    shop = make_merchant(platform)
    token = _token(client, platform, isv, shop.merchant.id)["app_auth_token"]
    url = authorize_url()
    assert sign_in_on_page(client, url, shop.merchant.id).status_code == 303

    listed = client.get("/merchant/app-auths")
    assert "收银云服务商" in listed.text and "/merchant/app-auths" in listed.text
    auth_id = platform.services["app_auth"].authorisations_of(shop.merchant.id)[0].auth.id
    revoked = client.post(
        f"/merchant/app-auths/{auth_id}/revoke",
        data={"csrf_token": csrf_of(listed.text)},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert 'id="no-app-auths"' in client.get(revoked.headers["location"]).text
    query = isv_call(client, isv, QUERY, {"app_auth_token": token})
    assert (query["code"], query["sub_code"]) == ("20001", "aop.invalid-app-auth-token")


def test_an_isv_trades_notification_names_the_isv_and_is_signed_for_it(
    platform: Platform, client: TestClient
) -> None:
    shop = make_merchant(platform)  # generation 1 of the platform key
    generation = new_generation(platform)
    isv = make_isv(platform)  # made after: generation 2
    assert public_pem_of(platform, ISV_APP) != public_pem_of(platform, SHOP_APP)
    assert platform.services["merchants"].app(ISV_APP).platform_key_generation == (
        generation.generation
    )
    token = _token(client, platform, isv, shop.merchant.id)["app_auth_token"]
    buyer = make_buyer(platform, phone="13800000704", balance_fen=100_00)
    notify_url = "https://pos.example/notify"
    paid = _pay(client, platform, isv, buyer, "pos-n", app_auth_token=token, notify_url=notify_url)
    assert paid["code"] == "10000"

    with platform.db.read() as tx:
        row = tx.execute(text("SELECT notify_id, snapshot, url FROM trade_notifications")).one()
    assert row.url == notify_url
    forms: NotificationForms = platform.services["notification_forms"]
    body, _ = forms.render(json.loads(row.snapshot), row.notify_id, platform.clock.now_us())
    form = dict(urllib.parse.parse_qsl(body.decode()))
    assert (form["app_id"], form["auth_app_id"]) == (ISV_APP, SHOP_APP)
    assert form["seller_id"] == seller_wire_id(shop.merchant.id)
    assert verify_notification(form, public_pem_of(platform, ISV_APP))
    assert not verify_notification(form, public_pem_of(platform, SHOP_APP))

    # The merchant's own trades keep app_id == auth_app_id, signed for the merchant.
    code = platform.services["trades"].issue_auth_code(buyer)
    biz = {"out_trade_no": "own-n", "auth_code": code, "subject": "s", "total_amount": "1.00"}
    call(client, "alipay.trade.pay", biz, app_id=SHOP_APP, notify_url=notify_url)
    with platform.db.read() as tx:
        own = tx.execute(
            text("SELECT notify_id, snapshot FROM trade_notifications ORDER BY id DESC")
        ).first()
    assert own is not None
    body, _ = forms.render(json.loads(own.snapshot), own.notify_id, platform.clock.now_us())
    own_form = dict(urllib.parse.parse_qsl(body.decode()))
    assert (own_form["app_id"], own_form["auth_app_id"]) == (SHOP_APP, SHOP_APP)
    assert verify_notification(own_form, public_pem_of(platform, SHOP_APP))


def test_without_the_feature_a_token_is_refused_not_ignored(
    platform: Platform, client: TestClient
) -> None:
    """The gateway's default (on_behalf.REFUSE_APP_AUTH): a token never runs as the caller."""
    isv = make_isv(platform)
    platform.services["alipay_gateway"].on_behalf = REFUSE_APP_AUTH
    answer = isv_call(
        client, isv, "alipay.trade.query", {"out_trade_no": "x"}, app_auth_token="anything"
    )
    assert (answer["code"], answer["sub_code"]) == ("20001", "aop.invalid-app-auth-token")


def test_an_isvs_page_pay_opens_the_merchants_order_and_returns_signed_for_the_isv(
    platform: Platform, client: TestClient
) -> None:
    shop = make_merchant(platform)
    new_generation(platform)
    isv = make_isv(platform)  # on generation 2, the merchant on 1
    token = _token(client, platform, isv, shop.merchant.id)["app_auth_token"]
    biz = {
        "out_trade_no": "web-1",
        "total_amount": "9.90",
        "subject": "外卖",
        "product_code": "FAST_INSTANT_TRADE_PAY",
    }
    params = signed_params(
        "alipay.trade.page.pay",
        biz,
        keys=isv.keys,
        app_id=isv.app_id,
        app_auth_token=token,
        return_url="https://pos.example/return",
    )
    opened = client.get(f"/gateway.do?{urllib.parse.urlencode(params)}", follow_redirects=False)
    assert opened.status_code == 302 and "/cashier/" in opened.headers["location"]

    trade = platform.services["trades"].find(SHOP_APP, TradeRef(out_trade_no="web-1"))
    assert (trade.merchant_id, trade.total_fen) == (shop.merchant.id, 9_90)
    forms: NotificationForms = platform.services["notification_forms"]
    back = forms.return_url(trade, platform.clock.now_us())
    assert back is not None and back.startswith("https://pos.example/return?")
    fields = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))
    assert (fields["app_id"], fields["auth_app_id"]) == (ISV_APP, SHOP_APP)
    assert verify_notification(fields, public_pem_of(platform, ISV_APP))
