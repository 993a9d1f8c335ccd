"""Pre-authorisation through the gateway on the real database: freeze by payment code, pay from
the freeze (NOT_COMPLETE keeps the rest frozen, COMPLETE unfreezes it), unfreeze, the detail
query every documented way, cancel, refusals with Alipay's codes, replays, the merchant's
fund_auth_* and trade_status_sync notifications, refunds of a trade paid from a freeze, and
the books (the user's held money, the merchant's settlement, reconcile)."""

from __future__ import annotations

from typing import Any

from agreement_support import receiver
from fastapi.testclient import TestClient
from gateway_support import (
    balance_fen,
    call,
    make_buyer,
    make_shop,
    other_keys,
)
from preauth_support import (
    CANCEL,
    app_freeze_path,
    app_order,
    freeze,
    money_of,
    pay,
    query,
    reconcile_clean,
    unfreeze,
)

from paybao.adapters.alipay.wire import verify_notification
from paybao.bootstrap import Platform
from paybao.services.merchants import NewMerchant

PHONE = "13800138000"


def public_pem(platform: Platform) -> str:
    return str(platform.services["platform_key"].public_pem)


def notified(platform: Platform, endpoint: Any, notify_type: str) -> list[dict[str, str]]:
    platform.jobs.run_due()
    forms = [form for form in endpoint.forms if form.get("notify_type") == notify_type]
    for form in forms:
        assert verify_notification(form, public_pem(platform)), form
    return forms


def codes(answer: dict[str, Any]) -> tuple[str, str]:
    return answer["code"], answer.get("sub_code", "")


