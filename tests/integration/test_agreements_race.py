"""Concurrent deductions through the whole gateway pipeline, on SQLite and PostgreSQL: where money
could be taken twice, it is taken once.

* many deductions (different orders) on one cycle agreement in one period: exactly one succeeds;
* the same order sent many times at once: one payment, every answer is it;
* deductions under two agreements of one user racing past the day cap: exactly the cap is taken.
"""

from __future__ import annotations

import threading
import urllib.parse
from typing import Any

from agreement_support import GENERAL, deduct, row_count, signed_agreement
from fastapi.testclient import TestClient
from gateway_support import make_buyer, make_shop, parse_verified, signed_params, wallet_balance

from paybao.bootstrap import Platform
from paybao.domain.account_class import china_date

PHONE = "13800138000"


def race(platform: Platform, orders: list[tuple[str, str, str, str]]) -> list[dict[str, Any]]:
    """Send every (agreement_no, out_trade_no, amount, product_code) at the same moment, each
    through the gateway on its own thread (and its own database connection)."""
    gateway = platform.services["alipay_gateway"]
    barrier = threading.Barrier(len(orders))
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def one(agreement_no: str, out_trade_no: str, amount: str, product_code: str) -> None:
        biz = {
            "out_trade_no": out_trade_no,
            "product_code": product_code,
            "total_amount": amount,
            "subject": "并发扣款",
            "agreement_params": {"agreement_no": agreement_no},
        }
        query = urllib.parse.urlencode(signed_params("alipay.trade.pay", biz)).encode()
        barrier.wait()
        reply = gateway.handle(query, b"", None)
        answer = parse_verified(reply.body, platform, "alipay.trade.pay")
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=one, args=order) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == len(orders), "a deduction did not answer"
    return answers


def codes(answers: list[dict[str, Any]]) -> list[str]:
    return sorted(answer.get("sub_code", answer["code"]) for answer in answers)


def test_one_deduction_per_period_when_many_race(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=500_00)
    today = china_date(platform.clock.now())
    rule = {
        "period_type": "DAY",
        "period": 7,
        "execute_time": today.isoformat(),
        "single_amount": "20.00",
    }
    biz = {
        "personal_product_code": "CYCLE_PAY_AUTH_P",
        "sign_scene": "INDUSTRY|MEMBERSHIP",
        "period_rule_params": rule,
    }
    number = signed_agreement(client, PHONE, biz)

    orders = [(number, f"week-{n}", "20.00", "CYCLE_PAY_AUTH") for n in range(8)]
    answers = race(platform, orders)

    assert codes(answers) == ["10000"] + ["ACQ.CYCLE_PAY_DATE_NOT_MATCH"] * 7
    assert wallet_balance(platform, user_id) == 500_00 - 20_00
    assert row_count(platform, "SELECT COUNT(*) FROM agreement_deductions") == 1
    assert row_count(platform, "SELECT paid_count FROM agreements") == 1
    assert platform.reconcile.run().differences == []


def test_the_same_order_at_once_pays_once(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=100_00)
    number = signed_agreement(client, PHONE)

    answers = race(platform, [(number, "once", "33.00", "GENERAL_WITHHOLDING")] * 6)

    assert codes(answers) == ["10000"] * 6
    assert len({answer["trade_no"] for answer in answers}) == 1
    assert wallet_balance(platform, user_id) == 100_00 - 33_00
    assert row_count(platform, "SELECT COUNT(*) FROM trades") == 1
    assert platform.reconcile.run().differences == []


def test_two_agreements_racing_past_the_day_cap_take_exactly_the_cap(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=2_000_00)
    parking = signed_agreement(client, PHONE, {**GENERAL, "external_agreement_no": "car"})
    transit = signed_agreement(
        client, PHONE, {**GENERAL, "sign_scene": "INDUSTRY|TRANSIT", "external_agreement_no": "bus"}
    )
    orders = [
        (parking if n % 2 else transit, f"o-{n}", "100.00", "GENERAL_WITHHOLDING")
        for n in range(12)
    ]

    answers = race(platform, orders)

    assert codes(answers) == ["10000"] * 10 + ["ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR"] * 2
    assert wallet_balance(platform, user_id) == 2_000_00 - 1_000_00
    day = f"d:{china_date(platform.clock.now()).isoformat()}"
    used = row_count(platform, f"SELECT used_fen FROM withholding_usage WHERE period = '{day}'")
    assert used == 1_000_00
    assert deduct(client, parking, "late", "0.01")["sub_code"] == (
        "ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR"
    )
    assert platform.reconcile.run().differences == []
