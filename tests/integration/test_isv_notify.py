"""Notifications of what an ISV makes for a merchant with app_auth_token (第三方应用), on a
migrated database (SQLite and PostgreSQL), delivered through the notify job to a recording
sender: withholding agreements (dut_user_sign / dut_user_unsign and the sign page's return_url),
fund pre-authorisation (fund_auth_freeze / fund_auth_unfreeze), plate-paid parking trades, an
ISV trade's refund, escrow trades (paybao.trade.escrow.*: paid, shipped, finished) and
asynchronous settles (alipay.trade.order.settle.notify). Each goes to the ISV's notify_url (the
request's, else the ISV's own), names the ISV's app as app_id and the merchant's as auth_app_id
(a 1.1 message: msg_app_id), and is signed with the ISV's generation of the platform key, so
that both SDKs' verifiers accept it with the ISV's Alipay public key and not with the
merchant's. The merchant calling for itself sees what it saw before."""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any

import pytest
from agreement_support import GENERAL, RETURN_URL, returned_params, sign_on
from alipay import AliPay
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from app_auth_support import (
    ISV_ORIGIN,
    SHOP_APP,
    Isv,
    code_for,
    exchange,
    isv_call,
    make_isv,
    make_merchant,
    public_pem_of,
)
from fastapi.testclient import TestClient
from gateway_support import (
    PAYMENT_PASSWORD,
    Shop,
    app_keys,
    call,
    make_buyer,
    sign_in_on,
    signed_params,
)
from parking_support import PREFIX, beijing, make_driver
from platform_key_support import new_generation
from royalty_support import BIND, SETTLE, bind_biz, part, receiver, settle_biz

from paybao.bootstrap import Platform
from paybao.services.notify import Delivery

ISV_NOTIFY = f"{ISV_ORIGIN}/isv/notify"  # the notify_url the ISV passes in its calls
ISV_OWN = f"{ISV_ORIGIN}/notify"  # the ISV's own (its merchant's), when it passes none
SHOP_NOTIFY = "https://shop.example/notify"


class Recorder:
    """The notify job's sender: every POST's URL and form, answered `success`."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, content_type: str) -> Delivery:
        charset = content_type.partition("charset=")[2].strip() or "utf-8"
        form = dict(urllib.parse.parse_qsl(body.decode(charset), encoding=charset))
        with self._lock:
            self.posted.append((url, form))
        return Delivery(200, "success", None, 1)

    def of(self, key: str, value: str) -> list[tuple[str, dict[str, str]]]:
        return [(url, form) for url, form in self.posted if form.get(key) == value]

    def one(self, key: str, value: str) -> tuple[str, dict[str, str]]:
        (found,) = self.of(key, value)
        return found


@dataclass
class Parties:
    platform: Platform
    client: TestClient
    shop: Shop  # generation 1 of the platform key
    isv: Isv  # generation 2: a signature for one never verifies for the other
    token: str
    sent: Recorder

    def deliver(self) -> None:
        """Run what is due (settle parts first, then the notifications they queue)."""
        for _ in range(10):
            if not self.platform.jobs.run_due():
                return
        raise AssertionError("jobs still due after 10 rounds")


@pytest.fixture
def parties(platform: Platform, client: TestClient) -> Parties:
    shop = make_merchant(platform, notify_url=SHOP_NOTIFY)
    new_generation(platform)
    isv = make_isv(platform)
    assert public_pem_of(platform, isv.app_id) != public_pem_of(platform, SHOP_APP)
    granted = exchange(client, isv, code_for(platform, shop.merchant.id, SHOP_APP))
    assert granted["code"] == "10000", granted
    sent = Recorder()
    platform.services["notify"].sender = sent
    return Parties(platform, client, shop, isv, str(granted["app_auth_token"]), sent)


def sdks_verify(platform: Platform, form: dict[str, str], app_id: str) -> bool:
    """python-alipay-sdk's `verify` and the official SDK's verify_with_rsa (as its
    verify-notification helpers call it), with `app_id`'s Alipay public key; True if both do."""
    public_pem = public_pem_of(platform, app_id)
    python = AliPay(
        appid=app_id,
        app_private_key_string=app_keys().private_pem_pkcs1,  # unused: nothing is signed
        alipay_public_key_string=public_pem,
        sign_type="RSA2",
    )
    data = dict(form)
    signature = data.pop("sign")
    python_ok = bool(python.verify(dict(data), signature))
    content = {k: v for k, v in data.items() if k != "sign_type"}
    public_base64 = "".join(public_pem.splitlines()[1:-1])
    charset = form.get("charset", "utf-8")
    message = get_sign_content(content).encode(charset)
    try:
        official_ok = bool(verify_with_rsa(public_base64, message, signature))
    except Exception:  # the official SDK raises on a signature that does not match
        official_ok = False
    return python_ok and official_ok