def test_freeze_pay_unfreeze_complete_with_notifications(
    platform: Platform, client: TestClient
) -> None:
    with receiver() as endpoint:
        shop = make_shop(platform, notify_url=endpoint.url)
        user_id = make_buyer(platform, PHONE, balance_fen=1_000_00)

        frozen = freeze(client, user_id, "room-801", "300.00")
        assert codes(frozen) == ("10000", "")
        auth_no = frozen["auth_no"]
        assert len(auth_no) == 28 and auth_no.isdigit()
        assert len(frozen["operation_id"]) == 20
        assert (frozen["status"], frozen["amount"], frozen["out_request_no"]) == (
            "SUCCESS",
            "300.00",
            "room-801-f",
        )
        assert frozen["payer_user_id"] == f"2088{user_id:012d}"
        assert frozen["payer_logon_id"] == "138****8000"
        assert money_of(platform, user_id) == (1_000_00, 300_00)
        (hold,) = platform.services["wallet"].holds(user_id)
        assert (hold.kind, hold.amount_fen, hold.reference) == ("preauth", 300_00, auth_no)

        # The same order again (the till retries with a code that no longer works): the
        # first answer, nothing spent; other parameters for the number are refused.
        again = freeze(client, user_id, "room-801", "300.00", code="280000000000000000")
        assert (again["auth_no"], again["operation_id"]) == (auth_no, frozen["operation_id"])
        changed = freeze(client, user_id, "room-801", "301.00")
        assert codes(changed) == ("40004", "PAYBAO.REQUEST_INCONSISTENT")
        assert money_of(platform, user_id) == (1_000_00, 300_00)

        paid = pay(client, auth_no, "bill-1", "120.00")  # NOT_COMPLETE by default
        assert codes(paid) == ("10000", "")
        assert paid["total_amount"] == "120.00"
        assert paid["buyer_user_id"] == f"2088{user_id:012d}"
        assert paid["fund_bill_list"] == [{"fund_channel": "ALIPAYACCOUNT", "amount": "120.00"}]
        assert money_of(platform, user_id) == (880_00, 180_00)
        settlement = balance_fen(platform, shop.merchant.settlement_account_id)
        assert settlement == 120_00 - 72  # the merchant's 0.6 % fee, as any trade
        replay = pay(client, auth_no, "bill-1", "120.00")
        assert replay["trade_no"] == paid["trade_no"]
        over = pay(client, auth_no, "bill-2", "180.01")
        assert codes(over) == ("40004", "ACQ.TOTAL_FEE_EXCEED")
        assert over["receipt_amount"] == "0.00"
        assert money_of(platform, user_id) == (880_00, 180_00)

        back = unfreeze(client, auth_no, "refund-1", "50.00")
        assert codes(back) == ("10000", "")
        assert (back["status"], back["amount"], back["out_request_no"]) == (
            "SUCCESS",
            "50.00",
            "refund-1",
        )
        assert money_of(platform, user_id) == (880_00, 130_00)
        assert (
            unfreeze(client, auth_no, "refund-1", "50.00")["operation_id"] == (back["operation_id"])
        )
        other = unfreeze(client, auth_no, "refund-1", "40.00")
        assert codes(other) == ("40004", "PAYBAO.REQUEST_INCONSISTENT")
        too_much = unfreeze(client, auth_no, "refund-2", "130.01")
        assert codes(too_much) == ("40004", "REQUEST_AMOUNT_EXCEED")

        last = pay(client, auth_no, "bill-3", "30.00", "COMPLETE")
        assert codes(last) == ("10000", "")
        assert money_of(platform, user_id) == (850_00, 0)
        assert platform.services["wallet"].holds(user_id) == []
        finished = unfreeze(client, auth_no, "refund-3", "1.00")
        assert codes(finished) == ("40004", "ORDER_ALREADY_FINISH")
        assert codes(pay(client, auth_no, "bill-4", "1.00")) == ("40004", "ACQ.AUTH_NO_ERROR")

        order = query(client, auth_no=auth_no)
        assert order["order_status"] == "FINISH"
        assert (order["total_freeze_amount"], order["total_pay_amount"], order["rest_amount"]) == (
            "300.00",
            "150.00",
            "0.00",
        )
        assert (order["operation_type"], order["operation_id"]) == (
            "FREEZE",
            frozen["operation_id"],
        )
        by_request = query(client, out_order_no="room-801", out_request_no="refund-1")
        assert (by_request["operation_type"], by_request["amount"]) == ("UNFREEZE", "50.00")
        assert by_request["remark"] == "退押金"
        by_id = query(client, auth_no=auth_no, operation_id=back["operation_id"])
        assert by_id["out_request_no"] == "refund-1"
        paid_op = query(client, auth_no=auth_no, out_request_no="bill-1", operation_type="PAY")
        assert (paid_op["operation_type"], paid_op["amount"]) == ("PAY", "120.00")
        missing = query(client, auth_no=auth_no, out_request_no="nope")
        assert codes(missing) == ("40004", "AUTH_OPERATION_NOT_EXIST")

        (frozen_form,) = notified(platform, endpoint, "fund_auth_freeze")
        assert frozen_form["auth_no"] == auth_no
        assert (frozen_form["operation_type"], frozen_form["status"]) == ("FREEZE", "SUCCESS")
        assert (frozen_form["amount"], frozen_form["rest_amount"]) == ("300.00", "300.00")
        assert frozen_form["total_freeze_amount"] == "300.00"
        assert frozen_form["payer_user_id"] == f"2088{user_id:012d}"
        unfrozen = notified(platform, endpoint, "fund_auth_unfreeze")
        # Delivered side by side: in no particular order.
        assert sorted((f["amount"], f["rest_amount"], f["total_pay_amount"]) for f in unfrozen) == [
            ("100.00", "0.00", "150.00"),  # COMPLETE: the rest came back with the last payment
            ("50.00", "130.00", "120.00"),
        ]
        trades = notified(platform, endpoint, "trade_status_sync")
        assert sorted(f["out_trade_no"] for f in trades) == ["bill-1", "bill-3"]
    reconcile_clean(platform)


