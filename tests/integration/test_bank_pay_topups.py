"""Online-banking top-ups on the test database (SQLite, or PostgreSQL by URL): the round trip
through the pages and the sandbox bank's page, the signed notice (forged, stale, replayed,
wrong amount), the return that asks the bank, the query job, expiry that closes the order at
the bank first, the class room, and the reconcile checks (journals, the bank's daily file and
the three-way bank reconciliation)."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration.card_payout_support import card_balance, code_of
from tests.integration.topup_channel_support import (
    Notices,
    balance,
    bound_card_number,
    funded_user,
    kinds,
    pay_at_bank,
    set_class,
    signed_in,
)

from paybao.adapters.db.tables.ledger import ledger_transfers
from paybao.bootstrap import Platform
from paybao.domain.account_class import china_date
from paybao.services.clock import datetime_from_us

PHONE = "13900139301"


def today(platform: Platform) -> date:
    return china_date(datetime_from_us(platform.clock.now_us()))


def test_round_trip_paybao_to_the_bank_and_back_credits_once(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, PHONE, "王五")
    card = bound_card_number(platform, person)
    notices = Notices(platform, client)
    browser = signed_in(client, PHONE)
    topup_page = browser.get("/wallet/topup")
    assert "/wallet/topup/bank-pay" in topup_page.text and "/wallet/topup/cash" in topup_page.text
    form = browser.get("/wallet/topup/bank-pay")
    assert form.status_code == 200 and 'name="bank_code"' in form.text
    started = browser.post(
        "/wallet/topup/bank-pay",
        data={
            "csrf_token": _csrf(form.text),
            "idem": "k1",
            "bank_code": "ICBC",
            "amount": "250.00",
        },
        follow_redirects=False,
    )
    assert started.status_code == 303
    bank_url = started.headers["location"]
    assert "/sandbox-bank/netbank?" in bank_url and "sign=" in bank_url
    # The bank's page is the bank's: its name, the amount, no paybao wallet frame.
    page = browser.get(bank_url.replace("http://testserver", ""))
    assert "中国工商银行" in page.text and "¥250.00" in page.text and "wallet.css" not in page.text
    card_before = card_balance(platform, card)
    back = pay_at_bank(browser, bank_url, card)
    assert back.status_code == 303
    assert back.headers["location"].startswith("http://testserver/wallet/topup/bank-pay/1/return")
    # The notice came first, server to server, and was taken.
    assert notices.answers == [(200, "success")]
    assert balance(platform, person.user_id) == 250_00
    status = browser.get(back.headers["location"].replace("http://testserver", ""))
    assert status.status_code == 200 and 'data-status="succeeded"' in status.text
    topup = platform.services["bank_pay_topups"].topup(person.user_id, 1)
    assert (topup.status, topup.confirmed_by) == ("succeeded", "notice")
    assert card_balance(platform, card) == card_before - 250_00
    assert kinds(platform, person.user_id) == ["bank_pay_topup"]
    # A double submit of the same form made one top-up, and the money moved once.
    again = browser.post(
        "/wallet/topup/bank-pay",
        data={
            "csrf_token": _csrf(form.text),
            "idem": "k1",
            "bank_code": "ICBC",
            "amount": "250.00",
        },
        follow_redirects=False,
    )
    assert again.status_code == 409  # no longer payable: it was paid
    assert len(platform.services["bank_pay_topups"].topups(person.user_id)) == 1
    report = platform.reconcile.run(today(platform))
    assert report.clean, [d.line() for d in report.differences]
    assert "bank_pay.bank_file" in report.checks_run


def test_the_return_asks_the_bank_and_a_late_notice_changes_nothing(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, PHONE, "王五")
    notices = Notices(platform, client)
    bank = platform.services["bank_pay"]
    service = platform.services["bank_pay_topups"]
    topup, url = service.start(person.user_id, "ICBC", 80_00)
    browser = signed_in(client, PHONE)
    bank.script.append("drop_notice")  # the notice is lost on the way
    back = pay_at_bank(browser, url, bound_card_number(platform, person))
    assert notices.sent == [] and balance(platform, person.user_id) == 0
    # The browser's return: paybao asks the bank itself, which says paid.
    browser.get(back.headers["location"].replace("http://testserver", ""))
    assert service.topup(person.user_id, topup.id).confirmed_by == "return"
    assert balance(platform, person.user_id) == 80_00
    # The bank's notice arrives late: taken, nothing more credited; its replay is refused.
    late = bank.notice_form(f"bankpay:{topup.id}")
    assert notices.post(late).text == "success"
    replay = notices.post(late)
    assert (replay.status_code, replay.text) == (409, "fail bank_pay_notice_replayed")
    platform.sandbox_clock.advance(600)  # the query job finds it done
    assert balance(platform, person.user_id) == 80_00
    assert _transfers(platform, topup.id) == 1


def test_forged_stale_and_wrong_amount_notices_are_refused(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, PHONE, "王五")
    notices = Notices(platform, client)
    bank = platform.services["bank_pay"]
    topup, url = platform.services["bank_pay_topups"].start(person.user_id, "ICBC", 50_00)
    bank.script.append("drop_notice")
    pay_at_bank(signed_in(client, PHONE), url, bound_card_number(platform, person))
    good = bank.notice_form(f"bankpay:{topup.id}")
    forged = {**good, "amount_fen": "5000000"}  # the amount changed after signing
    assert (notices.post(forged).status_code, notices.post(forged).text) == (
        400,
        "fail bank_pay_notice_forged",
    )
    unsigned = {k: v for k, v in good.items() if k != "sign"}
    assert notices.post(unsigned).text == "fail bank_pay_notice_forged"
    other_key = dict(good, sign="0" * 64)
    assert notices.post(other_key).text == "fail bank_pay_notice_forged"
    assert balance(platform, person.user_id) == 0
    platform.sandbox_clock.advance(3600)  # an hour later (the query job credited it)
    assert notices.post(bank.notice_form(f"bankpay:{topup.id}")).status_code == 200  # fresh one
    assert notices.post(good).text == "fail bank_pay_notice_stale"
    assert balance(platform, person.user_id) == 50_00


def test_the_query_job_credits_when_nobody_came_back(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, PHONE, "王五")
    Notices(platform, client)
    bank = platform.services["bank_pay"]
    service = platform.services["bank_pay_topups"]
    topup, url = service.start(person.user_id, "CCB", 30_00)
    card = _card_at(platform, "CCB", "13900139399")
    bank.script.append("drop_notice")
    pay_at_bank(signed_in(client, PHONE), url, card)  # the browser never comes back
    assert balance(platform, person.user_id) == 0
    bank.script.append("timeout")  # the first query times out: asked again later
    platform.sandbox_clock.advance(130)
    assert service.topup(person.user_id, topup.id).status == "pending"
    platform.sandbox_clock.advance(300)
    done = service.topup(person.user_id, topup.id)
    assert (done.status, done.confirmed_by) == ("succeeded", "query")
    assert balance(platform, person.user_id) == 30_00


def test_an_unpaid_top_up_expires_after_the_bank_closed_the_order(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, PHONE, "王五")
    Notices(platform, client)
    service = platform.services["bank_pay_topups"]
    topup, url = service.start(person.user_id, "ICBC", 40_00)
    browser = signed_in(client, PHONE)
    assert browser.get(url.replace("http://testserver", "")).status_code == 200  # opened
    platform.sandbox_clock.advance(29 * 60)
    assert service.topup(person.user_id, topup.id).status == "pending"
    platform.sandbox_clock.advance(2 * 60)
    assert service.topup(person.user_id, topup.id).status == "expired"
    # The bank closed it first: it can no longer be paid there.
    late = pay_at_bank(browser, url, bound_card_number(platform, person))
    assert late.status_code == 409 and "bank_order_not_payable" in late.text
    assert balance(platform, person.user_id) == 0
    assert code_of(lambda: service.payment_url(person.user_id, topup.id)) == "bank_pay_not_pending"


def test_a_class_i_account_cannot_take_more_than_it_may_spend(platform: Platform) -> None:
    person = funded_user(platform, PHONE, "王五", 900_00)
    set_class(platform, person.user_id, "I")  # 1,000 CNY since opening; 900 already held
    service = platform.services["bank_pay_topups"]
    assert code_of(lambda: service.start(person.user_id, "ICBC", 200_00)) == (
        "topup_over_class_room"
    )
    topup, _ = service.start(person.user_id, "ICBC", 100_00)
    assert topup.status == "pending"
    assert code_of(lambda: service.start(person.user_id, "XXBANK", 10_00)) == (
        "bank_pay_bank_unknown"
    )
    assert code_of(lambda: service.start(person.user_id, "ICBC", 0)) == (
        "topup_channel_amount_invalid"
    )


@pytest.mark.parametrize("first", ["notice", "return", "query"])
def test_each_path_alone_credits_and_the_others_then_do_nothing(
    platform: Platform, client: TestClient, first: str
) -> None:
    person = funded_user(platform, PHONE, "王五")
    notices = Notices(platform, client)
    bank = platform.services["bank_pay"]
    service = platform.services["bank_pay_topups"]
    topup, url = service.start(person.user_id, "ICBC", 60_00)
    bank.script.append("drop_notice")
    pay_at_bank(signed_in(client, PHONE), url, bound_card_number(platform, person))
    paths = {
        "notice": lambda: notices.post(bank.notice_form(f"bankpay:{topup.id}", notify_id=first)),
        "return": lambda: service.check(person.user_id, topup.id),
        "query": lambda: platform.sandbox_clock.advance(200),
    }
    paths[first]()
    for name, path in paths.items():
        if name != first:
            path()
    assert service.topup(person.user_id, topup.id).confirmed_by == first
    assert balance(platform, person.user_id) == 60_00
    assert _transfers(platform, topup.id) == 1


def _csrf(html: str) -> str:
    from tests.integration.admin_support import csrf_of

    return csrf_of(html)


def _transfers(platform: Platform, topup_id: int) -> int:
    with platform.engine.connect() as connection:
        rows = connection.execute(
            select(ledger_transfers.c.id).where(ledger_transfers.c.id == f"bankpay:{topup_id}")
        ).all()
    return len(rows)


def _card_at(platform: Platform, bank_code: str, seed: str) -> str:
    import random

    from paybao.domain.cards import generate_card_number

    number = generate_card_number(random.Random(seed), bank_code)
    platform.services["bank"].open_card(number, bank_code, "王五", "", "")
    return number
