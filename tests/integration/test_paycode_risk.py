"""Risk control on password-free payment-code payments (domain/risk.py, CODE_PAY): an unusual
one waits for the buyer's password (10003) instead of completing, is recorded for operators,
and completes when the buyer confirms; nothing is refused at the till."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi.testclient import TestClient
from gateway_support import PAYMENT_PASSWORD, make_buyer, make_shop, wallet_balance
from test_paycode_gateway import bind, code_of, pay

from paybao.bootstrap import Platform


def decisions(platform: Platform) -> list[Any]:
    return platform.services["risk"].decisions(limit=10)


def test_an_amount_far_above_the_buyers_habit_waits_for_the_password(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    buyer = make_buyer(platform, balance_fen=2_000_00)
    bound = bind(platform, buyer)
    for n, amount in enumerate(("18.00", "25.50", "30.00")):
        assert pay(client, code_of(platform, bound), f"habit-{n}", amount)["code"] == "10000"
        platform.sandbox_clock.advance(61)  # a code is single use: the next step's code
    assert decisions(platform) == []

    unusual = pay(client, code_of(platform, bound), "unusual", "300.00")
    assert unusual["code"] == "10003"  # within the password-free limit, yet it waits
    assert wallet_balance(platform, buyer) == 2_000_00 - 73_50
    (recorded,) = decisions(platform)
    assert (recorded.action, recorded.decision, recorded.reasons) == (
        "code_pay",
        "challenge",
        ("amount_anomaly",),
    )
    assert recorded.reference == f"trade:{unusual['trade_no']}"

    paycodes = platform.services["paycodes"]
    ((waiting, _trade),) = paycodes.pending(buyer)
    paid = paycodes.confirm(buyer, waiting.id, PAYMENT_PASSWORD)
    assert paid.paid and wallet_balance(platform, buyer) == 2_000_00 - 373_50
    assert platform.reconcile.run().clean


def test_many_payments_in_an_hour_make_the_next_one_wait(
    platform: Platform, client: TestClient
) -> None:
    risk = platform.services["risk"]
    risk.rules = dataclasses.replace(risk.rules, code_pays_per_hour_max=3)
    make_shop(platform)
    buyer = make_buyer(platform, balance_fen=500_00)
    bound = bind(platform, buyer)
    answers = []
    for n in range(4):
        answers.append(pay(client, code_of(platform, bound), f"v-{n}", "5.00")["code"])
        platform.sandbox_clock.advance(61)  # a code is single use: the next step's code
    assert answers == ["10000", "10000", "10000", "10003"]
    assert [d.reasons for d in decisions(platform)] == [("velocity",)]
    platform.sandbox_clock.advance(3600)  # an hour later the count starts again
    assert pay(client, code_of(platform, bound), "v-later", "5.00")["code"] == "10000"
