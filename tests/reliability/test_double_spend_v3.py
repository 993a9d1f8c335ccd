"""Double-spend storms on Alipay's v3 protocol, through the real ASGI app with real signatures:
many clients send the same pay (each with its own nonce, as a retrying client does), refunds
beyond a trade's total, and the same pay over /gateway.do and v3 at once. Exactly the allowed
money moves, checked in the ledger. Runs on SQLite and PostgreSQL (the fixtures decide)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from paybao.bootstrap import Platform
from tests.integration.gateway_support import (
    make_buyer,
    make_shop,
    parse_verified,
    signed_params,
    wallet_balance,
)
from tests.reliability.test_double_spend_more import storm
from tests.reliability.v3_hostile_support import check_v3_answer, signed_authorization

CLIENTS = 12
PAY = "/v3/alipay/trade/pay"
REFUND = "/v3/alipay/trade/refund"


def v3_post(client: TestClient, path: str, biz: dict[str, Any]) -> Any:
    """A signed v3 call, signed at the moment it is sent (a new nonce each time)."""
    body = json.dumps(biz, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Authorization": signed_authorization(path, body),
        "Content-Type": "application/json",
    }
    return client.post(path, content=body, headers=headers)


def v3_outcome(platform: Platform, response: Any) -> tuple[str, str]:
    """("ok", trade_no) or ("refused", code), after checking the answer's shape and signature."""
    answer = check_v3_answer(response, platform, routed=True)
    if answer.status == 200:
        return "ok", str(answer.body["trade_no"])
    return "refused", answer.code


def classic_outcome(platform: Platform, response: Any, method: str) -> tuple[str, str]:
    assert response.status_code == 200, response.text
    fields = parse_verified(response.content, platform, method)
    if fields["code"] == "10000":
        return "ok", str(fields["trade_no"])
    assert fields["sub_code"] not in ("isp.unknow-error", "ACQ.SYSTEM_ERROR"), fields
    return "refused", str(fields["sub_code"])


def journals(platform: Platform, pattern: str) -> int:
    with platform.db.read() as tx:
        return int(
            tx.execute(
                text("SELECT COUNT(*) FROM ledger_transfers WHERE id LIKE :p"), {"p": pattern}
            ).scalar_one()
        )


def trades_of(platform: Platform, out_trade_no: str) -> list[tuple[str, str]]:
    with platform.db.read() as tx:
        rows = tx.execute(
            text("SELECT trade_no, status FROM trades WHERE out_trade_no = :o"),
            {"o": out_trade_no},
        ).all()
    return [(str(r[0]), str(r[1])) for r in rows]


def pay_biz(out_trade_no: str, auth_code: str, amount: str) -> dict[str, Any]:
    return {
        "out_trade_no": out_trade_no,
        "scene": "bar_code",
        "auth_code": auth_code,
        "subject": "storm {测试}",
        "total_amount": amount,
    }


@pytest.fixture
def shop(platform: Platform) -> Any:
    return make_shop(platform, notify_url="http://127.0.0.1:9/notify")


def one_paid_trade(platform: Platform, out_trade_no: str, answers: list[tuple[str, str]]) -> None:
    """Every success names the one trade; the ledger holds its payment once."""
    trades = trades_of(platform, out_trade_no)
    assert len(trades) == 1, trades
    trade_no, status = trades[0]
    assert status == "TRADE_SUCCESS", status
    assert {value for verdict, value in answers if verdict == "ok"} == {trade_no}, answers
    assert journals(platform, f"trade:{trade_no}:pay") == 1


def test_one_v3_pay_sent_by_many_clients_at_once_moves_money_once(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, phone="13900000011", balance_fen=100_00)
    code = platform.services["trades"].issue_auth_code(buyer)
    biz = pay_biz("v3-storm-pay", code, "12.34")

    answers = storm(
        [lambda: v3_outcome(platform, v3_post(client, PAY, biz)) for _ in range(CLIENTS)]
    )

    # Every racer is answered with the one trade: one that finds the code spent by a pay of the
    # same order waits for it and replays its result (services/paycodes.py), as a till that
    # resends an unanswered pay must be told it paid, never that the code is invalid.
    assert Counter(verdict for verdict, _ in answers)["ok"] == CLIENTS, answers
    one_paid_trade(platform, "v3-storm-pay", answers)
    assert wallet_balance(platform, buyer) == 100_00 - 12_34
    assert platform.reconcile.run().clean


def test_v3_refunds_beyond_the_total_at_once_move_exactly_the_total(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, phone="13900000012", balance_fen=100_00)
    code = platform.services["trades"].issue_auth_code(buyer)
    paid = v3_post(client, PAY, pay_biz("v3-storm-refund", code, "100.00"))
    assert paid.status_code == 200, paid.text
    assert wallet_balance(platform, buyer) == 0

    def refund(number: int) -> Callable[[], Any]:
        biz = {
            "out_trade_no": "v3-storm-refund",
            "refund_amount": "30.00",
            "out_request_no": f"r-{number}",
        }
        return lambda: check_v3_answer(v3_post(client, REFUND, biz), platform, routed=True)

    answers = storm([refund(n) for n in range(CLIENTS)])

    outcomes = Counter("ok" if a.status == 200 else a.code for a in answers)
    assert outcomes["ok"] == 3, outcomes  # 3 x 30.00 fit in 100.00, the 4th does not
    assert wallet_balance(platform, buyer) == 90_00
    with platform.db.read() as tx:
        refunded = tx.execute(
            text("SELECT COALESCE(SUM(amount_fen), 0), COUNT(*) FROM trade_refunds")
        ).one()
    assert tuple(refunded) == (90_00, 3), refunded
    # The same refund request from every client at once: one refund, answered to every one.
    same = {"out_trade_no": "v3-storm-refund", "refund_amount": "10.00", "out_request_no": "same"}
    again = storm(
        [
            lambda: check_v3_answer(v3_post(client, REFUND, same), platform, routed=True)
            for _ in range(CLIENTS)
        ]
    )
    assert [a.status for a in again] == [200] * CLIENTS, [a.body for a in again]
    assert wallet_balance(platform, buyer) == 100_00
    assert platform.reconcile.run().clean


def test_the_same_pay_over_the_gateway_and_v3_at_once_moves_money_once(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, phone="13900000013", balance_fen=100_00)
    code = platform.services["trades"].issue_auth_code(buyer)
    biz = pay_biz("mixed-storm-pay", code, "45.60")
    method = "alipay.trade.pay"

    def classic() -> tuple[str, str]:
        response = client.post("/gateway.do", data=signed_params(method, biz))
        return classic_outcome(platform, response, method)

    def modern() -> tuple[str, str]:
        return v3_outcome(platform, v3_post(client, PAY, biz))

    answers = storm([classic, modern] * (CLIENTS // 2))

    assert Counter(verdict for verdict, _ in answers)["ok"] == CLIENTS, answers
    one_paid_trade(platform, "mixed-storm-pay", answers)
    assert wallet_balance(platform, buyer) == 100_00 - 45_60
    assert platform.reconcile.run().clean
