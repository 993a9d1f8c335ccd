"""Escrow through the gateway: create, pay, ship, the sandbox clock, query, notifications."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.integration.agreement_support import receiver
from tests.integration.coupon_support import claim, operator_campaign
from tests.integration.gateway_support import (
    PAYMENT_PASSWORD,
    call,
    make_buyer,
    make_shop,
    signed_params,
)

from paybao.adapters.alipay.wire import verify_notification
from paybao.bootstrap import Platform
from paybao.domain.coupons import CouponChoice


def _notifications(platform: Platform) -> list[tuple[str, str]]:
    with platform.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT event, snapshot FROM trade_notifications ORDER BY id")
        ).all()
    return [(row[0], row[1]) for row in rows]


def test_escrow_trade_through_the_gateway(platform: Platform, client: TestClient) -> None:
    shop = make_shop(platform, notify_url="http://127.0.0.1:9/notify")
    buyer = make_buyer(platform, balance_fen=500_00)
    biz = {
        "out_trade_no": "e-1",
        "total_amount": "100.00",
        "subject": "书",
        "goods_type": "express",
    }
    created = call(client, "paybao.trade.escrow.create", biz)
    assert created["code"] == "10000"
    assert created["trade_status"] == "WAIT_BUYER_PAY"
    assert created["pay_url"].endswith(f"/escrow/pay/{created['trade_no']}")
    assert call(client, "paybao.trade.escrow.create", biz)["trade_no"] == created["trade_no"]

    platform.services["escrow"].pay(created["trade_no"], buyer, PAYMENT_PASSWORD)
    early = call(client, "paybao.trade.escrow.confirm", {"out_trade_no": "e-1"})
    assert early["sub_code"] == "PAYBAO.ESCROW_NOT_SHIPPED"
    ship = {"out_trade_no": "e-1", "logistics_company": "SF", "tracking_no": "SF100"}
    shipped = call(client, "paybao.trade.escrow.ship", ship)
    assert shipped["trade_status"] == "WAIT_BUYER_CONFIRM_GOODS"
    assert "auto_confirm_time" in shipped
    again = call(client, "paybao.trade.escrow.ship", ship)
    assert again["sub_code"] == "PAYBAO.ESCROW_ALREADY_SHIPPED"

    advanced = call(client, "paybao.sandbox.clock.advance", {"duration": "10d"})
    assert advanced["code"] == "10000"
    assert int(advanced["jobs_run"]) >= 1
    query = call(client, "paybao.trade.escrow.query", {"trade_no": created["trade_no"]})
    assert query["trade_status"] == "TRADE_FINISHED"
    settlement = platform.ledger.balance(shop.merchant.settlement_account_id).balance_fen
    assert settlement == 100_00 - 60
    events = [event for event, _ in _notifications(platform)]
    assert events == ["pay", "ship", "finish"]
    assert json.loads(_notifications(platform)[-1][1])["status"] == "TRADE_FINISHED"


def test_escrow_methods_refuse_bad_input(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    bad: dict[str, Any] = {"out_trade_no": "e-2", "total_amount": "1.00", "subject": "x"}
    assert (
        call(client, "paybao.trade.escrow.create", {**bad, "goods_type": "boat"})["sub_code"]
        == "ACQ.INVALID_PARAMETER"
    )
    assert (
        call(client, "paybao.trade.escrow.query", {"out_trade_no": "nope"})["sub_code"]
        == "ACQ.TRADE_NOT_EXIST"
    )
    assert (
        call(client, "paybao.sandbox.clock.advance", {"duration": "10x"})["sub_code"]
        == "ACQ.INVALID_PARAMETER"
    )


def test_an_escrow_paid_partly_by_a_coupon_reports_what_the_buyer_paid(
    platform: Platform, client: TestClient
) -> None:
    shop = make_shop(platform, notify_url="http://127.0.0.1:9/notify")
    buyer = make_buyer(platform, balance_fen=500_00)
    coupon_id = claim(platform, buyer, operator_campaign(platform, merchant_id=shop.merchant.id))
    biz = {
        "out_trade_no": "e-c",
        "total_amount": "100.00",
        "subject": "书",
        "goods_type": "express",
    }
    created = call(client, "paybao.trade.escrow.create", biz)
    unpaid = call(client, "paybao.trade.escrow.query", {"out_trade_no": "e-c"})
    platform.services["escrow"].pay(
        created["trade_no"], buyer, PAYMENT_PASSWORD, CouponChoice(coupon_ids=(coupon_id,))
    )
    paid = call(client, "paybao.trade.escrow.query", {"out_trade_no": "e-c"})

    assert "buyer_pay_amount" not in unpaid
    assert (paid["total_amount"], paid["receipt_amount"]) == ("100.00", "100.00")
    assert (paid["buyer_pay_amount"], paid["discount_amount"]) == ("90.00", "10.00")
    event, snapshot = _notifications(platform)[-1]
    assert (event, json.loads(snapshot)["discount_fen"]) == ("pay", 10_00)


def test_escrow_notifications_follow_the_create_calls_sign_type_and_charset(
    platform: Platform, client: TestClient
) -> None:
    """A merchant that creates with RSA and GBK gets its escrow's notifications signed with RSA
    and encoded in GBK, as its trades' and agreements' are."""
    with receiver() as endpoint:
        make_shop(platform, notify_url=endpoint.url)
        buyer = make_buyer(platform, balance_fen=500_00)
        biz = {"out_trade_no": "e-gbk", "total_amount": "10.00", "subject": "茶叶 {礼盒}"}
        params = signed_params("paybao.trade.escrow.create", biz, sign_type="RSA", charset="GBK")
        body = urllib.parse.urlencode(params, encoding="gbk")
        form_type = {"Content-Type": "application/x-www-form-urlencoded; charset=GBK"}
        answer = client.post("/gateway.do", content=body, headers=form_type)
        created = json.loads(answer.content.decode("gbk"))["paybao_trade_escrow_create_response"]
        assert created["code"] == "10000", created
        platform.services["escrow"].pay(created["trade_no"], buyer, PAYMENT_PASSWORD)
        platform.jobs.run_due()
    assert endpoint.content_types == ["application/x-www-form-urlencoded; charset=gbk"]
    (form,) = endpoint.forms
    assert (form["sign_type"], form["charset"], form["subject"]) == ("RSA", "gbk", "茶叶 {礼盒}")
    public_pem = str(platform.services["platform_key"].public_pem)
    assert verify_notification(form, public_pem, charset="gbk")
    assert not verify_notification(form, public_pem, charset="utf-8")
