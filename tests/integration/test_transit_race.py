"""Concurrent uploads of the same rides through the whole gateway pipeline, on SQLite and
PostgreSQL: two operator servers settle one batch at the same moment -> one deduction per
ride; and with no money, the debt is counted once."""

from __future__ import annotations

import threading
import urllib.parse
from typing import Any

from agreement_support import row_count
from fastapi.testclient import TestClient
from gateway_support import make_buyer, parse_verified, signed_params, wallet_balance
from transit_support import SETTLE, make_metro, now_s, open_ride_code, ride

from paybao.bootstrap import Platform

PHONE = "13800138000"


def race(platform: Platform, biz: dict[str, Any], threads_n: int = 2) -> list[dict[str, Any]]:
    gateway = platform.services["alipay_gateway"]
    barrier = threading.Barrier(threads_n)
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def one() -> None:
        query = urllib.parse.urlencode(signed_params(SETTLE, biz)).encode()
        barrier.wait()
        reply = gateway.handle(query, b"", None)
        answer = parse_verified(reply.body, platform, SETTLE)
        with lock:
            answers.append(answer)

    workers = [threading.Thread(target=one) for _ in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len(answers) == threads_n, "an upload did not answer"
    return answers


def test_the_same_rides_uploaded_twice_at_once_deduct_once(
    platform: Platform, client: TestClient
) -> None:
    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=50_00)
    phone = open_ride_code(platform, user_id)
    start = now_s(platform) - 7200
    trade_list = [
        {"out_trade_no": f"R-{n}", "records": ride(client, phone, start + n * 700)}
        for n in range(5)
    ]

    answers = race(platform, {"trade_list": trade_list})

    for answer in answers:
        assert [r["result"] for r in answer["result_list"]] == ["SUCCESS"] * 5, answer
    first, second = (sorted(r["trade_no"] for r in a["result_list"]) for a in answers)
    assert first == second
    assert wallet_balance(platform, user_id) == 50_00 - 5 * 4_00
    assert row_count(platform, "SELECT COUNT(*) FROM trades") == 5
    assert row_count(platform, "SELECT COUNT(*) FROM agreement_deductions") == 5
    assert platform.reconcile.run().clean


def test_racing_uploads_without_money_count_the_debt_once(
    platform: Platform, client: TestClient
) -> None:
    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=0)
    phone = open_ride_code(platform, user_id)
    start = now_s(platform) - 7200
    trade_list = [
        {"out_trade_no": f"D-{n}", "records": ride(client, phone, start + n * 700)}
        for n in range(3)
    ]

    answers = race(platform, {"trade_list": trade_list})

    for answer in answers:
        assert [r["result"] for r in answer["result_list"]] == ["ARREARS"] * 3, answer
    account = platform.services["transit"].account(user_id, trade_list and make_app(platform))
    assert (account.owed_fen, account.owed_count, account.status.value) == (
        12_00,
        3,
        "SUSPENDED",
    )


def make_app(platform: Platform) -> str:
    [operator] = platform.services["transit"].operators()
    return operator.app_id
