"""Concurrent operations on one pre-authorisation through the whole gateway pipeline, on SQLite
and PostgreSQL: whatever races, no more than was frozen is ever paid or unfrozen.

* payments and unfreezes together asking for more than is left: exactly what fits succeeds;
* many unfreezes, many payments: the first ones that fit, the rest REQUEST_AMOUNT_EXCEED /
  ACQ.TOTAL_FEE_EXCEED, and the money adds up;
* the same unfreeze sent many times at once: one operation, every answer is it.
"""

from __future__ import annotations

import threading
import urllib.parse
from typing import Any

from fastapi.testclient import TestClient
from gateway_support import balance_fen, make_buyer, make_shop, parse_verified, signed_params
from preauth_support import UNFREEZE, freeze, money_of, query, reconcile_clean

from paybao.bootstrap import Platform
from paybao.domain.trades import fee_fen_for

PHONE = "13800138000"
Request = tuple[str, dict[str, Any]]


def race(platform: Platform, requests: list[Request]) -> list[dict[str, Any]]:
    """Send every (method, biz) at the same moment, each through the gateway on its own thread
    (and its own database connection); the answers in the order of `requests`."""
    gateway = platform.services["alipay_gateway"]
    barrier = threading.Barrier(len(requests))
    answers: list[dict[str, Any] | None] = [None] * len(requests)

    def one(index: int, method: str, biz: dict[str, Any]) -> None:
        query_bytes = urllib.parse.urlencode(signed_params(method, biz)).encode()
        barrier.wait()
        reply = gateway.handle(query_bytes, b"", None)
        answers[index] = parse_verified(reply.body, platform, method)

    threads = [
        threading.Thread(target=one, args=(index, method, biz))
        for index, (method, biz) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    done = [answer for answer in answers if answer is not None]
    assert len(done) == len(requests), "a request did not answer"
    return done


def pay_request(
    auth_no: str, out_trade_no: str, amount: str, mode: str = "NOT_COMPLETE"
) -> Request:
    biz = {
        "out_trade_no": out_trade_no,
        "product_code": "PRE_AUTH",
        "auth_no": auth_no,
        "total_amount": amount,
        "subject": "并发扣押金",
        "auth_confirm_mode": mode,
    }
    return "alipay.trade.pay", biz


def unfreeze_request(auth_no: str, out_request_no: str, amount: str) -> Request:
    return UNFREEZE, {"auth_no": auth_no, "out_request_no": out_request_no, "amount": amount}


def outcome(answer: dict[str, Any]) -> str:
    return str(answer.get("sub_code") or answer["code"])


def test_a_payment_and_an_unfreeze_never_take_more_than_is_frozen(
    platform: Platform, client: TestClient
) -> None:
    shop = make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=2_000_00)
    paid_fen = unfrozen_fen = 0
    for round_no in range(6):
        auth_no = freeze(client, user_id, f"race-{round_no}", "100.00")["auth_no"]
        mode = "COMPLETE" if round_no % 2 else "NOT_COMPLETE"
        pay_answer, unfreeze_answer = race(
            platform,
            [
                pay_request(auth_no, f"take-{round_no}", "70.00", mode),
                unfreeze_request(auth_no, f"back-{round_no}", "60.00"),
            ],
        )
        outcomes = sorted([outcome(pay_answer), outcome(unfreeze_answer)])
        assert outcomes in (
            ["10000", "REQUEST_AMOUNT_EXCEED"],
            ["10000", "ACQ.TOTAL_FEE_EXCEED"],
            ["10000", "ORDER_ALREADY_FINISH"],  # COMPLETE first: nothing left to unfreeze
        ), outcomes
        order = query(client, auth_no=auth_no)
        paid = 70_00 if outcome(pay_answer) == "10000" else 0
        assert order["total_pay_amount"] == f"{paid // 100}.00"
        rest = int(order["rest_amount"].replace(".", ""))
        assert paid + rest <= 100_00
        paid_fen += paid
        unfrozen_fen += 100_00 - paid - rest
    balance, held = money_of(platform, user_id)
    assert balance == 2_000_00 - paid_fen
    assert held + paid_fen + unfrozen_fen == 6 * 100_00
    fee_fen = fee_fen_for(70_00, shop.merchant.fee_rate_ppm) * (paid_fen // 70_00)
    assert balance_fen(platform, shop.merchant.settlement_account_id) == paid_fen - fee_fen
    reconcile_clean(platform)


def test_many_unfreezes_and_payments_at_once_stop_at_what_is_frozen(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=1_000_00)
    unfreezes = freeze(client, user_id, "many-u", "100.00")["auth_no"]
    answers = race(platform, [unfreeze_request(unfreezes, f"u{n}", "30.00") for n in range(6)])
    assert sorted(outcome(a) for a in answers) == ["10000"] * 3 + ["REQUEST_AMOUNT_EXCEED"] * 3
    assert query(client, auth_no=unfreezes)["rest_amount"] == "10.00"

    payments = freeze(client, user_id, "many-p", "100.00")["auth_no"]
    answers = race(platform, [pay_request(payments, f"p{n}", "40.00") for n in range(5)])
    assert sorted(outcome(a) for a in answers) == ["10000"] * 2 + ["ACQ.TOTAL_FEE_EXCEED"] * 3
    assert query(client, auth_no=payments)["rest_amount"] == "20.00"
    assert money_of(platform, user_id) == (1_000_00 - 80_00, 10_00 + 20_00)
    reconcile_clean(platform)


def test_the_same_unfreeze_at_once_unfreezes_once(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=300_00)
    auth_no = freeze(client, user_id, "twice", "100.00")["auth_no"]
    answers = race(platform, [unfreeze_request(auth_no, "once", "40.00")] * 6)
    assert [outcome(a) for a in answers] == ["10000"] * 6
    assert len({answer["operation_id"] for answer in answers}) == 1
    assert money_of(platform, user_id) == (300_00, 60_00)
    reconcile_clean(platform)
