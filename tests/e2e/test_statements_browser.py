"""Statements in Chromium on a phone-sized screen (390 px): the user with purchases, a refund and
a transfer opens 月账单 from the wallet home and sees the month's totals, categories and top
payees; picks the annual statement, which shows nothing until opened, opens it, makes a share
card without ticking the (unticked) amounts box; then searches by memo. Screenshots:
test-artifacts/statements-*.png."""

from __future__ import annotations

import pytest
from tests.e2e.browser_support import PHONE_SCREEN, Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.coupon_support import open_trade
from tests.integration.gateway_support import (
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    make_buyer,
    make_shop,
)

from paybao.bootstrap import Platform
from paybao.domain.statement_summaries import Month

pytestmark = pytest.mark.browser
__all__ = ["server"]
PHONE = "13600136201"
FRIEND = "13600136202"
shot = Shots("statements")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_month_year_and_search_on_a_phone(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    shop = make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=800_00)
    make_buyer(platform, FRIEND, balance_fen=0)
    for no, amount_fen in (("e1", 36_50), ("e2", 12_00), ("e3", 88_00)):
        trade = open_trade(platform, shop, no, amount_fen)
        platform.services["trades"].pay_by_buyer(trade.trade_no, user_id, PAYMENT_PASSWORD)
    platform.services["wallet"].transfer(user_id, FRIEND, 150_00, PAYMENT_PASSWORD, memo="聚餐AA")
    month = Month.of_us(platform.clock.now_us())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE_SCREEN, locale="zh-CN").new_page()
        page.goto(f"{server}/login")
        page.fill("input[name=phone]", PHONE)
        page.fill("input[name=password]", LOGIN_PASSWORD)
        click_through(page, "#submit")

        click_through(page, "#nav-statements")
        summary = page.locator("#month-summary")
        assert summary.get_attribute("data-month") == str(month)
        assert "¥286.50" in summary.locator(".out-total").inner_text()  # 36.50+12+88+150
        assert "¥800.00" in summary.locator(".in-total").inner_text()
        payees = page.locator("#top-payees li")
        assert payees.count() == 2
        assert "136****6202" in payees.nth(0).inner_text()
        assert "测试商户" in payees.nth(1).inner_text()
        categories = page.locator("#categories li")
        keys = [categories.nth(i).get_attribute("data-category") for i in range(categories.count())]
        assert keys == ["transfer", "purchase", "topup"]
        fits_phone(page)
        shot(page, "month")

        click_through(page, "#tab-year")
        assert page.locator("#year-summary").count() == 0  # nothing shown until opened
        assert page.locator("#year-closed").count() == 1
        click_through(page, "#open-year")
        assert page.locator("#year-summary").get_attribute("data-year") == str(month.year)
        assert "¥88.00" in page.locator("#biggest").inner_text()
        assert "测试商户" in page.locator("#top-merchant").inner_text()
        assert page.locator("#months li").count() == 12
        assert not page.locator("#share-amounts").is_checked()  # never pre-ticked (§16)
        click_through(page, "#make-share")
        assert page.locator("#share-no-amount").count() == 1
        assert page.locator("#share-amount").count() == 0
        assert not page.locator("#share-amounts").is_checked()
        fits_phone(page)
        shot(page, "year")

        click_through(page, "#tab-search")
        page.fill("#search-q", "aa")
        click_through(page, "#search-go")
        results = page.locator("#search-results li")
        assert results.count() == 1
        assert "聚餐AA" in results.first.inner_text() and "-150.00" in results.first.inner_text()
        page.fill("#search-q", "")
        page.fill("#search-min", "30")
        page.fill("#search-max", "90")
        click_through(page, "#search-go")
        assert page.locator("#search-results li").count() == 2  # 36.50 and 88.00
        fits_phone(page)
        shot(page, "search")

        page.fill("#search-min", "abc")
        click_through(page, "#search-go", error_expected=True)
        assert page.locator(".error").get_attribute("data-code") == "invalid_amount"
        browser.close()
