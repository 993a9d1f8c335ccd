"""Huabei checkout installments in Chromium on a phone-sized screen: a merchant's wap.pay of
600.00 (no hb_fq_num) opens the cashier, the demo buyer sees 花呗分期 in 3, 6 or 12 periods with
what each costs, picks 6, pays with the payment password and lands on the merchant's return
page; the wallet's Huabei page lists the plan and its page shows the six periods.
Screenshots: test-artifacts/checkout-installments-cashier.png, checkout-installments-plan.png."""

from __future__ import annotations

import pytest
from tests.e2e.browser_support import sign_in_at_the_cashier, wap_pay_url
from tests.e2e.test_cashier_browser import ReturnPage, merchant_site, port, server, settings
from tests.e2e.test_credit_browser import PHONE_SCREEN, demo_line, fits_the_phone
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.integration.credit_support import reconcile_clean
from tests.integration.gateway_support import make_shop

from paybao.bootstrap import Platform
from paybao.wiring.wallet_demo import DEMO_PAYMENT_PASSWORD

pytestmark = pytest.mark.browser
# The fixtures this test shares with the cashier's browser test.
__all__ = ["demo_line", "merchant_site", "port", "server", "settings"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_choose_six_periods_at_the_cashier(
    platform: Platform,
    server: str,
    merchant_site: tuple[str, type[ReturnPage]],
    demo_line: int,
) -> None:
    from playwright.sync_api import sync_playwright

    return_url, site = merchant_site
    make_shop(platform)
    pay_url = wap_pay_url(server, return_url, "hbfq-1", "600.00", "降噪耳机 分期")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE_SCREEN, locale="zh-CN")
        page = context.new_page()
        page.goto(pay_url)
        sign_in_at_the_cashier(page)
        offered = page.locator("#installments input[type=radio]")
        assert offered.count() == 3
        six = page.inner_text("label[for=funding-installments-6]")
        assert "¥104.50 × 6期" in six and "含手续费 ¥27.00" in six  # 100.00 + 4.5 % / 6
        page.check("#funding-installments-6")
        page.fill("#payment_password", DEMO_PAYMENT_PASSWORD)
        page.screenshot(path=str(ARTIFACTS / "checkout-installments-cashier.png"), full_page=True)
        assert fits_the_phone(page), "the cashier must fit a phone without sideways scrolling"
        with page.expect_navigation(url=f"{return_url}*"):
            page.click("#pay button")
        assert page.inner_text("#thanks") == "商户:支付完成"

        page.goto(f"{server}/wallet/credit")
        assert page.inner_text("#credit-available") == "1400.00"
        assert page.is_visible("#credit-plans [data-checkout='1']")
        with page.expect_navigation():
            page.click("#credit-plans a")
        rows = page.locator("#plan-periods tbody tr")
        assert rows.count() == 6
        assert "104.50" in rows.nth(5).inner_text()
        page.screenshot(path=str(ARTIFACTS / "checkout-installments-plan.png"), full_page=True)
        assert fits_the_phone(page), "the plan page must fit a phone"
        browser.close()

    [opened] = [query for query in site.queries if query]
    plan = platform.services["checkout_installments"].plan_of_trade(opened["trade_no"])
    assert plan is not None and (plan.count, plan.principal_fen, plan.fee_fen) == (6, 600_00, 27_00)
    assert reconcile_clean(platform) == []
