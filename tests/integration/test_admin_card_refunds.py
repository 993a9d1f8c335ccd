"""The admin console lists the card refunds an operator must watch: refused by the bank (the
money stayed in the buyer's balance) and still waiting for the bank; not the settled ones.
Newest first, filtered by status, paged, linked from the console's navigation."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.integration.admin_support import create_operator, sign_in
from tests.integration.card_support import CardBuyer, card_buyer, card_paid
from tests.integration.gateway_support import APP_ID, make_shop

from paybao.bootstrap import Platform
from paybao.services.trades import TradeRef
from paybao.web import pages_admin_card_refunds


@pytest.fixture
def operator_client(platform: Platform, client: TestClient) -> TestClient:
    _, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    client.headers["Accept-Language"] = "en"
    return client


@pytest.fixture
def buyer(platform: Platform) -> CardBuyer:
    make_shop(platform, notify_url="http://127.0.0.1:9/notify")
    return card_buyer(platform)


def refund_ids(html: str) -> list[tuple[int, str]]:
    """(refund id, status) of the listed rows, in page order."""
    rows = re.findall(r'class="card-refund" data-refund-id="(\d+)" data-status="(\w+)"', html)
    return [(int(refund_id), status) for refund_id, status in rows]


def make_refunds(platform: Platform, buyer: CardBuyer) -> dict[str, int]:
    """One card refund of each outcome: credited to the card, refused, no answer yet."""
    trade = card_paid(platform, buyer, total_fen=20_00)
    refunds, bank = platform.services["refunds"], platform.services["bank"]
    ids = {}
    for request_no, fault, amount_fen in (
        ("ok", None, 1_00),
        ("refused", "fail", 2_00),
        ("waiting", "timeout", 3_00),
    ):
        if fault:
            bank.script.append(fault)
        result = refunds.refund(APP_ID, TradeRef(trade_no=trade.trade_no), request_no, amount_fen)
        ids[request_no] = result.refund.id
    return ids


def test_refused_and_waiting_card_refunds_are_listed_newest_first(
    platform: Platform, operator_client: TestClient, buyer: CardBuyer
) -> None:
    ids = make_refunds(platform, buyer)
    home = operator_client.get("/admin")
    assert 'href="/admin/card-refunds"' in home.text  # in the navigation
    page = operator_client.get("/admin/card-refunds")
    assert page.status_code == 200
    assert refund_ids(page.text) == [(ids["waiting"], "processing"), (ids["refused"], "failed")]
    html = page.text
    assert "bank_declined" in html and "Refused by the bank" in html
    assert "Waiting for the bank" in html
    assert f"*{buyer[2][-4:]}" in html  # the card, masked to its last four digits
    assert buyer[2] not in html
    assert f'href="/admin/users/{buyer[0]}"' in html
    assert "3.00" in html and "2.00" in html

    failed = operator_client.get("/admin/card-refunds?status=failed")
    assert refund_ids(failed.text) == [(ids["refused"], "failed")]
    waiting = operator_client.get("/admin/card-refunds?status=processing")
    assert refund_ids(waiting.text) == [(ids["waiting"], "processing")]

    # Once the bank answers, the waiting refund is settled and leaves the list.
    platform.sandbox_clock.advance(120)
    assert refund_ids(operator_client.get("/admin/card-refunds").text) == [
        (ids["refused"], "failed")
    ]


def test_the_list_is_paged(
    platform: Platform,
    operator_client: TestClient,
    buyer: CardBuyer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = make_refunds(platform, buyer)
    monkeypatch.setattr(pages_admin_card_refunds, "PAGE_SIZE", 1)
    first = operator_client.get("/admin/card-refunds")
    assert refund_ids(first.text) == [(ids["waiting"], "processing")]
    older = re.search(r'href="([^"]+)" id="older"', first.text)
    assert older, first.text
    second = operator_client.get(older.group(1).replace("&amp;", "&"))
    assert refund_ids(second.text) == [(ids["refused"], "failed")]
    assert 'id="older"' in second.text  # a full page: there may be more
    older = re.search(r'href="([^"]+)" id="older"', second.text)
    assert older
    last = operator_client.get(older.group(1).replace("&amp;", "&"))
    assert refund_ids(last.text) == [] and 'id="no-card-refunds"' in last.text


def test_an_empty_list_says_so_and_the_page_needs_an_operator(
    platform: Platform, client: TestClient
) -> None:
    answer = client.get("/admin/card-refunds", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/admin/login")
    _, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    page = client.get("/admin/card-refunds?status=bogus")
    assert page.status_code == 200 and 'id="no-card-refunds"' in page.text
