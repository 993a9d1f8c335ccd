"""Huabei in Chromium on a phone-sized screen: a merchant's page.pay opens the cashier, the demo
buyer (granted a line) picks 花呗, types the payment password and lands on the merchant's return
page; the 1st bills the purchase (sandbox clock); the buyer repays the bill on /wallet/credit.
Screenshots: test-artifacts/credit-cashier.png, credit-billed.png, credit-repaid.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.e2e.browser_support import sign_in_at_the_cashier, wap_pay_url
from tests.e2e.test_cashier_browser import ReturnPage, merchant_site, port, server, settings
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.integration.credit_support import advance_to, next_month, reconcile_clean
from tests.integration.gateway_support import make_shop

from paybao.bootstrap import Platform
from paybao.domain.credit import BillStatus
from paybao.domain.trades import Funding
from paybao.wiring.wallet_demo import DEMO_PAYMENT_PASSWORD, DEMO_PHONE

pytestmark = pytest.mark.browser
# The fixtures this test shares with the cashier's browser test.
__all__ = ["merchant_site", "port", "server", "settings"]
PHONE_SCREEN = {"width": 390, "height": 844}


def fits_the_phone(page: object) -> bool:
    width = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    return bool(width <= PHONE_SCREEN["width"])


@pytest.fixture
def demo_line(platform: Platform, server: str) -> Iterator[int]:
    """The demo buyer (seeded by `server`) with a 2,000 CNY line."""
    user = platform.services["users"].find_by_phone(DEMO_PHONE)
    platform.services["credit"].grant(user.id, 2_000_00, reason="demo", actor="test")
    yield user.id


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_pay_with_huabei_at_the_cashier_then_repay_the_bill(
    platform: Platform,
    server: str,
    merchant_site: tuple[str, type[ReturnPage]],
    demo_line: int,
) -> None:
    from playwright.sync_api import sync_playwright

    return_url, site = merchant_site
    make_shop(platform)
    pay_url = wap_pay_url(server, return_url, "huabei-1", "368.00", "蓝牙耳机")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE_SCREEN, locale="zh-CN")
        page = context.new_page()
        page.goto(pay_url)
        assert "/cashier/" in page.url
        sign_in_at_the_cashier(page)
        assert page.inner_text("#credit-available") == "可用 ¥2000.00"
        page.check("#funding-credit")
        page.fill("#payment_password", DEMO_PAYMENT_PASSWORD)
        page.screenshot(path=str(ARTIFACTS / "credit-cashier.png"), full_page=True)
        assert fits_the_phone(page), "the cashier must fit a phone without sideways scrolling"
        with page.expect_navigation(url=f"{return_url}*"):
            page.click("#pay button")
        assert page.inner_text("#thanks") == "商户:支付完成"

        # The wallet's Huabei page: the purchase is this month's, nothing to repay yet.
        page.goto(f"{server}/wallet/credit")
        assert page.inner_text("#credit-available") == "1632.00"
        assert page.inner_text("#credit-open") == "368.00"
        assert page.is_visible("#nothing-due")

        year, month = next_month(platform)
        advance_to(platform, year, month, 1, 10)  # the 1st: the bill closes
        page.reload()
        assert page.inner_text("#last-bill-amount") == "368.00"
        assert page.inner_text("#last-bill-due") == f"{year:04d}-{month:02d}-10"
        assert page.input_value("#repay-amount") == "368.00"
        page.fill("#repay-password", DEMO_PAYMENT_PASSWORD)
        page.screenshot(path=str(ARTIFACTS / "credit-billed.png"), full_page=True)
        assert fits_the_phone(page), "the Huabei page must fit a phone"
        with page.expect_navigation():
            page.click("#repay-submit")
        assert page.inner_text("p.notice") == "还款成功"
        assert page.inner_text("#last-bill-status") == "已还清"
        assert page.inner_text("#credit-available") == "2000.00"
        page.screenshot(path=str(ARTIFACTS / "credit-repaid.png"), full_page=True)
        browser.close()

    opened = [query for query in site.queries if query]
    assert len(opened) == 1 and opened[0]["out_trade_no"] == "huabei-1"
    trade = platform.services["trades"].get(opened[0]["trade_no"])
    assert trade.funding is Funding.CREDIT
    [bill] = platform.services["credit"].summary(demo_line).bills
    assert (bill.status, bill.principal_fen) == (BillStatus.PAID, 368_00)
    assert reconcile_clean(platform) == []
