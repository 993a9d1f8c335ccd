"""Portal bills and settlement pages, and the admin reconciliation page, on a real database.

One merchant never sees another's bills (404); forms need the CSRF token and the portal
password; payout failures show on the page; the admin page runs and lists reconciliations.
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.integration import admin_support
from tests.integration.admin_support import create_operator, csrf_of
from tests.integration.gateway_support import Shop, make_buyer, make_shop
from tests.integration.merchant_portal_support import (
    MERCHANT_PASSWORD,
    paid_trade,
    portal_shop,
    post_form,
    sign_in,
)

from paybao.bootstrap import Platform
from paybao.domain.bills import day_period, last_closed_day
from paybao.domain.cards import generate_card_number
from paybao.domain.settlement import RETRY_DELAYS_S, SettlementStatus
from paybao.services.trades import TradeRef

US_PER_S = 1_000_000
OTHER_APP_ID = "2021000000000888"
ID_NUMBER = "110101199003071234"
PHONE = "13900000000"


@pytest.fixture
def shop(platform: Platform) -> Shop:
    return portal_shop(platform)


@pytest.fixture
def shop_client(shop: Shop, client: TestClient) -> TestClient:
    assert sign_in(client, shop.merchant.id).status_code == 303
    client.headers["Accept-Language"] = "en"
    return client


def _today(platform: Platform) -> str:
    return (last_closed_day(platform.clock.now_us()) + timedelta(days=1)).isoformat()


def _close_today(platform: Platform) -> None:
    """Advance the sandbox clock past the coming China midnight: the day-close job runs."""
    today = last_closed_day(platform.clock.now_us()) + timedelta(days=1)
    seconds = (day_period(today).end_us - platform.clock.now_us()) // US_PER_S + 5
    platform.services["day_close"].ensure_scheduled()
    platform.sandbox_clock.advance(seconds)


def _card_number(seed: int) -> str:
    return generate_card_number(random.Random(seed), "ICBC")


def _bind(client: TestClient, card: str, **changes: str) -> Any:
    data = {
        "card_number": card,
        "holder_name": "测试商户",
        "id_number": ID_NUMBER,
        "reserved_phone": PHONE,
        "password": MERCHANT_PASSWORD,
        **changes,
    }
    return post_form(client, "/merchant/settlements", "/merchant/settlements/card", data)


def _withdraw(client: TestClient, amount: str, password: str = MERCHANT_PASSWORD) -> Any:
    data = {"amount": amount, "password": password}
    page = client.get("/merchant/settlements")
    out_no = page.text.split('name="out_no" value="')[1].split('"')[0]
    return client.post(
        "/merchant/settlements/withdraw",
        data={"csrf_token": csrf_of(page.text), "out_no": out_no, **data},
    )


def _detail_rows(content: bytes) -> tuple[list[dict[str, str]], list[str]]:
    with zipfile.ZipFile(io.BytesIO(content), metadata_encoding="gbk") as archive:
        name = next(n for n in archive.namelist() if n.endswith("_业务明细.csv"))
        lines = archive.read(name).decode("gbk").splitlines()
    body = [line for line in lines if not line.startswith("#")]
    return list(csv.DictReader(body)), [line for line in lines if line.startswith("#")]


def _fen(cell: str) -> int:
    return int(Decimal(cell.strip()) * 100)


# Bills --------------------------------------------------------------------------------------


def test_bills_page_shows_the_day_summary_and_downloads_the_closed_days_bill(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    buyer = make_buyer(platform, balance_fen=500_00)
    first = paid_trade(platform, shop, buyer, "B-1", total_fen=100_00)
    paid_trade(platform, shop, buyer, "B-2", total_fen=33_33)
    platform.services["refunds"].refund(
        shop.app.app_id, TradeRef(trade_no=first.trade_no), "r1", 40_00
    )
    today = _today(platform)

    page = shop_client.get("/merchant/bills")
    assert page.status_code == 200
    assert f'data-day="{today}"' in page.text and 'id="summary-open"' in page.text
    assert 'id="sum-trades">2<' in page.text and 'id="sum-refunds">1<' in page.text
    assert 'id="sum-received">¥133.33<' in page.text
    assert 'id="sum-refunded">¥-40.00<' in page.text
    assert 'href="/merchant/bills"' in page.text  # in the navigation

    early = shop_client.get(
        "/merchant/bills/download",
        params={"app_id": shop.app.app_id, "bill_type": "trade", "period": today},
    )
    assert early.status_code == 400 and 'data-code="bill_not_exist"' in early.text
    bad = shop_client.get(
        "/merchant/bills/download", params={"bill_type": "trade", "period": "2026-13-45"}
    )
    assert bad.status_code == 400 and 'data-code="invalid_bill_date"' in bad.text

    _close_today(platform)
    closed = shop_client.get("/merchant/bills", params={"day": today})
    assert 'id="summary-open"' not in closed.text
    assert f'data-type="trade" data-period="{today}"' in closed.text
    assert f'data-type="signcustomer" data-period="{today}"' in closed.text
    answer = shop_client.get(
        "/merchant/bills/download",
        params={"app_id": shop.app.app_id, "bill_type": "trade", "period": today},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/bills/download?token=")
    download = shop_client.get(answer.headers["location"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    rows, comments = _detail_rows(download.content)
    assert sorted(_fen(r["订单金额（元）"]) for r in rows) == [-40_00, 33_33, 100_00]
    assert any("#" in line for line in comments)

    month = shop_client.get(
        "/merchant/bills/download",
        params={"app_id": shop.app.app_id, "bill_type": "signcustomer", "period": today[:7]},
        follow_redirects=False,
    )
    # A month's bill exists once the month has ended: refused unless today closed a month.
    assert month.status_code in (303, 400)


def test_another_merchants_bills_are_404(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    make_shop(platform, app_id=OTHER_APP_ID)
    _close_today(platform)
    day = last_closed_day(platform.clock.now_us()).isoformat()
    assert shop_client.get("/merchant/bills", params={"app_id": OTHER_APP_ID}).status_code == 404
    theirs = shop_client.get(
        "/merchant/bills/download",
        params={"app_id": OTHER_APP_ID, "bill_type": "trade", "period": day},
        follow_redirects=False,
    )
    assert theirs.status_code == 404 and 'data-code="app_not_found"' in theirs.text
    missing = shop_client.get("/merchant/bills", params={"app_id": "2021999999999999"})
    assert missing.status_code == 404
    mine = shop_client.get(
        "/merchant/bills/download",
        params={"app_id": shop.app.app_id, "bill_type": "trade", "period": day},
        follow_redirects=False,
    )
    assert mine.status_code == 303


def test_bill_pages_need_a_merchant_session(client: TestClient) -> None:
    for path in ("/merchant/bills", "/merchant/bills/download", "/merchant/settlements"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/merchant/login?next=")


# Settlement ---------------------------------------------------------------------------------


def test_bind_card_then_withdraw_pays_the_card(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    buyer = make_buyer(platform)
    paid_trade(platform, shop, buyer, "S-1", total_fen=50_00)
    page = shop_client.get("/merchant/settlements")
    assert 'id="no-card"' in page.text and 'id="no-settlements"' in page.text
    assert 'data-fen="4970"' in page.text  # 50.00 less the 0.6 % fee
    nocard = _withdraw(shop_client, "1.00")
    assert nocard.status_code == 409
    assert 'data-code="settlement_card_missing"' in nocard.text

    card = _card_number(7)
    wrong = _bind(shop_client, card, password="wrong-password-1")
    assert 'data-code="bad_credentials"' in wrong.text and wrong.status_code >= 400
    stranger = _bind(shop_client, card, holder_name="李四")
    assert 'data-code="settle_holder_mismatch"' in stranger.text
    assert platform.services["settlement"].card_of(shop.merchant.id) is None
    bound = _bind(shop_client, card)
    assert bound.status_code == 200, bound.text
    assert platform.services["settlement"].card_of(shop.merchant.id) == card
    assert card[-4:] in bound.text and card not in bound.text  # masked

    too_much = _withdraw(shop_client, "100.00")
    assert 'data-code="merchant_balance_not_enough"' in too_much.text
    assert too_much.status_code >= 400
    done = _withdraw(shop_client, "20.00")
    assert done.status_code == 200 and 'role="status"' in done.text
    assert 'data-status="paid"' in done.text
    assert platform.services["bank"].card_balance_fen(card) >= 20_00
    (row,) = platform.services["settlement"].of_merchant(shop.merchant.id)
    assert (row.status, row.amount_fen) == (SettlementStatus.PAID, 20_00)
    report = platform.reconcile.run(last_closed_day(platform.clock.now_us()) + timedelta(days=1))
    assert report.differences == []
    assert report.clean


def test_forms_without_csrf_token_are_refused(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    card = _card_number(8)
    answer = shop_client.post(
        "/merchant/settlements/card",
        data={"card_number": card, "holder_name": "测试商户", "password": MERCHANT_PASSWORD},
    )
    assert answer.status_code == 403
    assert platform.services["settlement"].card_of(shop.merchant.id) is None
    answer = shop_client.post(
        "/merchant/settlements/withdraw", data={"amount": "1.00", "password": MERCHANT_PASSWORD}
    )
    assert answer.status_code == 403


def test_a_failing_payout_is_retried_then_shown_failed(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    buyer = make_buyer(platform)
    paid_trade(platform, shop, buyer, "F-1", total_fen=30_00)
    assert _bind(shop_client, _card_number(9)).status_code == 200
    bank = platform.services["bank"]
    bank.script.extend(["fail"] * (len(RETRY_DELAYS_S) + 1))
    _close_today(platform)
    retrying = shop_client.get("/merchant/settlements")
    assert 'data-status="pending" data-failure="bank_declined"' in retrying.text
    assert "The bank declined the credit" in retrying.text
    assert 'id="failed-banner"' not in retrying.text
    for delay_s in RETRY_DELAYS_S:
        platform.sandbox_clock.advance(delay_s + 1)
    failed = shop_client.get("/merchant/settlements")
    assert 'data-status="failed" data-failure="bank_declined"' in failed.text
    assert 'id="failed-banner"' in failed.text
    (row,) = platform.services["settlement"].of_merchant(shop.merchant.id)
    assert row.status is SettlementStatus.FAILED
    assert row.attempts == len(RETRY_DELAYS_S) + 1
    assert 'data-fen="2982"' in failed.text  # the money stayed on the account


# Admin reconciliation -----------------------------------------------------------------------


@pytest.fixture
def admin_client(platform: Platform, client: TestClient) -> TestClient:
    _, secret = create_operator(platform)
    signed_in: Any = admin_support.sign_in(client, secret)
    assert signed_in.status_code == 303
    client.headers["Accept-Language"] = "en"
    return client


def _run(client: TestClient, day: str) -> Any:
    page = client.get("/admin/reconcile")
    return client.post(
        "/admin/reconcile/run",
        data={"csrf_token": csrf_of(page.text), "day": day},
        follow_redirects=False,
    )


def test_admin_runs_a_clean_day_and_sees_totals(
    platform: Platform, admin_client: TestClient
) -> None:
    make_buyer(platform, balance_fen=12_34)
    page = admin_client.get("/admin/reconcile")
    assert page.status_code == 200 and 'id="no-runs"' in page.text
    assert 'href="/admin/reconcile"' in page.text
    today = _today(platform)
    answer = _run(admin_client, today)
    assert answer.status_code == 303
    shown = admin_client.get(answer.headers["location"])
    assert f'data-day="{today}" data-clean="true" data-count="0"' in shown.text
    assert "no differences" in shown.text
    assert 'data-name="bank.debits_fen"><td>bank.debits_fen</td><td class="num">1234<' in shown.text
    assert 'data-check="bank.three_way"' in shown.text
    assert 'data-name="balance.' in shown.text


def test_admin_page_lists_each_difference_with_its_kind(
    platform: Platform, shop: Shop, admin_client: TestClient
) -> None:
    buyer = make_buyer(platform)
    paid_trade(platform, shop, buyer, "D-1", total_fen=20_00)
    card = _card_number(10)
    platform.services["bank"].open_card(card, "ICBC", "测试商户", ID_NUMBER, PHONE, 0)
    platform.services["settlement"].bind_card(shop.merchant.id, card)
    account_id = shop.merchant.settlement_account_id
    platform.services["settlement"].withdraw(shop.merchant.id, account_id, 5_00, "w1")
    lost = f"mwd:{shop.merchant.id}:w1:1"
    with platform.engine.begin() as tx:
        tx.execute(text("DELETE FROM bank_requests WHERE request_id = :r"), {"r": lost})
    platform.services["bank"].credit("ghost:1", card, 3_00)
    answer = _run(admin_client, _today(platform))
    page = admin_client.get(answer.headers["location"])
    assert "reconciled: 2 differences" in page.text
    assert 'data-clean="false"' in page.text
    assert f'data-kind="missing_at_bank" data-subject="{lost}"' in page.text
    assert 'data-kind="missing_in_ledger" data-subject="ghost:1"' in page.text
    assert "Missing at bank" in page.text and "Missing in ledger" in page.text
    (run,) = platform.services["day_close"].recent_runs()
    assert not run["clean"] and run["difference_count"] == 2


def test_admin_run_refuses_bad_days_and_forms_without_csrf(
    platform: Platform, admin_client: TestClient
) -> None:
    tomorrow = (last_closed_day(platform.clock.now_us()) + timedelta(days=2)).isoformat()
    for day in ("not-a-day", tomorrow):
        answer = _run(admin_client, day)
        assert answer.status_code == 400 and 'data-code="invalid_date"' in answer.text
    forged = admin_client.post("/admin/reconcile/run", data={"day": _today(platform)})
    assert forged.status_code == 403
    assert platform.services["day_close"].recent_runs() == []


def test_admin_reconcile_needs_an_operator(client: TestClient) -> None:
    answer = client.get("/admin/reconcile", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/login")
