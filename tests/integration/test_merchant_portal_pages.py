"""Merchant portal pages: trades search and paging, trade detail and refund from the page
(idempotent), keys and key upload, notification log and resend; one merchant never sees
another's objects."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.integration.admin_support import csrf_of
from tests.integration.gateway_support import (
    Shop,
    make_buyer,
    make_shop,
    other_keys,
    wallet_balance,
)
from tests.integration.merchant_portal_support import (
    MERCHANT_PASSWORD,
    paid_trade,
    portal_shop,
    post_form,
    sign_in,
)
from tests.support.pages import visible_text

from paybao.adapters.alipay.keys import generate_key_pair
from paybao.bootstrap import Platform
from paybao.domain.account_class import CHINA_TZ
from paybao.services.clock import datetime_from_us
from paybao.web import pages_merchant_trades

OTHER_APP_ID = "2021000000000888"


@pytest.fixture
def shop(platform: Platform) -> Shop:
    return portal_shop(platform)


@pytest.fixture
def shop_client(shop: Shop, client: TestClient) -> TestClient:
    assert sign_in(client, shop.merchant.id).status_code == 303
    client.headers["Accept-Language"] = "en"
    return client


def trade_nos(html: str) -> list[str]:
    return re.findall(r'class="trade" data-trade-no="(\d+)"', html)


def test_trades_search_by_out_trade_no_trade_no_and_date(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    buyer = make_buyer(platform)
    first = paid_trade(platform, shop, buyer, "A-1")
    second = paid_trade(platform, shop, buyer, "A-2")
    assert first.merchant_id == shop.merchant.id

    listing = shop_client.get("/merchant/trades")
    assert listing.status_code == 200
    assert trade_nos(listing.text) == [second.trade_no, first.trade_no]  # newest first
    # The status in words, its protocol code kept beside them for the merchant's developer.
    assert visible_text(listing.text).count("Paid") == 2
    assert listing.text.count('data-status="TRADE_SUCCESS" title="TRADE_SUCCESS"') == 2
    by_out = shop_client.get("/merchant/trades", params={"out_trade_no": "A-1"})
    assert trade_nos(by_out.text) == [first.trade_no]
    by_no = shop_client.get("/merchant/trades", params={"trade_no": second.trade_no})
    assert trade_nos(by_no.text) == [second.trade_no]

    day = datetime_from_us(first.created_at_us).astimezone(CHINA_TZ).date()
    that_day = shop_client.get("/merchant/trades", params={"from": str(day), "to": str(day)})
    assert len(trade_nos(that_day.text)) == 2
    next_year = date(day.year + 1, 1, 1)
    later = shop_client.get("/merchant/trades", params={"from": str(next_year)})
    assert trade_nos(later.text) == [] and 'id="no-trades"' in later.text
    bad = shop_client.get("/merchant/trades", params={"from": "31/01/2026"})
    assert bad.status_code == 400 and 'data-code="invalid_date"' in bad.text


def test_trades_pages_through_every_trade_once(
    platform: Platform, shop: Shop, shop_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages_merchant_trades, "PAGE_SIZE", 2)
    monkeypatch.setattr(pages_merchant_trades, "FETCH_SIZE", 5)
    buyer = make_buyer(platform)
    made = [paid_trade(platform, shop, buyer, f"P-{n}").trade_no for n in range(5)]
    # Two trades in the same microsecond: the cursor must neither skip nor repeat them.
    with platform.engine.begin() as connection:
        connection.execute(
            text("UPDATE trades SET created_at_us = :at WHERE trade_no IN (:a, :b)"),
            {"at": 1_800_000_000_000_000, "a": made[1], "b": made[2]},
        )
    seen: list[str] = []
    page = shop_client.get("/merchant/trades")
    for _ in range(5):
        seen += trade_nos(page.text)
        older = re.search(r'href="([^"]+)" id="older"', page.text)
        if older is None:
            break
        page = shop_client.get(older.group(1).replace("&amp;", "&"))
    assert sorted(seen) == sorted(made) and len(seen) == 5


def test_a_merchant_cannot_see_another_merchants_trades(
    platform: Platform, shop_client: TestClient
) -> None:
    other = make_shop(platform, app_id=OTHER_APP_ID)
    theirs = paid_trade(platform, other, make_buyer(platform), "THEIRS-1")
    assert shop_client.get("/merchant/trades").text.count('class="trade"') == 0
    found = shop_client.get("/merchant/trades", params={"trade_no": theirs.trade_no})
    assert trade_nos(found.text) == []
    assert shop_client.get(f"/merchant/trades/{theirs.trade_no}").status_code == 404
    page = shop_client.get("/merchant/trades")
    refund = shop_client.post(
        f"/merchant/trades/{theirs.trade_no}/refund",
        data={"csrf_token": csrf_of(page.text), "amount": "1.00", "out_request_no": "x"},
    )
    assert refund.status_code == 404
    assert platform.services["trades"].get(theirs.trade_no).refunded_fen == 0
    assert shop_client.get("/merchant/trades/00000000000000000000").status_code == 404


def test_refund_from_the_page_is_idempotent_and_shows_in_the_detail(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    trade = paid_trade(platform, shop, buyer, "R-1", total_fen=10_00)
    detail = shop_client.get(f"/merchant/trades/{trade.trade_no}")
    assert detail.status_code == 200 and 'id="refund-form"' in detail.text
    request_no = re.search(r'name="out_request_no" value="([^"]+)"', detail.text).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": csrf_of(detail.text), "out_request_no": request_no, "amount": "3.00"}
    done = shop_client.post(
        f"/merchant/trades/{trade.trade_no}/refund", data=form, follow_redirects=False
    )
    assert done.status_code == 303
    again = shop_client.post(
        f"/merchant/trades/{trade.trade_no}/refund", data=form, follow_redirects=False
    )
    assert again.status_code == 303  # the double submit repeats the first refund
    after = platform.services["trades"].get(trade.trade_no)
    assert after.refunded_fen == 3_00
    assert wallet_balance(platform, buyer) == 100_00 - 10_00 + 3_00
    page = shop_client.get(done.headers["location"])
    assert f'data-out-request-no="{request_no}"' in page.text
    assert 'role="status"' in page.text and 'id="refunded">3.00<' in page.text
    status = re.search(r'id="status">(.*?)</dd>', page.text).group(1)  # type: ignore[union-attr]
    assert visible_text(status) == "Paid TRADE_SUCCESS"


def test_refund_from_the_page_refuses_too_much_and_bad_amounts_then_refunds_the_rest(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    buyer = make_buyer(platform)
    trade = paid_trade(platform, shop, buyer, "R-2", total_fen=5_00)
    path = f"/merchant/trades/{trade.trade_no}"
    too_much = post_form(shop_client, path, f"{path}/refund", {"amount": "5.01"})
    assert too_much.status_code == 400
    assert 'data-code="' in too_much.text and 'id="refund-form"' in too_much.text
    bad = post_form(shop_client, path, f"{path}/refund", {"amount": "1.001"})
    assert bad.status_code == 400 and 'data-code="invalid_amount"' in bad.text
    whole = post_form(shop_client, path, f"{path}/refund", {"amount": "5.00", "reason": "缺货"})
    assert whole.status_code == 303
    closed = shop_client.get(path)
    assert 'data-status="TRADE_CLOSED"' in closed.text and 'id="refund-form"' not in closed.text
    assert "缺货" in closed.text
    assert "Closed TRADE_CLOSED" in visible_text(closed.text)


def test_refund_needs_a_csrf_token(platform: Platform, shop: Shop, shop_client: TestClient) -> None:
    trade = paid_trade(platform, shop, make_buyer(platform), "R-3")
    answer = shop_client.post(f"/merchant/trades/{trade.trade_no}/refund", data={"amount": "1.00"})
    assert answer.status_code == 403
    assert platform.services["trades"].get(trade.trade_no).refunded_fen == 0


def test_keys_page_shows_keys_and_replaces_the_app_key_refusing_a_bad_pem(
    platform: Platform, shop_client: TestClient
) -> None:
    keys = shop_client.get("/merchant/keys")
    assert keys.status_code == 200
    assert "2021000000000777" in keys.text
    assert 'class="app-status" data-status="active">Active<' in keys.text
    assert platform.services["platform_key"].public_pem.strip()[:60] in keys.text
    before = platform.services["merchants"].app("2021000000000777").public_key
    bad = post_form(
        shop_client,
        "/merchant/keys",
        "/merchant/keys/2021000000000777",
        {"public_key": "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----"},
    )
    assert bad.status_code == 400 and 'data-code="invalid_key"' in bad.text
    assert platform.services["merchants"].app("2021000000000777").public_key == before
    new_key = other_keys().public_pem_spki
    done = post_form(
        shop_client, "/merchant/keys", "/merchant/keys/2021000000000777", {"public_key": new_key}
    )
    assert done.status_code == 303
    assert (
        platform.services["merchants"].app("2021000000000777").public_key.strip() == new_key.strip()
    )
    assert "replaced" in shop_client.get(done.headers["location"]).text


def test_key_upload_to_another_merchants_app_is_404(
    platform: Platform, shop_client: TestClient
) -> None:
    other = make_shop(platform, app_id=OTHER_APP_ID)
    answer = post_form(
        shop_client,
        "/merchant/keys",
        f"/merchant/keys/{OTHER_APP_ID}",
        {"public_key": generate_key_pair().public_pem_spki},
    )
    assert answer.status_code == 404
    assert platform.services["merchants"].app(OTHER_APP_ID).public_key == other.app.public_key


def test_notification_log_lists_attempts_and_resend_delivers_again(
    platform: Platform, shop: Shop, shop_client: TestClient
) -> None:
    url = "http://127.0.0.1:9/nobody-listens"
    trade = paid_trade(platform, shop, make_buyer(platform), "N-1", notify_url=url)
    platform.jobs.run_due()
    log = shop_client.get("/merchant/notifications")
    assert log.status_code == 200
    notify_id = re.search(r'class="card notification" data-notify-id="([^"]+)"', log.text).group(1)  # type: ignore[union-attr]
    assert log.text.count('class="attempt" data-outcome="error"') == 1
    assert "Unreachable" in visible_text(log.text) and '<td title="error">' in log.text
    assert f"/merchant/trades/{trade.trade_no}" in log.text
    resent = post_form(
        shop_client, "/merchant/notifications", f"/merchant/notifications/{notify_id}/resend", {}
    )
    assert resent.status_code == 303
    platform.jobs.run_due()
    again = shop_client.get(resent.headers["location"])
    assert again.text.count('class="attempt" data-outcome="error"') == 2
    assert 'role="status"' in again.text


def test_resend_of_another_merchants_notification_is_404(
    platform: Platform, shop_client: TestClient
) -> None:
    other = make_shop(platform, app_id=OTHER_APP_ID)
    paid_trade(platform, other, make_buyer(platform), "N-2", notify_url="http://127.0.0.1:9/x")
    theirs = platform.services["notify"].notifications_of(other.merchant.id)[0]
    assert shop_client.get("/merchant/notifications").text.count("data-notify-id") == 0
    answer = post_form(
        shop_client,
        "/merchant/notifications",
        f"/merchant/notifications/{theirs.notify_id}/resend",
        {},
    )
    assert answer.status_code == 404


def test_portal_pages_fit_a_phone_and_speak_both_languages(
    platform: Platform, shop_client: TestClient
) -> None:
    for path in ("/merchant/trades", "/merchant/keys", "/merchant/notifications"):
        en = shop_client.get(path)
        zh = shop_client.get(path, headers={"Accept-Language": "zh-CN"})
        assert en.status_code == zh.status_code == 200
        assert 'name="viewport"' in en.text and 'lang="en"' in en.text
        assert 'lang="zh-CN"' in zh.text
    assert "Trades" in shop_client.get("/merchant/trades").text
    assert MERCHANT_PASSWORD not in shop_client.get("/merchant/keys").text
