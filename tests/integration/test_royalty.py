"""Profit sharing (分账) through the gateway with real signed requests: binding receivers by
user id and by phone, settles that move money from the merchant's settlement account to the
receivers' wallets in one journal, replays, the 30 % cap on (total - refunded), royalty_finish,
the queries, refusals that write nothing, refunds after settling, and a clean reconcile."""

from __future__ import annotations

from fastapi.testclient import TestClient
from gateway_support import balance_fen, call, count_rows, make_buyer, make_shop, wallet_balance
from preauth_support import reconcile_clean
from royalty_support import (
    BATCHQUERY,
    BIND,
    ONSETTLE_QUERY,
    RATE_QUERY,
    SETTLE,
    SETTLE_QUERY,
    UNBIND,
    bind_biz,
    paid_trade,
    part,
    receiver,
    settle_biz,
)

from paybao.adapters.alipay.methods import seller_wire_id, user_wire_id
from paybao.bootstrap import Platform
from paybao.services.wallet_statement import StatementQuery

TABLES = ("royalty_settles", "royalty_settle_parts", "ledger_transfers")


def rows(platform: Platform) -> list[int]:
    return [count_rows(platform, table) for table in TABLES]


def test_bind_settle_replay_query_and_finish(platform: Platform, client: TestClient) -> None:
    shop = make_shop(platform)
    buyer = make_buyer(platform, "13900000001", balance_fen=1_000_00)
    alice = receiver(platform, "13900000002", "王小明")
    bob = receiver(platform, "13900000003", "李四")
    assert call(client, BIND, bind_biz(alice)) == {
        "code": "10000",
        "msg": "Success",
        "result_code": "SUCCESS",
    }
    assert call(client, BIND, bind_biz(bob, by_phone=True))["result_code"] == "SUCCESS"
    assert call(client, BIND, bind_biz(alice, bob))["code"] == "10000"  # bound again: no change
    listed = call(client, BATCHQUERY, {"out_request_no": "q1", "page_size": 1})
    assert (listed["total_record_num"], listed["total_page_num"]) == (2, 2)
    assert listed["receiver_list"] == [
        {
            "type": "userId",
            "account": user_wire_id(alice.user_id),
            "memo": "平台佣金",
            "login_name": "139****0002",
        }
    ]
    rate = call(client, RATE_QUERY, {"out_request_no": "r1"})
    assert (rate["user_id"], rate["max_ratio"]) == (seller_wire_id(shop.merchant.id), 30)

    trade_no = paid_trade(platform, client, buyer, "100.00")
    settlement_before = balance_fen(platform, shop.merchant.settlement_account_id)
    biz = settle_biz("s1", trade_no, part(alice, "10.00"), part(bob, "5.5", by_phone=True))
    settled = call(client, SETTLE, biz)
    assert settled["code"] == "10000" and settled["trade_no"] == trade_no
    assert len(settled["settle_no"]) == 32
    assert wallet_balance(platform, alice.user_id) == 10_00
    assert wallet_balance(platform, bob.user_id) == 5_50
    (entry,) = platform.services["wallet"].statement(alice.user_id, StatementQuery())
    assert (entry.kind, entry.amount_fen, entry.reference) == ("profit_share", 10_00, trade_no)
    moved = settlement_before - balance_fen(platform, shop.merchant.settlement_account_id)
    assert moved == 15_50

    counted = rows(platform)
    again = call(client, SETTLE, biz)  # the same request: the same answer, no money
    assert again["settle_no"] == settled["settle_no"] and rows(platform) == counted
    changed = call(client, SETTLE, settle_biz("s1", trade_no, part(alice, "10.01")))
    assert changed["sub_code"] == "ACQ.DISCORDANT_REPEAT_REQUEST"

    by_no = call(client, SETTLE_QUERY, {"settle_no": settled["settle_no"]})
    by_request = call(client, SETTLE_QUERY, {"out_request_no": "s1", "trade_no": trade_no})
    assert by_no == by_request and by_no["out_request_no"] == "s1"
    details = by_no["royalty_detail_list"]
    assert [(d["trans_in"], d["amount"], d["state"]) for d in details] == [
        (user_wire_id(alice.user_id), "10.00", "SUCCESS"),
        (bob.phone, "5.50", "SUCCESS"),
    ]
    assert details[0]["trans_out"] == seller_wire_id(shop.merchant.id)
    assert details[1]["trans_in_type"] == "loginName"
    assert call(client, ONSETTLE_QUERY, {"trade_no": trade_no})["unsettled_amount"] == "14.50"

    # Over the 30 % cap by a fen: refused, nothing written.
    over = call(client, SETTLE, settle_biz("s2", trade_no, part(alice, "14.51")))
    assert over["sub_code"] == "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR" and rows(platform) == counted
    last = call(client, SETTLE, settle_biz("s3", trade_no, part(alice, "14.50"), finish=True))
    assert last["code"] == "10000" and wallet_balance(platform, alice.user_id) == 24_50
    assert call(client, ONSETTLE_QUERY, {"trade_no": trade_no})["unsettled_amount"] == "0.00"
    done = call(client, SETTLE, settle_biz("s4", trade_no, part(bob, "0.01")))
    assert done["sub_code"] == "ACQ.TRADE_SETTLE_ERROR"
    reconcile_clean(platform)