def test_a_full_unfreeze_closes_and_a_paid_trade_refunds_to_the_balance(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=500_00)
    auth_no = freeze(client, user_id, "bike-1", "200.00")["auth_no"]
    assert codes(unfreeze(client, auth_no, "all", "200.00")) == ("10000", "")
    assert query(client, auth_no=auth_no)["order_status"] == "CLOSED"
    assert codes(unfreeze(client, auth_no, "again", "1.00")) == ("40004", "ORDER_ALREADY_CLOSED")
    assert money_of(platform, user_id) == (500_00, 0)

    second = freeze(client, user_id, "bike-2", "200.00")["auth_no"]
    paid = pay(client, second, "ride-1", "80.00")
    refunded = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "ride-1", "refund_amount": "80.00", "out_request_no": "r1"},
    )
    assert codes(refunded) == ("10000", "") and refunded["refund_fee"] == "80.00"
    assert refunded["trade_no"] == paid["trade_no"]
    assert money_of(platform, user_id) == (500_00, 120_00)  # the refund is back; 120 frozen
    statement = platform.services["wallet"].statement
    from paybao.services.wallet_statement import StatementQuery

    kinds = [entry.kind for entry in statement(user_id, StatementQuery(limit=5))]
    assert kinds[:2] == ["refund", "preauth_payment"]
    reconcile_clean(platform)


def test_refusals_name_the_problem_and_change_nothing(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=100_00)
    poor = freeze(client, user_id, "too-much", "100.01")
    assert codes(poor) == ("40004", "PAYER_BALANCE_NOT_ENOUGH")
    bad_code = freeze(client, user_id, "bad-code", "1.00", code="289999999999999999")
    assert codes(bad_code) == ("40004", "PAYMENT_AUTH_CODE_INVALID")
    for biz, why in (
        ({"product_code": "FAST_INSTANT_TRADE_PAY"}, "product_code"),
        ({"amount": "0.00"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"order_title": ""}, "order_title"),
        ({"timeout_express": "16d"}, "timeout_express"),
        ({"timeout_express": "1.5h"}, "timeout_express"),
        ({"trans_currency": "USD"}, "trans_currency"),
        ({"payee_user_id": "2088900000000099"}, "payee_user_id"),
        ({"auth_code_type": "wave_code"}, "auth_code_type"),
    ):
        refused = freeze(client, user_id, f"bad-{why}", "1.00", biz=biz)
        assert codes(refused) == ("40004", "ILLEGAL_ARGUMENT"), (why, refused)
    assert money_of(platform, user_id) == (100_00, 0)

    auth_no = freeze(client, user_id, "ok", "50.00")["auth_no"]
    unknown = unfreeze(client, "2026010120010000000000000000", "u1", "1.00")
    assert codes(unknown) == ("40004", "AUTH_ORDER_NOT_EXIST")
    no_product = pay(client, auth_no, "t1", "1.00", product_code="FACE_TO_FACE_PAYMENT")
    assert codes(no_product) == ("40004", "ACQ.INVALID_PARAMETER")
    not_payer = pay(client, auth_no, "t2", "1.00", buyer_id="2088000000009999")
    assert codes(not_payer) == ("40004", "ACQ.INVALID_PARAMETER")
    bad_mode = pay(client, auth_no, "t3", "1.00", "SOMETIMES")
    assert codes(bad_mode) == ("40004", "ACQ.INVALID_PARAMETER")
    wrong_no = pay(client, "2026010120010000000000000000", "t4", "1.00")
    assert codes(wrong_no) == ("40004", "ACQ.AUTH_NO_ERROR")
    payer = pay(client, auth_no, "t5", "1.00", buyer_id=f"2088{user_id:012d}")
    assert codes(payer) == ("10000", "")
    # The same out_trade_no with other parameters is the trade's own refusal.
    assert codes(pay(client, auth_no, "t5", "2.00")) == ("40004", "ACQ.CONTEXT_INCONSISTENT")
    assert money_of(platform, user_id) == (99_00, 49_00)

    # Another merchant neither sees nor uses this order.
    merchants = platform.services["merchants"]
    merchants.create(
        NewMerchant(name="别家", app_id="2021000000000888"), other_keys().public_pem_spki
    )
    theirs = {"app_id": "2021000000000888", "keys": other_keys()}
    body = {"auth_no": auth_no, "out_request_no": "steal", "amount": "1.00"}
    stolen = call(client, "alipay.fund.auth.order.unfreeze", body, **theirs)
    assert codes(stolen) == ("40004", "AUTH_ORDER_NOT_EXIST")
    looked = call(client, "alipay.fund.auth.operation.detail.query", {"auth_no": auth_no}, **theirs)
    assert codes(looked) == ("40004", "AUTH_ORDER_NOT_EXIST")
    trade = {
        "out_trade_no": "steal",
        "product_code": "PRE_AUTH",
        "auth_no": auth_no,
        "total_amount": "1.00",
        "subject": "x",
    }
    assert codes(call(client, "alipay.trade.pay", trade, **theirs)) == (
        "40004",
        "ACQ.AUTH_NO_ERROR",
    )
    assert money_of(platform, user_id) == (99_00, 49_00)

    # A payment-code trade without auth_no still goes to the till, as before.
    till = call(
        client,
        "alipay.trade.pay",
        {
            "out_trade_no": "till-1",
            "scene": "bar_code",
            "auth_code": platform.services["trades"].issue_auth_code(user_id),
            "total_amount": "10.00",
            "subject": "咖啡",
        },
    )
    assert codes(till) == ("10000", "") and money_of(platform, user_id) == (89_00, 49_00)
    reconcile_clean(platform)


