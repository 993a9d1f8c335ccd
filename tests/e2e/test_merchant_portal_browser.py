"""The merchant portal on a phone in Chromium: the trades list says each trade's status in
words (its protocol code as the tag's title), one trade shows the words with the code beside
them, the keys page says whether the app is active, and the notification log says what each
delivery attempt came to. Screenshots: test-artifacts/portal-*.png."""

from __future__ import annotations

import pytest
from tests.e2e.browser_support import (
    PHONE_SCREEN,
    Shots,
    click_through,
    fits_phone,
    merchant_sign_in,
)
from tests.e2e.test_wallet_browser import CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.gateway_support import make_buyer
from tests.integration.merchant_portal_support import paid_trade, portal_shop

from paybao.bootstrap import Platform

pytestmark = pytest.mark.browser
_shot = Shots("portal")
__all__ = ["server"]  # the fixture that serves the app
DEAD_URL = "http://127.0.0.1:9/nobody-listens"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_the_portal_says_statuses_in_words_on_a_phone(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    shop = portal_shop(platform)
    buyer = make_buyer(platform, balance_fen=100_00)
    paid_trade(platform, shop, buyer, "P-1", total_fen=12_00)
    trade = paid_trade(platform, shop, buyer, "P-2", total_fen=8_00, notify_url=DEAD_URL)
    platform.jobs.run_due()  # the notification's first attempt: nobody listens

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE_SCREEN, locale="zh-CN").new_page()
        merchant_sign_in(page, server, shop.merchant.id)

        page.goto(f"{server}/merchant/trades")
        tags = page.locator("#trades tr.trade span.tag")
        assert tags.count() == 2
        for n in range(2):
            assert tags.nth(n).inner_text() == "支付成功"
            assert tags.nth(n).get_attribute("title") == "TRADE_SUCCESS"
        fits_phone(page)
        _shot(page, "1-trades")

        click_through(page, f"#trades tr.trade[data-trade-no='{trade.trade_no}'] a >> nth=0")
        assert page.inner_text("#status") == "支付成功 TRADE_SUCCESS"
        fits_phone(page)
        _shot(page, "2-trade")

        page.goto(f"{server}/merchant/keys")
        assert page.inner_text(".app-status") == "启用"
        fits_phone(page)
        _shot(page, "3-keys")

        page.goto(f"{server}/merchant/notifications")
        page.click("section.notification details summary")  # the attempts, folded by default
        attempt = page.locator("tr.attempt[data-outcome='error'] td").nth(3)
        assert attempt.inner_text() == "连接失败"
        fits_phone(page)
        _shot(page, "4-notifications")
        browser.close()
