"""`alipay.fund.trans.common.query` and `alipay.fund.account.query` through the ASGI app
(SQLite, or PostgreSQL by URL): a merchant finds its own transfers by either number, never
another merchant's, and reads its own balance to the fen, never another party's."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from gateway_support import APP_ID, call, make_buyer, make_shop

from paybao.adapters.alipay.methods import seller_wire_id
from paybao.bootstrap import Platform
from paybao.services.wallet_statement import StatementQuery

OTHER_APP_ID = "2021000000007788"
QUERY = "alipay.fund.trans.common.query"
SCENE = {"product_code": "TRANS_ACCOUNT_NO_PWD", "biz_scene": "DIRECT_TRANSFER"}


def _paid_shop(platform: Platform, client: TestClient, app_id: str, phone: str) -> Any:
    shop = make_shop(platform, app_id=app_id)
    buyer = make_buyer(platform, phone=phone, balance_fen=100_00)
    code = platform.services["trades"].issue_auth_code(buyer)
    biz = {"out_trade_no": "in-1", "scene": "bar_code", "auth_code": code, "subject": "s"}
    assert (
        call(client, "alipay.trade.pay", {**biz, "total_amount": "80.00"}, app_id=app_id)["code"]
        == "10000"
    )
    return shop


def _transfer(client: TestClient, app_id: str, out_biz_no: str, payee: int) -> dict[str, Any]:
    biz = {
        **SCENE,
        "out_biz_no": out_biz_no,
        "trans_amount": "12.34",
        "payee_info": {"identity": f"2088{payee:012d}", "identity_type": "ALIPAY_USER_ID"},
    }
    return call(client, "alipay.fund.trans.uni.transfer", biz, app_id=app_id)


def test_a_merchant_finds_its_transfer_by_either_number_and_never_another_s(
    platform: Platform, client: TestClient
) -> None:
    _paid_shop(platform, client, APP_ID, "13700000101")
    _paid_shop(platform, client, OTHER_APP_ID, "13700000102")
    payee = make_buyer(platform, phone="13700000103", balance_fen=0)
    sent = _transfer(client, APP_ID, "same-no", payee)
    theirs = _transfer(client, OTHER_APP_ID, "same-no", payee)

    by_out = call(client, QUERY, {**SCENE, "out_biz_no": "same-no"})
    by_order = call(client, QUERY, {"order_id": sent["order_id"]})
    by_fund_order = call(client, QUERY, {"pay_fund_order_id": sent["order_id"]})
    other_order = call(client, QUERY, {"order_id": theirs["order_id"]})
    no_scene = call(client, QUERY, {"out_biz_no": "same-no"})
    nothing = call(client, QUERY, {})

    entries = platform.services["wallet"].statement(payee, StatementQuery())
    assert [(e.kind, e.amount_fen) for e in entries] == [("merchant_transfer", 12_34)] * 2
    for found in (by_out, by_order, by_fund_order):
        assert (found["code"], found["order_id"], found["out_biz_no"]) == (
            "10000",
            sent["order_id"],
            "same-no",
        )
        assert (found["trans_amount"], found["status"]) == ("12.34", "SUCCESS")
    assert theirs["order_id"] != sent["order_id"]
    assert (other_order["code"], other_order["sub_code"]) == ("40004", "ORDER_NOT_EXIST")
    assert no_scene["sub_code"] == "ACQ.INVALID_PARAMETER"
    assert nothing["sub_code"] == "INVALID_PARAMETER"


def test_a_merchant_reads_its_own_balance_only(platform: Platform, client: TestClient) -> None:
    shop = _paid_shop(platform, client, APP_ID, "13700000201")
    payee = make_buyer(platform, phone="13700000202", balance_fen=0)
    before = call(client, "alipay.fund.account.query", {})
    _transfer(client, APP_ID, "t-1", payee)
    after = call(
        client,
        "alipay.fund.account.query",
        {"alipay_user_id": seller_wire_id(shop.merchant.id), "account_type": "ACCTRANS_ACCOUNT"},
    )
    someone_else = call(
        client, "alipay.fund.account.query", {"alipay_user_id": f"2088{payee:012d}"}
    )
    other_type = call(client, "alipay.fund.account.query", {"account_type": "TRUSTEESHIP_ACCOUNT"})

    settled_fen = platform.ledger.balance(shop.merchant.settlement_account_id).available_fen
    assert after["available_amount"] == f"{settled_fen // 100}.{settled_fen % 100:02d}"
    assert _fen(before["available_amount"]) - _fen(after["available_amount"]) == 12_34
    assert (after["freeze_amount"], after["total_amount"]) == ("0.00", after["available_amount"])
    assert (someone_else["code"], someone_else["sub_code"]) == ("40004", "INVALID_PARAMETER")
    assert other_type["sub_code"] == "INVALID_PARAMETER"


def _fen(amount: str) -> int:
    yuan, fen = amount.split(".")
    return int(yuan) * 100 + int(fen)
