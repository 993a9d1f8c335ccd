"""The merchant portal's trades on a phone (390×844) in Chromium: each trade is a card, so the
status is on screen and nothing scrolls sideways, not even the table inside its scroller; on a
wide screen the table keeps its columns. Screenshots: test-artifacts/portal-trades-*.png."""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.browser_support import PHONE_SCREEN, Shots, merchant_sign_in
from tests.e2e.test_wallet_browser import CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.gateway_support import make_buyer
from tests.integration.merchant_portal_support import paid_trade, portal_shop

from paybao.bootstrap import Platform
from paybao.services.trades import TradeRef

pytestmark = pytest.mark.browser
_shot = Shots("portal-trades")
__all__ = ["server"]  # the fixture that serves the app
WIDE_SCREEN = {"width": 1280, "height": 800}
LONG_OUT_TRADE_NO = "SHOP-2026-11-26-ORDER-0000000000000000000000042"  # 64 is the most


def status_box(page: Any) -> dict[str, float]:
    box: dict[str, float] = page.locator("#trades tr.trade td.status").first.bounding_box()
    return box


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_the_trades_list_fits_a_phone_with_each_status_on_screen(
    platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    shop = portal_shop(platform)
    buyer = make_buyer(platform, balance_fen=1_000_00)
    refunded = paid_trade(platform, shop, buyer, "P-1", total_fen=12_00)
    platform.services["refunds"].refund(
        shop.app.app_id, TradeRef(trade_no=refunded.trade_no), "R-1", 2_50
    )
    paid_trade(platform, shop, buyer, LONG_OUT_TRADE_NO, total_fen=888_88)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE_SCREEN, locale="zh-CN")
        page = context.new_page()
        merchant_sign_in(page, server, shop.merchant.id)
        page.goto(f"{server}/merchant/trades")

        assert page.locator("#trades tr.trade").count() == 2
        box = status_box(page)
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_SCREEN["width"], box
        assert page.locator("#trades tr.trade td.status").first.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        scroller = page.locator("#trades").locator("xpath=..")
        assert scroller.evaluate("e => e.scrollWidth <= e.clientWidth"), "the table scrolls"
        first = page.locator("#trades tr.trade").first
        assert first.locator("td.out-trade-no").is_visible()  # what the merchant looks for
        assert first.locator("td.total").is_visible() and first.locator("td.created").is_visible()
        refund = page.locator(f"#trades tr.trade[data-trade-no='{refunded.trade_no}'] td.refunded")
        assert refund.is_visible() and refund.inner_text() == "2.50"  # its label is CSS content
        assert not first.locator("td.refunded").is_visible()  # nothing refunded: nothing said
        _shot(page, "phone")

        page.set_viewport_size(WIDE_SCREEN)  # a desktop keeps the table and its header
        assert page.locator("#trades thead").is_visible()
        assert page.locator("#trades tr.trade td.trade-no").first.is_visible()
        _shot(page, "wide")
        browser.close()
