"""Yu'e Bao in Chromium on a phone-sized screen: from the wallet's home a user opens the fund,
transfers 20,000.00 in on a Monday morning (it waits for confirmation, with its date), the
sandbox clock moves to Wednesday (the daily pass confirms it on Tuesday and pays Tuesday's
income), the page shows yesterday's income and the new total; an instant transfer out lands in
the balance and the statement names both movements. Screenshots: test-artifacts/fund-*.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.e2e.browser_support import PHONE_SCREEN as PHONE
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, make_buyer
from tests.integration.test_fund import MONDAY, WEDNESDAY, china_now, move_to

from paybao.bootstrap import Platform

pytestmark = pytest.mark.browser
_shot = Shots("fund")
_fits_phone = fits_phone
_click = click_through
__all__ = ["server"]  # the fixture that serves the app
PHONE_NUMBER = "13900139301"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_transfer_in_wait_for_confirmation_see_income_and_transfer_out(
    platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    make_buyer(platform, PHONE_NUMBER, balance_fen=50_000_00)
    monday = move_to(platform, MONDAY, 10).date()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
        page.goto(f"{server}/login")
        page.fill("input[name=phone]", PHONE_NUMBER)
        page.fill("input[name=password]", LOGIN_PASSWORD)
        _click(page, "#submit")

        # Home -> Yu'e Bao -> transfer in.
        _click(page, "#nav-fund")
        assert page.inner_text("#fund-total") == "0.00"
        _click(page, "#fund-in")
        assert "可用余额 50000.00 元" in page.inner_text("main")
        page.fill("input[name=amount]", "20000.00")
        page.fill("input[name=payment_password]", PAYMENT_PASSWORD)
        _click(page, "#submit")
        assert page.url.endswith("/wallet/fund?done=pending")
        assert page.inner_text("#fund-total") == "20000.00"
        assert page.inner_text("#fund-pending") == "20000.00"
        pending = page.locator("tr.pending-order[data-kind=in]")
        tuesday = (monday + timedelta(days=1)).isoformat()
        assert pending.get_attribute("data-settle-date") == tuesday  # confirmed on Tuesday
        assert f"{tuesday} 确认" in pending.inner_text()
        _fits_phone(page)
        _shot(page, "1-pending")

        # Wednesday: confirmed on Tuesday, Tuesday's income paid (20,000.00 at 0.6500: 1.30).
        move_to(platform, WEDNESDAY, 10)
        page.goto(f"{server}/wallet/fund")
        assert china_now(platform).weekday() == WEDNESDAY
        assert page.inner_text("#income-yesterday") == "+1.30"
        assert page.inner_text("#income-total") == "1.30"
        assert page.inner_text("#fund-total") == "20001.30"
        assert page.inner_text("#fund-pending") == "0.00"
        assert page.inner_text("#yield-7d") == "2.4008%"
        assert page.locator("tr.income").count() == 1
        assert page.locator("tr.pending-order").count() == 0
        _fits_phone(page)
        _shot(page, "2-income")

        # An instant transfer out lands in the balance; the statement names both movements.
        _click(page, "#fund-out")
        assert "今日剩余额度 10000.00 元" in page.inner_text("main")
        page.fill("input[name=amount]", "1000.00")
        page.select_option("select[name=speed]", "fast")
        page.fill("input[name=payment_password]", PAYMENT_PASSWORD)
        _click(page, "#submit")
        assert page.url.endswith("/wallet/fund?done=succeeded")
        assert page.inner_text("#fund-total") == "19001.30"
        page.goto(f"{server}/wallet")
        assert page.inner_text("#balance") == "31000.00"
        page.goto(f"{server}/wallet/statement")
        kinds = page.locator("tr.entry").evaluate_all("rows => rows.map(r => r.dataset.kind)")
        assert kinds[:3] == ["fund_out", "fund_in", "topup"]
        _fits_phone(page)
        _shot(page, "3-statement")
        browser.close()
    report = platform.reconcile.run()
    assert report.differences == []
