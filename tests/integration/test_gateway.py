"""The gateway end to end through the ASGI app: every method, idempotency, bad input, money."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway_support import (
    APP_ID,
    call,
    count_rows,
    make_buyer,
    make_shop,
    other_keys,
    signed_params,
    wallet_balance,
)

from paybao.adapters.alipay.methods import user_wire_id
from paybao.bootstrap import Platform

TRADE_TABLES = ("trades", "trade_refunds", "trade_notifications", "ledger_transfers", "jobs")


def pay(client: TestClient, platform: Platform, buyer: int, out_trade_no: str, amount: str) -> Any:
    code = platform.services["trades"].issue_auth_code(buyer)
    biz = {
        "out_trade_no": out_trade_no,
        "scene": "bar_code",
        "auth_code": code,
        "subject": "咖啡",
        "total_amount": amount,
    }
    return call(client, "alipay.trade.pay", biz)


def snapshot_counts(platform: Platform) -> dict[str, int]:
    return {table: count_rows(platform, table) for table in TRADE_TABLES}


@pytest.fixture
def shop(platform: Platform) -> Any:
    return make_shop(platform, notify_url="http://127.0.0.1:9/notify")


def test_pay_moves_money_with_fee(platform: Platform, client: TestClient, shop: Any) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)

    result = pay(client, platform, buyer, "o-1", "88.88")

    assert result["code"] == "10000"
    assert result["total_amount"] == "88.88"
    assert result["buyer_user_id"] == f"2088{buyer:012d}"
    assert result["fund_bill_list"] == [{"fund_channel": "ALIPAYACCOUNT", "amount": "88.88"}]
    assert wallet_balance(platform, buyer) == 100_00 - 88_88
    settlement = platform.ledger.balance(shop.merchant.settlement_account_id).balance_fen
    assert settlement == 88_88 - 53  # 0.6 % of 88.88 = 0.53328 -> 0.53
    assert platform.reconcile.run().clean


def test_precreate_hidden_until_scanned(platform: Platform, client: TestClient, shop: Any) -> None:
    biz = {"out_trade_no": "qr-1", "total_amount": 1, "subject": "t"}
    result = call(client, "alipay.trade.precreate", biz)
    assert result["qr_code"].startswith("http://testserver/qr/")

    query = call(client, "alipay.trade.query", {"out_trade_no": "qr-1"})
    assert (query["code"], query["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
    assert query["buyer_pay_amount"] == "0.00"

    page = client.get(result["qr_code"].removeprefix("http://testserver"))
    assert page.status_code == 200
    query = call(client, "alipay.trade.query", {"out_trade_no": "qr-1"})
    assert (query["code"], query["trade_status"]) == ("10000", "WAIT_BUYER_PAY")


def test_create_query_close(platform: Platform, client: TestClient, shop: Any) -> None:
    buyer_id = user_wire_id(make_buyer(platform))
    biz = {"out_trade_no": "c-1", "total_amount": "5", "subject": "s", "buyer_id": buyer_id}
    created = call(client, "alipay.trade.create", biz)
    assert created["code"] == "10000"
    assert len(created["trade_no"]) == 28

    closed = call(client, "alipay.trade.close", {"trade_no": created["trade_no"]})
    assert closed["code"] == "10000"
    again = call(client, "alipay.trade.close", {"out_trade_no": "c-1"})
    assert (again["code"], again["sub_code"]) == ("40004", "ACQ.TRADE_STATUS_ERROR")
    query = call(client, "alipay.trade.query", {"out_trade_no": "c-1"})
    assert query["trade_status"] == "TRADE_CLOSED"


def test_create_without_a_buyer_is_refused_as_alipay_does(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    """alipay.trade.create is the JSAPI order for one buyer: Alipay refuses it without one."""
    before = snapshot_counts(platform)
    biz = {"out_trade_no": "nb-1", "total_amount": "5", "subject": "s"}

    refused = call(client, "alipay.trade.create", biz)

    assert (refused["code"], refused["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")
    assert refused["sub_msg"] == "参数无效:买家不能为空"
    assert snapshot_counts(platform) == before


def test_idempotent_create_and_context_inconsistent(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer_id = user_wire_id(make_buyer(platform))
    biz = {"out_trade_no": "i-1", "total_amount": "5.00", "subject": "s", "buyer_id": buyer_id}
    first = call(client, "alipay.trade.create", biz)
    second = call(client, "alipay.trade.create", {**biz, "total_amount": 5})
    assert first["trade_no"] == second["trade_no"]
    before = snapshot_counts(platform)

    other = call(client, "alipay.trade.create", {**biz, "total_amount": "6.00"})

    assert (other["code"], other["sub_code"]) == ("40004", "ACQ.CONTEXT_INCONSISTENT")
    assert snapshot_counts(platform) == before


def test_pay_replay_returns_first_result(platform: Platform, client: TestClient, shop: Any) -> None:
    buyer = make_buyer(platform)
    first = pay(client, platform, buyer, "p-1", "1.00")
    second = pay(client, platform, buyer, "p-1", "1.00")
    assert first == second
    assert wallet_balance(platform, buyer) == 99_00


def test_pay_errors(platform: Platform, client: TestClient, shop: Any) -> None:
    poor = make_buyer(platform, phone="13900000001", balance_fen=50)
    before = snapshot_counts(platform)

    broke = pay(client, platform, poor, "e-1", "1.00")
    bad_code = call(
        client,
        "alipay.trade.pay",
        {"out_trade_no": "e-2", "auth_code": "281234", "subject": "s", "total_amount": "1"},
    )

    assert (broke["code"], broke["sub_code"]) == ("40004", "ACQ.BUYER_BALANCE_NOT_ENOUGH")
    assert broke["receipt_amount"] == "0.00"
    assert bad_code["sub_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"
    after = snapshot_counts(platform)
    assert after == before


def test_partial_refunds_cumulative_then_closed(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    pay(client, platform, buyer, "r-1", "10.00")

    first = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "r-1", "refund_amount": "3.00", "out_request_no": "a"},
    )
    repeat = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "r-1", "refund_amount": "3.00", "out_request_no": "a"},
    )
    mismatch = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "r-1", "refund_amount": "4.00", "out_request_no": "a"},
    )
    too_much = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "r-1", "refund_amount": "7.01", "out_request_no": "b"},
    )
    rest = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "r-1", "refund_amount": "7.00", "out_request_no": "b"},
    )

    assert (first["fund_change"], first["refund_fee"]) == ("Y", "3.00")
    assert (repeat["fund_change"], repeat["refund_fee"]) == ("N", "3.00")
    assert mismatch["sub_code"] == "ACQ.DISCORDANT_REPEAT_REQUEST"
    assert too_much["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    assert (rest["fund_change"], rest["refund_fee"]) == ("Y", "10.00")
    assert wallet_balance(platform, buyer) == 100_00
    assert platform.ledger.balance(shop.merchant.settlement_account_id).balance_fen == 0
    query = call(client, "alipay.trade.query", {"out_trade_no": "r-1"})
    assert query["trade_status"] == "TRADE_CLOSED"
    found = call(
        client,
        "alipay.trade.fastpay.refund.query",
        {"out_trade_no": "r-1", "out_request_no": "a", "query_options": ["gmt_refund_pay"]},
    )
    assert (found["refund_amount"], found["refund_status"]) == ("3.00", "REFUND_SUCCESS")
    assert "gmt_refund_pay" in found
    missing = call(
        client, "alipay.trade.fastpay.refund.query", {"out_trade_no": "r-1", "out_request_no": "z"}
    )
    assert missing["code"] == "10000"
    assert "refund_amount" not in missing
    assert platform.reconcile.run().clean


def test_refund_window_then_finished(platform: Platform, client: TestClient, shop: Any) -> None:
    buyer = make_buyer(platform)
    pay(client, platform, buyer, "w-1", "2.00")

    platform.sandbox_clock.advance(91 * 86_400)

    query = call(client, "alipay.trade.query", {"out_trade_no": "w-1"})
    refund = call(client, "alipay.trade.refund", {"out_trade_no": "w-1", "refund_amount": "1"})
    assert query["trade_status"] == "TRADE_FINISHED"
    assert refund["sub_code"] == "ACQ.TRADE_HAS_FINISHED"


def test_timeout_express_closes_unpaid_trade(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    biz = {"out_trade_no": "t-1", "total_amount": "1", "subject": "s", "timeout_express": "5m"}
    call(client, "alipay.trade.create", {**biz, "buyer_id": user_wire_id(make_buyer(platform))})

    platform.sandbox_clock.advance(4 * 60)
    assert call(client, "alipay.trade.query", {"out_trade_no": "t-1"})["trade_status"] == (
        "WAIT_BUYER_PAY"
    )
    platform.sandbox_clock.advance(2 * 60)
    assert call(client, "alipay.trade.query", {"out_trade_no": "t-1"})["trade_status"] == (
        "TRADE_CLOSED"
    )


def test_cancel_unpaid_closes_paid_refunds(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform)
    biz = {"out_trade_no": "x-1", "total_amount": "1", "subject": "s"}
    call(client, "alipay.trade.create", {**biz, "buyer_id": user_wire_id(buyer)})
    pay(client, platform, buyer, "x-2", "3.00")

    unpaid = call(client, "alipay.trade.cancel", {"out_trade_no": "x-1"})
    paid = call(client, "alipay.trade.cancel", {"out_trade_no": "x-2"})
    again = call(client, "alipay.trade.cancel", {"out_trade_no": "x-2"})

    assert (unpaid["action"], unpaid["retry_flag"]) == ("close", "N")
    assert paid["action"] == "refund"
    assert again["action"] == "refund"
    assert wallet_balance(platform, buyer) == 100_00


def test_fund_transfer_to_user(platform: Platform, client: TestClient, shop: Any) -> None:
    buyer = make_buyer(platform)
    payee = make_buyer(platform, phone="13700000002", balance_fen=0)
    pay(client, platform, buyer, "f-0", "50.00")
    biz = {
        "out_biz_no": "payout-1",
        "trans_amount": "10.00",
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "order_title": "奖金",
        "payee_info": {"identity": f"2088{payee:012d}", "identity_type": "ALIPAY_USER_ID"},
    }
    first = call(client, "alipay.fund.trans.uni.transfer", biz)
    repeat = call(client, "alipay.fund.trans.uni.transfer", biz)
    too_much = call(
        client, "alipay.fund.trans.uni.transfer", {**biz, "out_biz_no": "p2", "trans_amount": "99"}
    )
    nobody = call(
        client,
        "alipay.fund.trans.uni.transfer",
        {
            **biz,
            "out_biz_no": "p3",
            "payee_info": {"identity": "2088999999999999", "identity_type": "ALIPAY_USER_ID"},
        },
    )

    assert (first["status"], first["order_id"]) == ("SUCCESS", repeat["order_id"])
    assert wallet_balance(platform, payee) == 10_00
    assert (too_much["code"], too_much["sub_code"]) == ("40004", "PAYER_BALANCE_NOT_ENOUGH")
    assert nobody["sub_code"] == "PAYEE_NOT_EXIST"


def test_bill_not_exist(platform: Platform, client: TestClient, shop: Any) -> None:
    result = call(
        client,
        "alipay.data.dataservice.bill.downloadurl.query",
        {"bill_type": "trade", "bill_date": "2024-05-01"},
    )
    assert (result["code"], result["sub_code"]) == ("40004", "isp.bill_not_exist")


@pytest.mark.parametrize(
    ("amount", "sub_code"),
    [
        ("0", "ACQ.INVALID_PARAMETER"),
        ("-1", "ACQ.INVALID_PARAMETER"),
        ("1.001", "ACQ.INVALID_PARAMETER"),
        ("100000000.01", "ACQ.TOTAL_FEE_EXCEED"),
        (0, "ACQ.INVALID_PARAMETER"),
        (-1, "ACQ.INVALID_PARAMETER"),
        (1.001, "ACQ.INVALID_PARAMETER"),
        ("abc", "ACQ.INVALID_PARAMETER"),
    ],
)
def test_bad_amounts_write_nothing(
    platform: Platform, client: TestClient, shop: Any, amount: object, sub_code: str
) -> None:
    before = snapshot_counts(platform)
    result = call(
        client,
        "alipay.trade.precreate",
        {"out_trade_no": "b-1", "total_amount": amount, "subject": "s"},
    )
    assert (result["code"], result["sub_code"]) == ("40004", sub_code)
    assert snapshot_counts(platform) == before


def _post(client: TestClient, params: dict[str, str]) -> Any:
    response = client.post("/gateway.do", data=params)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize(
    ("mutate", "code", "sub_code"),
    [
        (lambda p: p.pop("sign"), "40001", "isv.missing-signature"),
        (lambda p: p.update(sign=p["sign"][:-4] + "AAA="), "40002", "isv.invalid-signature"),
        (lambda p: p.update(method="alipay.trade.nope"), "40002", "isv.invalid-signature"),
        (lambda p: p.pop("method"), "40001", "isv.missing-method"),
        (lambda p: p.update(timestamp="2001-01-01 00:00:00"), "40002", "isv.invalid-signature"),
        (lambda p: p.update(sign_type="MD5"), "40002", "isv.invalid-signature-type"),
    ],
)
def test_bad_requests_write_nothing(
    platform: Platform, client: TestClient, shop: Any, mutate: Any, code: str, sub_code: str
) -> None:
    params = signed_params(
        "alipay.trade.precreate", {"out_trade_no": "b-2", "total_amount": "1", "subject": "s"}
    )
    mutate(params)
    before = snapshot_counts(platform)

    body = _post(client, params).json()

    response = next(value for key, value in body.items() if key.endswith("_response"))
    assert (response["code"], response["sub_code"]) == (code, sub_code)
    assert "sign" in body
    assert snapshot_counts(platform) == before


def test_unknown_method_is_signed_40002(platform: Platform, client: TestClient, shop: Any) -> None:
    result = call(client, "alipay.trade.nope", {"out_trade_no": "n"})
    assert (result["code"], result["sub_code"]) == ("40002", "isv.invalid-method")


def test_stale_timestamp(platform: Platform, client: TestClient, shop: Any) -> None:
    result = call(
        client, "alipay.trade.query", {"out_trade_no": "n"}, timestamp="2001-01-01 00:00:00"
    )
    assert (result["code"], result["sub_code"]) == ("40002", "isv.invalid-timestamp")


def test_bad_json_biz_content(platform: Platform, client: TestClient, shop: Any) -> None:
    params = signed_params("alipay.trade.precreate", None, biz_content='{"out_trade_no":')
    body = _post(client, params).json()
    assert body["alipay_trade_precreate_response"]["sub_code"] == "isv.illegal-json"
    assert count_rows(platform, "trades") == 0


def test_unknown_app_id_unsigned(platform: Platform, client: TestClient, shop: Any) -> None:
    params = signed_params("alipay.trade.query", {"out_trade_no": "x"}, app_id="2021999999999999")
    body = _post(client, params).json()
    assert body["alipay_trade_query_response"]["sub_code"] == "isv.invalid-app-id"
    assert "sign" not in body


def test_wrong_key_signature(platform: Platform, client: TestClient, shop: Any) -> None:
    result = call(client, "alipay.trade.query", {"out_trade_no": "x"}, keys=other_keys())
    assert result["sub_code"] == "isv.invalid-signature"
    assert f"app_id={APP_ID}&amp;" in result["sub_msg"]


def test_concurrent_pays_exactly_one_wins(platform: Platform, shop: Any) -> None:
    """Two buyers in the cashier pay one open trade at the same moment: one trade, one journal."""
    trades = platform.services["trades"]
    buyers = [make_buyer(platform, phone=f"1360000000{n}") for n in range(4)]
    from gateway_support import PAYMENT_PASSWORD

    from paybao.services.trades import NewTrade

    trade = trades.create(
        NewTrade(APP_ID, "cc-1", "create", "s", 5_00, fingerprint="f", notify_url=None)
    )
    outcomes: list[str] = []
    barrier = threading.Barrier(len(buyers))

    def attempt(buyer: int) -> None:
        barrier.wait()
        try:
            trades.pay_by_buyer(trade.trade_no, buyer, PAYMENT_PASSWORD)
            outcomes.append("paid")
        except Exception as error:  # the loser's refusal is what we count
            outcomes.append(getattr(error, "code", repr(error)))

    threads = [threading.Thread(target=attempt, args=(buyer,)) for buyer in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(outcomes) == ["paid"] + ["trade_has_success"] * 3
    assert sum(wallet_balance(platform, buyer) for buyer in buyers) == 4 * 100_00 - 5_00
    assert platform.reconcile.run().clean