def assert_for_the_isv(parties: Parties, url: str, form: dict[str, str], to: str) -> None:
    assert url == to
    assert (form["app_id"], form["auth_app_id"]) == (parties.isv.app_id, SHOP_APP)
    assert sdks_verify(parties.platform, form, parties.isv.app_id)
    assert not sdks_verify(parties.platform, form, SHOP_APP)


def assert_for_the_merchant(parties: Parties, url: str, form: dict[str, str]) -> None:
    assert url == SHOP_NOTIFY
    assert (form["app_id"], form["auth_app_id"]) == (SHOP_APP, SHOP_APP)
    assert sdks_verify(parties.platform, form, SHOP_APP)
    assert not sdks_verify(parties.platform, form, parties.isv.app_id)


# Withholding agreements --------------------------------------------------------------------


def _sign_page(parties: Parties, phone: str, **common: str) -> dict[str, str]:
    """The user signs general withholding on the sign page; the return_url's parameters."""
    params = signed_params("alipay.user.agreement.page.sign", GENERAL, **common)
    client = parties.client
    opened = client.get("/gateway.do?" + urllib.parse.urlencode(params), follow_redirects=False)
    assert opened.status_code == 302, opened.text
    path = opened.headers["location"].removeprefix("http://testserver")
    client.cookies.clear()
    sign_in_on(client, path, phone)
    return returned_params(sign_on(client, path))


def test_an_isvs_agreement_notifies_and_returns_to_the_isv(parties: Parties) -> None:
    platform, isv = parties.platform, parties.isv
    make_buyer(platform, "13800000801")
    make_buyer(platform, "13800000802")
    as_isv = {"keys": isv.keys, "app_id": isv.app_id, "app_auth_token": parties.token}
    back = _sign_page(
        parties, "13800000801", return_url=RETURN_URL, notify_url=ISV_NOTIFY, **as_isv
    )
    assert (back["app_id"], back["auth_app_id"]) == (isv.app_id, SHOP_APP)
    assert sdks_verify(platform, back, isv.app_id)
    assert not sdks_verify(platform, back, SHOP_APP)
    agreement_no = back["agreement_no"]

    # The ISV ends it for the merchant: both notifications are the ISV's.
    unsign = isv_call(
        parties.client,
        isv,
        "alipay.user.agreement.unsign",
        {"agreement_no": agreement_no},
        app_auth_token=parties.token,
    )
    assert unsign["code"] == "10000", unsign
    parties.deliver()
    signed = parties.sent.of("agreement_no", agreement_no)
    kinds = {form["notify_type"]: (url, form) for url, form in signed}
    assert sorted(kinds) == ["dut_user_sign", "dut_user_unsign"]
    for url, form in kinds.values():
        assert_for_the_isv(parties, url, form, ISV_NOTIFY)
    assert kinds["dut_user_unsign"][1]["status"] == "UNSIGN"

    # Without a notify_url, the ISV's own (its app's), never the merchant's.
    quiet = _sign_page(parties, "13800000802", return_url=RETURN_URL, **as_isv)
    parties.deliver()
    url, form = parties.sent.one("agreement_no", quiet["agreement_no"])
    assert_for_the_isv(parties, url, form, ISV_OWN)


