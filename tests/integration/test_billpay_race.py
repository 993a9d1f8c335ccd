"""Paying one bill twice at the same moment moves money once, on SQLite and PostgreSQL: the same
user submitting twice (two keys: two devices, two tabs), several people paying one household's
bill, one Idempotency-Key sent twice at once, and a balance that covers one payment only."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.integration.billpay_support import (
    WATER_ACCOUNT,
    assert_clean,
    billpay,
    make_billers,
    owed_fen,
    payer,
    settlement_fen,
)
from tests.integration.gateway_support import PAYMENT_PASSWORD, wallet_balance
from tests.support.races import race

from paybao.adapters.db.tables.billpay import billpay_payments, billpay_sandbox_payments
from paybao.bootstrap import Platform

WORKERS = 6


def count(platform: Platform, table: Any) -> int:
    with platform.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_one_user_paying_one_bill_twice_at_once_pays_it_once(platform: Platform) -> None:
    city = make_billers(platform)
    user_id = payer(platform)
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    results = race(
        WORKERS,
        lambda _: billpay(platform).pay_bill(
            user_id, city.water.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD
        ),
    )
    receipts = [r for r in results if not isinstance(r, str)]
    # Each call answers the one payment, or (asking the biller after it was paid) that the
    # bill owes nothing now; never a second payment.
    assert {r.payment.id for r in receipts} == {receipts[0].payment.id}, results
    assert all(r == "bill_nothing_due" for r in results if isinstance(r, str)), results
    assert count(platform, billpay_payments) == 1
    assert count(platform, billpay_sandbox_payments) == 1
    assert wallet_balance(platform, user_id) == 5_000_00 - owed
    assert settlement_fen(platform, city.water) == owed
    assert_clean(platform)


def test_a_household_paying_one_bill_at_once_pays_it_once(platform: Platform) -> None:
    city = make_billers(platform)
    family = [payer(platform, f"1380013860{i}") for i in range(WORKERS)]
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    results = race(
        WORKERS,
        lambda i: billpay(platform).pay_bill(
            family[i], city.water.id, WATER_ACCOUNT, owed, PAYMENT_PASSWORD
        ),
    )
    paid = [r for r in results if not isinstance(r, str)]
    assert len(paid) == 1, results
    refused = sorted(r for r in results if isinstance(r, str))
    assert set(refused) <= {"bill_already_paid", "bill_nothing_due"}, results
    who = paid[0].payment.user_id
    for user_id in family:
        expected = 5_000_00 - owed if user_id == who else 5_000_00
        assert wallet_balance(platform, user_id) == expected
    assert count(platform, billpay_sandbox_payments) == 1
    assert settlement_fen(platform, city.water) == owed
    assert_clean(platform)


def test_a_balance_for_one_top_up_pays_one_of_two_at_once(platform: Platform) -> None:
    make_billers(platform)
    user_id = payer(platform, balance_fen=100_00)
    results = race(
        WORKERS,
        lambda _: billpay(platform).top_up(user_id, "13800138000", 100_00, PAYMENT_PASSWORD),
    )
    paid = [r for r in results if not isinstance(r, str)]
    assert len(paid) == 1 and paid[0].payment.status == "paid", results
    assert sorted(r for r in results if isinstance(r, str)) == ["insufficient_funds"] * (
        WORKERS - 1
    )
    assert wallet_balance(platform, user_id) == 0
    assert_clean(platform)


def test_one_idempotency_key_sent_twice_at_once_tops_up_once(
    platform: Platform, client: TestClient
) -> None:
    make_billers(platform)
    user_id = payer(platform)
    token = platform.services["operators"].issue_token(user_id)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    body = {"phone": "13800138000", "amount_fen": 50_00, "payment_password": PAYMENT_PASSWORD}

    def send(_: int) -> tuple[int, Any]:
        response = client.post("/api/v1/billpay/topups", json=body, headers=headers)
        return response.status_code, response.json()

    results = race(4, send)
    answered = [answer for status, answer in results if status == 200]
    busy = [answer["error"]["code"] for status, answer in results if status == 409]
    assert answered and {a["id"] for a in answered} == {answered[0]["id"]}, results
    assert set(busy) <= {"idempotency_key_in_use"} and len(answered) + len(busy) == 4
    assert count(platform, billpay_payments) == 1
    assert wallet_balance(platform, user_id) == 5_000_00 - 50_00
    assert_clean(platform)