def test_cancel_undoes_a_freeze_nothing_was_paid_from(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=500_00)
    frozen = freeze(client, user_id, "lost-answer", "100.00")
    by_numbers = {"out_order_no": "lost-answer", "out_request_no": "lost-answer-f"}
    cancelled = call(client, CANCEL, by_numbers)
    assert codes(cancelled) == ("10000", "")
    assert (cancelled["action"], cancelled["auth_no"], cancelled["operation_id"]) == (
        "unfreeze",
        frozen["auth_no"],
        frozen["operation_id"],
    )
    assert money_of(platform, user_id) == (500_00, 0)
    assert call(client, CANCEL, by_numbers)["action"] == "unfreeze"  # a retry: the same
    assert query(client, auth_no=frozen["auth_no"])["order_status"] == "CLOSED"

    # Never seen: closed for good, so a late freeze with the number does nothing.
    unseen = call(client, CANCEL, {"out_order_no": "late", "out_request_no": "late-f"})
    assert (unseen["code"], unseen["action"]) == ("10000", "close")
    late = freeze(client, user_id, "late", "10.00")
    assert codes(late) == ("40004", "ORDER_ALREADY_CLOSED")
    assert money_of(platform, user_id) == (500_00, 0)

    used = freeze(client, user_id, "used", "100.00")
    pay(client, used["auth_no"], "u-bill", "10.00")
    refused = call(
        client, CANCEL, {"auth_no": used["auth_no"], "operation_id": used["operation_id"]}
    )
    assert codes(refused) == ("40004", "PAYBAO.CANCEL_NOT_ALLOWED")
    wrong = call(
        client, CANCEL, {"auth_no": used["auth_no"], "operation_id": "20260101000000000000"}
    )
    assert codes(wrong) == ("40004", "AUTH_OPERATION_NOT_EXIST")
    nameless = call(client, CANCEL, {"auth_no": used["auth_no"]})
    assert codes(nameless) == ("40004", "ILLEGAL_ARGUMENT")

    app_freeze_path(client, app_order("app-1"))
    closed = call(client, CANCEL, {"out_order_no": "app-1", "out_request_no": "app-1-f"})
    assert closed["action"] == "close"
    assert query(client, out_order_no="app-1")["order_status"] == "CLOSED"
    assert money_of(platform, user_id) == (490_00, 90_00)
    reconcile_clean(platform)
