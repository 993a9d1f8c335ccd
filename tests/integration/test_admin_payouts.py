"""The operators' payout page: money held by withdrawals and card payouts, each kind by status
with its bank-query job, the stuck ones marked; finance asks the bank again for a payout whose
query job gave up, and the bank's answer then settles it through the wallet's one write path."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration.admin_support import csrf_of
from tests.integration.card_payout_support import bound_card_number, funded_user
from tests.integration.risk_support import PIN
from tests.integration.test_card_payouts import pair
from tests.integration.test_operator_roles import audit_rows, signed_in_as

from paybao.adapters.banks.port import BankOutcome, BankResult
from paybao.adapters.db.tables.platform import jobs
from paybao.bootstrap import Platform
from paybao.domain.card_payouts import PayoutArrival
from paybao.domain.errors import DomainError
from paybao.domain.operator_roles import Role
from paybao.services.jobs import ATTEMPTS_MAX
from paybao.services.payout_watch import PayoutWatch
from paybao.services.wallet_operations import JOB_BANK_QUERY
from paybao.web import pages_admin_payouts


def watch(platform: Platform) -> PayoutWatch:
    service: PayoutWatch = platform.services["payout_watch"]
    return service


def sent_card_payout(platform: Platform) -> int:
    """A transfer to a card whose answer the bank lost: `sent`, its query job pending."""
    payer, _, card = pair(platform)
    platform.services["bank"].script.append("timeout")
    payout = platform.services["card_payouts"].transfer(payer.user_id, card, "赵六", 123_00, PIN)
    assert payout.status == "sent"
    return int(payout.id)


def query_job(platform: Platform, key: str) -> Any:
    with platform.db.read() as tx:
        return tx.execute(
            select(jobs).where(jobs.c.kind == JOB_BANK_QUERY, jobs.c.key == key)
        ).one()


def rows_of(html: str) -> list[tuple[int, str, str]]:
    found = re.findall(
        r'class="payout" data-payout-id="(\d+)" data-status="(\w+)" data-stuck="(\w+)"', html
    )
    return [(int(i), status, stuck) for i, status, stuck in found]


@pytest.fixture
def bank_silent(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bank cannot say how any request ended (its query link is down)."""
    bank = platform.services["wallet"].bank
    monkeypatch.setattr(bank, "query", lambda _id: BankResult(BankOutcome.UNKNOWN, None))


def test_held_and_sent_payouts_are_money_in_flight_and_listed_by_status(
    platform: Platform,
) -> None:
    sent_id = sent_card_payout(platform)
    payer = funded_user(platform, "13900139111", "钱八", 1_000_00)
    platform.services["wallet"].withdraw(payer.user_id, payer.card_id, 50_00, PIN)
    later = platform.services["card_payouts"].transfer(
        payer.user_id,
        bound_card_number(platform, payer),
        "钱八",
        7_00,
        PIN,
        arrival=PayoutArrival.NEXT_DAY,
    )
    assert later.status == "held"

    flight = {f.kind: f.by_status for f in watch(platform).in_flight()}
    # amount + fee of what is still held: the withdrawal went through at once (instant)
    assert flight["cardpayout"]["sent"][0] == 1 and flight["cardpayout"]["held"][0] == 1
    assert "sent" not in flight["withdraw"] and "held" not in flight["withdraw"]

    open_lines = watch(platform).page("cardpayout")
    assert [(line.payout_id, line.status) for line in open_lines] == [
        (later.id, "held"),
        (sent_id, "sent"),
    ]
    sent = open_lines[1]
    assert sent.card_masked.count("*") >= 8 and not sent.stuck
    assert sent.query is not None and (sent.query.status, sent.query.attempts) == ("pending", 0)
    assert [line.status for line in watch(platform).page("withdraw", "succeeded")] == ["succeeded"]
    with pytest.raises(DomainError) as bad:
        watch(platform).page("cardpayout", "bogus")
    assert bad.value.code == "payout_status_invalid"
    with pytest.raises(DomainError) as bad_kind:
        watch(platform).page("lottery")
    assert bad_kind.value.code == "payout_kind_invalid"


def test_a_payout_whose_query_gave_up_is_stuck_until_finance_asks_the_bank_again(
    platform: Platform, client: TestClient, bank_silent: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    payout_id = sent_card_payout(platform)
    key = f"cardpayout:{payout_id}"
    platform.sandbox_clock.advance(3 * 86_400)  # every retry, with backoff, hears "unknown"
    dead = query_job(platform, key)
    assert (dead.status, dead.attempts) == ("dead", ATTEMPTS_MAX)
    (line,) = watch(platform).page("cardpayout", "sent")
    assert line.stuck and line.query is not None and line.query.status == "dead"
    assert platform.services["card_payouts"].payout(line.user_id, payout_id).status == "sent"

    finance, _ = signed_in_as(platform, client, Role.FINANCE)
    page = finance.get("/admin/payouts?kind=cardpayout&status=sent")
    assert rows_of(page.text) == [(payout_id, "sent", "yes")]
    assert 'class="ask-bank"' in page.text

    monkeypatch.undo()  # the bank's query link is back
    asked = finance.post(
        f"/admin/payouts/cardpayout/{payout_id}/query",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert asked.status_code == 303
    rearmed = query_job(platform, key)
    assert (rearmed.status, rearmed.attempts) == ("pending", 0)
    assert audit_rows(platform)[-1].action == "payout.query"
    platform.sandbox_clock.advance(1)
    settled = platform.services["card_payouts"].payout(line.user_id, payout_id)
    assert settled.status == "succeeded"  # the bank had acted; only its answer was lost
    assert platform.reconcile.run().differences == []

    # Nothing to ask about any more: a clear error, nothing changed.
    again = finance.post(
        f"/admin/payouts/cardpayout/{payout_id}/query",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert again.status_code == 409 and "payout_not_sent" in again.text


def test_a_viewer_sees_the_page_without_the_button(platform: Platform, client: TestClient) -> None:
    payout_id = sent_card_payout(platform)
    viewer, _ = signed_in_as(platform, client, Role.VIEWER)
    page = viewer.get("/admin/payouts?kind=cardpayout")
    assert rows_of(page.text) == [(payout_id, "sent", "no")]
    assert 'class="ask-bank"' not in page.text
    assert 'href="/admin/payouts"' in viewer.get("/admin/users").text  # in the console's menu


def test_the_console_pages_on_and_a_full_last_page_is_the_last(
    platform: Platform, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    payer, _, card = pair(platform)
    sent = []
    for _ in range(2):  # the bank loses both answers: both stay sent
        platform.services["bank"].script.append("timeout")
        payout = platform.services["card_payouts"].transfer(payer.user_id, card, "赵六", 1_00, PIN)
        sent.append(int(payout.id))
    first, second = sent
    viewer, _ = signed_in_as(platform, client, Role.VIEWER)
    path = "/admin/payouts?kind=cardpayout"

    monkeypatch.setattr(pages_admin_payouts, "PAGE_SIZE", 2)
    whole = viewer.get(path).text
    assert [r[0] for r in rows_of(whole)] == [second, first] and 'id="older"' not in whole
    monkeypatch.setattr(pages_admin_payouts, "PAGE_SIZE", 1)
    page = viewer.get(path).text
    assert [r[0] for r in rows_of(page)] == [second]
    assert f'before={second}" id="older"' in page
    rest = viewer.get(f"{path}&status=open&before={second}").text
    assert [r[0] for r in rows_of(rest)] == [first] and 'id="older"' not in rest
