"""Top-up channels under concurrent attack (SQLite, or PostgreSQL by URL): one cash code
redeemed at several counters at once (exactly one counter is told it credited the user, once),
one partner request number retried at once (one redemption, every retry answered it), one
prefund drawn by many codes at once (never below zero), and the bank's notice, the browser's
return and the query job arriving together (one credit, no error on any path)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from tests.integration.topup_channel_support import (
    Notices,
    balance,
    bound_card_number,
    funded_user,
    partner,
    pay_at_bank,
    signed_in,
)
from tests.reliability.test_double_spend import storm

from paybao.bootstrap import Platform
from paybao.services.bank_pay_topups import JOB_QUERY
from paybao.services.jobs import Job

COUNTERS = 6


def test_one_code_at_several_counters_at_once_credits_once(platform: Platform) -> None:
    person = funded_user(platform, "13900139501", "王五")
    counter = partner(platform)
    cash = platform.services["cash_topups"]
    code = cash.create(person.user_id, 500_00)
    attempts = [
        (lambda n=n: cash.redeem(counter.partner, code.code, 500_00, f"counter-{n}"))
        for n in range(COUNTERS)
    ]
    outcomes = storm(attempts)
    assert outcomes == Counter(ok=1, cash_code_used=COUNTERS - 1), outcomes
    assert balance(platform, person.user_id) == 500_00
    assert platform.services["cash_partners"].balance(counter.partner.id).prefund_fen == 9_500_00
    assert platform.reconcile.run().differences == []


def test_one_request_number_retried_at_once_is_one_redemption(platform: Platform) -> None:
    person = funded_user(platform, "13900139511", "王五")
    counter = partner(platform)
    cash = platform.services["cash_topups"]
    code = cash.create(person.user_id, 100_00)
    answers: list[Any] = []

    def redeem() -> None:
        answers.append(cash.redeem(counter.partner, code.code, 100_00, "same-request"))

    outcomes = storm([redeem] * COUNTERS)
    assert outcomes == Counter(ok=COUNTERS), outcomes
    assert len({(a.request_no, a.code_id, a.redeemed_at_us) for a in answers}) == 1
    assert balance(platform, person.user_id) == 100_00


def test_many_codes_at_once_never_overdraw_the_prefund(platform: Platform) -> None:
    counter = partner(platform, prefund_fen=300_00)
    cash = platform.services["cash_topups"]
    codes = []
    for n in range(COUNTERS):
        person = funded_user(platform, f"1390013952{n}", "王五")
        codes.append(cash.create(person.user_id, 100_00))
    attempts = [
        (lambda c=c: cash.redeem(counter.partner, c.code, 100_00, f"r-{c.id}")) for c in codes
    ]
    outcomes = storm(attempts)
    assert outcomes == Counter(ok=3, cash_prefund_insufficient=COUNTERS - 3), outcomes
    assert platform.services["cash_partners"].balance(counter.partner.id).prefund_fen == 0
    assert platform.reconcile.run().differences == []


def test_notice_return_and_query_together_credit_once(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, "13900139531", "王五")
    notices = Notices(platform, client)
    bank = platform.services["bank_pay"]
    service = platform.services["bank_pay_topups"]
    topup, url = service.start(person.user_id, "ICBC", 70_00)
    bank.script.append("drop_notice")
    pay_at_bank(signed_in(client, "13900139531"), url, bound_card_number(platform, person))
    order_no = f"bankpay:{topup.id}"
    job = Job(0, JOB_QUERY, str(topup.id), {}, 0, 0)
    attempts = [
        (lambda n=n: service.on_notice(bank.notice_form(order_no, notify_id=f"n{n}")))
        for n in range(2)
    ]
    attempts += [lambda: service.check(person.user_id, topup.id)] * 2
    attempts += [lambda: service._on_query(job)] * 2
    outcomes = storm(attempts)
    assert outcomes == Counter(ok=6), outcomes
    assert notices.sent == []
    assert balance(platform, person.user_id) == 70_00
    assert service.topup(person.user_id, topup.id).status == "succeeded"
    assert platform.reconcile.run().differences == []