def test_a_merchants_own_agreement_is_unchanged(parties: Parties) -> None:
    make_buyer(parties.platform, "13800000803")
    own = {"keys": parties.shop.keys, "app_id": SHOP_APP}
    back = _sign_page(parties, "13800000803", return_url=RETURN_URL, **own)
    assert (back["app_id"], back["auth_app_id"]) == (SHOP_APP, SHOP_APP)
    assert sdks_verify(parties.platform, back, SHOP_APP)
    parties.deliver()
    url, form = parties.sent.one("agreement_no", back["agreement_no"])
    assert_for_the_merchant(parties, url, form)


# Fund pre-authorisation --------------------------------------------------------------------


def _freeze_biz(platform: Platform, buyer: int, out_order_no: str) -> dict[str, Any]:
    return {
        "auth_code": platform.services["trades"].issue_auth_code(buyer),
        "auth_code_type": "bar_code",
        "out_order_no": out_order_no,
        "out_request_no": f"{out_order_no}-f",
        "order_title": "酒店押金",
        "amount": "300.00",
        "product_code": "PRE_AUTH",
    }


def test_an_isvs_preauth_order_notifies_the_isv(parties: Parties) -> None:
    platform, client, isv, token = parties.platform, parties.client, parties.isv, parties.token
    buyer = make_buyer(platform, "13800000811", balance_fen=1_000_00)
    method = "alipay.fund.auth.order.freeze"
    biz = _freeze_biz(platform, buyer, "hotel-isv")
    frozen = isv_call(client, isv, method, biz, app_auth_token=token, notify_url=ISV_NOTIFY)
    assert (frozen["code"], frozen["status"]) == ("10000", "SUCCESS"), frozen
    back = isv_call(
        client,
        isv,
        "alipay.fund.auth.order.unfreeze",
        {"auth_no": frozen["auth_no"], "out_request_no": "back-1", "amount": "300.00"},
        app_auth_token=token,
    )
    assert back["code"] == "10000", back
    quiet_biz = _freeze_biz(platform, buyer, "hotel-quiet")
    quiet = isv_call(client, isv, method, quiet_biz, app_auth_token=token)
    assert quiet["code"] == "10000", quiet
    parties.deliver()

    frozen_forms = parties.sent.of("auth_no", frozen["auth_no"])
    kinds = {form["notify_type"]: (url, form) for url, form in frozen_forms}
    assert sorted(kinds) == ["fund_auth_freeze", "fund_auth_unfreeze"]
    for url, form in kinds.values():
        assert_for_the_isv(parties, url, form, ISV_NOTIFY)
    assert kinds["fund_auth_unfreeze"][1]["amount"] == "300.00"
    url, form = parties.sent.one("auth_no", quiet["auth_no"])
    assert_for_the_isv(parties, url, form, ISV_OWN)  # none passed: the ISV's own

    # The merchant's own order: as before.
    own_biz = _freeze_biz(platform, buyer, "hotel-own")
    own = call(client, method, own_biz, app_id=SHOP_APP, notify_url=SHOP_NOTIFY)
    assert own["code"] == "10000", own
    parties.deliver()
    url, form = parties.sent.one("auth_no", own["auth_no"])
    assert_for_the_merchant(parties, url, form)


# Parking and refunds (trades) ----------------------------------------------------------------