def test_refusals_write_nothing(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    buyer = make_buyer(platform, "13900000011", balance_fen=1_000_00)
    alice = receiver(platform, "13900000012", "王小明")
    stranger = receiver(platform, "13900000013", "赵六")
    trade_no = paid_trade(platform, client, buyer, "100.00")
    counted = rows(platform)

    def refused(biz: dict[str, object], method: str = SETTLE) -> str:
        answer = call(client, method, biz)
        assert answer["code"] != "10000", answer
        return str(answer["sub_code"])

    # Relations.
    assert refused(bind_biz(alice, by_phone=True) | {"receiver_list": []}, BIND) == (
        "ACQ.RECEIVER_LIST_EMPTY"
    )
    wrong_name = {"type": "loginName", "account": alice.phone, "name": "王大明"}
    assert refused({"out_request_no": "b1", "receiver_list": [wrong_name]}, BIND) == (
        "ACQ.INVALID_PARAMETER"
    )
    no_name = {"type": "loginName", "account": alice.phone}
    assert refused({"out_request_no": "b2", "receiver_list": [no_name]}, BIND) == (
        "ACQ.INVALID_PARAMETER"
    )
    nobody = {"type": "userId", "account": "2088999999999999"}
    assert refused({"out_request_no": "b3", "receiver_list": [nobody]}, BIND) == (
        "ACQ.USER_NOT_EXIST"
    )
    open_id = {"type": "openId", "account": "093PJtAPYb2Uk"}
    assert refused({"out_request_no": "b4", "receiver_list": [open_id]}, BIND) == (
        "ACQ.INVALID_RECEIVER_TYPE"
    )
    many = bind_biz(*[alice] * 21)
    assert refused(many, BIND) == "ACQ.INVALID_PARAMETER"
    assert refused(bind_biz(alice) | {"out_request_no": "bad-no"}, BIND) == "ACQ.INVALID_PARAMETER"
    # A bind with one bad receiver binds none of them.
    assert refused(
        {
            "out_request_no": "b5",
            "receiver_list": [{"type": "userId", "account": user_wire_id(alice.user_id)}, nobody],
        },
        BIND,
    ) == ("ACQ.USER_NOT_EXIST")
    assert count_rows(platform, "royalty_relations") == 0

    # Settles.
    assert refused(settle_biz("x1", trade_no, part(alice, "1.00"))) == "ACQ.TRADE_SETTLE_ERROR"
    assert call(client, BIND, bind_biz(alice))["code"] == "10000"
    assert refused(settle_biz("x2", trade_no, part(stranger, "1.00"))) == ("ACQ.TRADE_SETTLE_ERROR")
    assert refused(settle_biz("x3", "2026010122001234567890123456", part(alice, "1.00"))) == (
        "ACQ.TRADE_NOT_EXIST"
    )
    unpaid = call(
        client,
        "alipay.trade.create",
        {
            "out_trade_no": "open_1",
            "total_amount": "9.00",
            "subject": "未付",
            "buyer_id": user_wire_id(buyer),
        },
    )
    assert refused(settle_biz("x4", unpaid["trade_no"], part(alice, "1.00"))) == (
        "ACQ.TRADE_STATUS_ERROR"
    )
    twice = settle_biz("x5", trade_no, part(alice, "1.00"), part(alice, "2.00"))
    assert refused(twice) == "ACQ.INVALID_PARAMETER"
    assert refused(settle_biz("x6", trade_no)) == "ACQ.INVALID_PARAMETER"
    assert refused(settle_biz("x7", trade_no, part(alice, "0"))) == "ACQ.INVALID_PARAMETER"
    unknown_mode = settle_biz("x8", trade_no, part(alice, "1.00")) | {"royalty_mode": "later"}
    assert refused(unknown_mode) == "ACQ.INVALID_PARAMETER"
    percentage = {"trans_in": user_wire_id(alice.user_id), "amount_percentage": 10}
    assert refused(settle_biz("x9", trade_no, percentage)) == "ACQ.INVALID_PARAMETER"
    assert refused({"settle_no": "20260101002530000000000000000000"}, SETTLE_QUERY) == (
        "ACQ.TRADE_NOT_EXIST"
    )
    # Unbound again: no more settles to it.
    assert call(client, UNBIND, bind_biz(alice))["result_code"] == "SUCCESS"
    assert call(client, UNBIND, bind_biz(alice))["result_code"] == "SUCCESS"
    assert refused(settle_biz("x10", trade_no, part(alice, "1.00"))) == "ACQ.TRADE_SETTLE_ERROR"
    assert rows(platform) == counted
    assert count_rows(platform, "royalty_trades") <= 1
    reconcile_clean(platform)


def test_another_apps_trade_is_not_found(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    buyer = make_buyer(platform, "13900000021", balance_fen=100_00)
    alice = receiver(platform, "13900000022")
    trade_no = paid_trade(platform, client, buyer, "10.00")
    other = make_shop(platform, app_id="2021000000000888")
    biz = bind_biz(alice)
    assert call(client, BIND, biz, app_id=other.app.app_id)["code"] == "10000"
    answer = call(
        client, SETTLE, settle_biz("o1", trade_no, part(alice, "1.00")), app_id=other.app.app_id
    )
    assert answer["sub_code"] == "ACQ.TRADE_NOT_EXIST"


def test_refunds_after_settling_come_from_the_merchant(
    platform: Platform, client: TestClient
) -> None:
    shop = make_shop(platform)
    buyer = make_buyer(platform, "13900000031", balance_fen=1_000_00)
    alice = receiver(platform, "13900000032")
    assert call(client, BIND, bind_biz(alice))["code"] == "10000"
    first = paid_trade(platform, client, buyer, "100.00")
    paid_trade(platform, client, buyer, "200.00")  # other income on the merchant's account
    assert call(client, SETTLE, settle_biz("r1", first, part(alice, "30.00")))["code"] == "10000"

    refund = {"trade_no": first, "refund_amount": "50.00", "out_request_no": "rf1"}
    assert call(client, "alipay.trade.refund", refund)["fund_change"] == "Y"
    # The receiver keeps its share; the cap is now 30 % of 50.00, already used.
    assert wallet_balance(platform, alice.user_id) == 30_00
    assert call(client, ONSETTLE_QUERY, {"trade_no": first})["unsettled_amount"] == "0.00"
    more = call(client, SETTLE, settle_biz("r2", first, part(alice, "0.01")))
    assert more["sub_code"] == "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR"
    rest = {"trade_no": first, "refund_amount": "50.00", "out_request_no": "rf2"}
    assert call(client, "alipay.trade.refund", rest)["refund_fee"] == "100.00"
    closed = call(client, SETTLE, settle_biz("r3", first, part(alice, "0.01")))
    assert closed["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    assert balance_fen(platform, shop.merchant.settlement_account_id) >= 0
    reconcile_clean(platform)


def test_a_merchant_short_of_money_settles_nothing(platform: Platform, client: TestClient) -> None:
    shop = make_shop(platform)
    buyer = make_buyer(platform, "13900000041", balance_fen=1_000_00)
    alice = receiver(platform, "13900000042")
    assert call(client, BIND, bind_biz(alice))["code"] == "10000"
    trade_no = paid_trade(platform, client, buyer, "100.00")
    # The merchant pays most of its money out first (转账到支付宝账户).
    left_fen = balance_fen(platform, shop.merchant.settlement_account_id)
    payout = {
        "out_biz_no": "drain_1",
        "trans_amount": f"{(left_fen - 5_00) // 100}.{(left_fen - 5_00) % 100:02d}",
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "payee_info": {"identity": user_wire_id(buyer), "identity_type": "ALIPAY_USER_ID"},
    }
    assert call(client, "alipay.fund.trans.uni.transfer", payout)["code"] == "10000"
    counted = rows(platform)
    short = call(client, SETTLE, settle_biz("m1", trade_no, part(alice, "5.01")))
    assert short["sub_code"] == "ACQ.TRADE_SETTLE_ERROR"
    assert rows(platform) == counted and wallet_balance(platform, alice.user_id) == 0
    assert call(client, ONSETTLE_QUERY, {"trade_no": trade_no})["unsettled_amount"] == "30.00"
    assert call(client, SETTLE, settle_biz("m2", trade_no, part(alice, "5.00")))["code"] == (
        "10000"
    )
    reconcile_clean(platform)