def test_an_isvs_parking_trade_and_its_refund_notify_the_isv(parties: Parties) -> None:
    platform, client, isv, token = parties.platform, parties.client, parties.isv, parties.token
    make_driver(platform, "13800000821")
    lot = isv_call(
        client,
        isv,
        PREFIX + "parkinglotinfo.create",
        {"out_parking_id": "P-ISV", "parking_name": "国贸地下停车场", "parking_address": "北京"},
        app_auth_token=token,
    )
    assert lot["code"] == "10000", lot
    parking_id = lot["parking_id"]
    entry = {
        "parking_id": parking_id,
        "car_number": "粤BD12345",
        "in_time": beijing(95),
        "out_serial_no": "in-1",
    }
    entered = isv_call(client, isv, PREFIX + "enterinfo.sync", entry, app_auth_token=token)
    assert entered["code"] == "10000", entered
    order = {
        "parking_id": parking_id,
        "car_number": "粤BD12345",
        "out_trade_no": "park-isv",
        "total_fee": "15.00",
        "subject": "停车费",
        "pay_scene": "PLATE_PAY",
    }
    paid = isv_call(
        client, isv, PREFIX + "order.pay", order, app_auth_token=token, notify_url=ISV_NOTIFY
    )
    assert paid["code"] == "10000", paid
    refund = isv_call(
        client,
        isv,
        "alipay.trade.refund",
        {"trade_no": paid["trade_no"], "refund_amount": "5.00", "out_request_no": "r-1"},
        app_auth_token=token,
    )
    assert (refund["code"], refund["refund_fee"]) == ("10000", "5.00"), refund
    parties.deliver()

    forms = parties.sent.of("trade_no", paid["trade_no"])
    assert len(forms) == 2  # paid, then refunded
    for url, form in forms:
        assert_for_the_isv(parties, url, form, ISV_NOTIFY)
        assert form["out_trade_no"] == "park-isv"
    (refunded,) = [form for _url, form in forms if form.get("out_biz_no") == "r-1"]
    assert refunded["refund_fee"] == "5.00"


# Escrow trades (担保交易, paybao.trade.escrow.*) -----------------------------------------------

ESCROW_CREATE = "paybao.trade.escrow.create"


def _escrow_biz(out_trade_no: str) -> dict[str, Any]:
    return {
        "out_trade_no": out_trade_no,
        "total_amount": "100.00",
        "subject": "手冲咖啡豆",
        "goods_type": "express",
    }


def test_an_isvs_escrow_trade_notifies_the_isv(parties: Parties) -> None:
    platform, client, isv, token = parties.platform, parties.client, parties.isv, parties.token
    buyer = make_buyer(platform, "13800000841", balance_fen=1_000_00)
    escrow = platform.services["escrow"]
    biz = _escrow_biz("esc-isv")
    created = isv_call(client, isv, ESCROW_CREATE, biz, app_auth_token=token, notify_url=ISV_NOTIFY)
    assert (created["code"], created["trade_status"]) == ("10000", "WAIT_BUYER_PAY"), created
    trade_no = str(created["trade_no"])
    escrow.pay(trade_no, buyer, PAYMENT_PASSWORD)
    ship = {"out_trade_no": "esc-isv", "logistics_company": "SF", "tracking_no": "SF200"}
    shipped = isv_call(client, isv, "paybao.trade.escrow.ship", ship, app_auth_token=token)
    assert shipped["trade_status"] == "WAIT_BUYER_CONFIRM_GOODS", shipped
    done = isv_call(
        client, isv, "paybao.trade.escrow.confirm", {"trade_no": trade_no}, app_auth_token=token
    )
    assert done["trade_status"] == "TRADE_FINISHED", done
    # Without a notify_url: the ISV's own, never the merchant's.
    quiet = isv_call(client, isv, ESCROW_CREATE, _escrow_biz("esc-quiet"), app_auth_token=token)
    assert quiet["code"] == "10000", quiet
    escrow.pay(str(quiet["trade_no"]), buyer, PAYMENT_PASSWORD)
    parties.deliver()

    forms = parties.sent.of("trade_no", trade_no)
    statuses = {form["trade_status"] for _url, form in forms}  # delivered in any order
    assert len(forms) == 3
    assert statuses == {"WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_CONFIRM_GOODS", "TRADE_FINISHED"}
    for url, form in forms:
        assert_for_the_isv(parties, url, form, ISV_NOTIFY)
        assert (form["out_trade_no"], form["total_amount"]) == ("esc-isv", "100.00")
    url, form = parties.sent.one("trade_no", str(quiet["trade_no"]))
    assert_for_the_isv(parties, url, form, ISV_OWN)
    assert form["trade_status"] == "WAIT_SELLER_SEND_GOODS"

    # The money is the merchant's (the price less its fee), none of it the ISV's.
    ledger = platform.ledger
    assert ledger.balance(parties.shop.merchant.settlement_account_id).balance_fen == 100_00 - 60
    assert ledger.balance(isv.shop.merchant.settlement_account_id).balance_fen == 0
    assert platform.reconcile.run().clean


def test_a_merchants_own_escrow_trade_is_unchanged(parties: Parties) -> None:
    platform, client = parties.platform, parties.client
    buyer = make_buyer(platform, "13800000842", balance_fen=1_000_00)
    own = call(client, ESCROW_CREATE, _escrow_biz("esc-own"), app_id=SHOP_APP)
    assert own["code"] == "10000", own
    platform.services["escrow"].pay(str(own["trade_no"]), buyer, PAYMENT_PASSWORD)
    parties.deliver()
    url, form = parties.sent.one("trade_no", str(own["trade_no"]))
    assert_for_the_merchant(parties, url, form)  # none passed: the merchant's own
    assert form["trade_status"] == "WAIT_SELLER_SEND_GOODS"


# Asynchronous settles (消息: alipay.trade.order.settle.notify) -------------------------------


def test_an_isvs_async_settle_is_announced_to_the_isv(parties: Parties) -> None:
    platform, client, isv, token = parties.platform, parties.client, parties.isv, parties.token
    buyer = make_buyer(platform, "13800000831", balance_fen=1_000_00)
    alice = receiver(platform, "13800000832")
    bound = isv_call(client, isv, BIND, bind_biz(alice), app_auth_token=token)
    assert bound["code"] == "10000", bound

    def paid(out_trade_no: str) -> str:
        code = platform.services["trades"].issue_auth_code(buyer)
        biz = {
            "out_trade_no": out_trade_no,
            "auth_code": code,
            "subject": "分账商品",
            "total_amount": "100.00",
        }
        answer = call(client, "alipay.trade.pay", biz, app_id=SHOP_APP)
        assert answer["code"] == "10000", answer
        return str(answer["trade_no"])

    # The ISV settles a trade of the merchant's (the settle's caller decides, not the trade's).
    trade_no = paid("share-1")
    biz = settle_biz("s_isv", trade_no, part(alice, "10.00")) | {"royalty_mode": "async"}
    accepted = isv_call(client, isv, SETTLE, biz, app_auth_token=token)
    assert accepted["code"] == "10000", accepted
    # The merchant settles another one itself: its message is the merchant's, as before.
    own_trade_no = paid("share-2")
    own_biz = settle_biz("s_own", own_trade_no, part(alice, "5.00")) | {"royalty_mode": "async"}
    own = call(client, SETTLE, own_biz, app_id=SHOP_APP)
    assert own["code"] == "10000", own
    parties.deliver()

    messages = {
        json.loads(form["biz_content"])["settle_no"]: (url, form)
        for url, form in parties.sent.of("msg_method", "alipay.trade.order.settle.notify")
    }
    url, form = messages[accepted["settle_no"]]
    assert url == ISV_OWN  # a message goes to the app that receives it: the ISV's
    assert (form["app_id"], form["msg_app_id"]) == (isv.app_id, SHOP_APP)
    assert "auth_app_id" not in form  # a 1.0 field; 1.1 messages name the owner msg_app_id
    assert json.loads(form["biz_content"])["royalty_detail_list"][0]["state"] == "SUCCESS"
    assert sdks_verify(platform, form, isv.app_id)
    assert not sdks_verify(platform, form, SHOP_APP)

    url, form = messages[own["settle_no"]]
    assert url == SHOP_NOTIFY
    assert form["app_id"] == SHOP_APP and "msg_app_id" not in form
    assert sdks_verify(platform, form, SHOP_APP)
    assert platform.reconcile.run().clean
