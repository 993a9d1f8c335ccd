"""City services in Chromium on a phone-sized screen: from the wallet's home a user opens 生活缴费,
picks Shanghai and water, the demo water company and an account number; the inquiry shows the
holder (masked) and the bill; paying with the payment password (saving the account with a
nickname) gives a receipt; an electricity account saved without paying shows as a reminder on
the wallet's home; a mobile top-up; the statement names both. Screenshots:
test-artifacts/billpay-*.png."""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.browser_support import PHONE_SCREEN as PHONE
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.billpay_support import WATER_ACCOUNT, owed_fen
from tests.integration.gateway_support import (
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    make_buyer,
    wallet_balance,
)

from paybao.bootstrap import Platform
from paybao.domain.money import format_yuan

pytestmark = pytest.mark.browser
_shot = Shots("billpay")
_fits_phone = fits_phone
_click = click_through
__all__ = ["server"]  # the fixture that serves the app
PHONE_NUMBER = "13900139501"
POWER_ACCOUNT = "88002233441"


def _biller(platform: Platform, code: str) -> Any:
    [found] = [b for b in platform.services["billers"].all() if b.code == code]
    return found


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_inquire_pay_see_the_receipt_save_and_be_reminded(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    user_id = make_buyer(platform, PHONE_NUMBER, balance_fen=1_000_00)
    water = _biller(platform, "sh_water")  # the demo billers the server seeded
    power = _biller(platform, "sh_power")
    owed = owed_fen(platform, water, WATER_ACCOUNT)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
        page.goto(f"{server}/login")
        page.fill("input[name=phone]", PHONE_NUMBER)
        page.fill("input[name=password]", LOGIN_PASSWORD)
        _click(page, "#submit")

        # Home -> 生活缴费 -> Shanghai -> water -> the water company and the account number.
        _click(page, "#nav-bills")
        page.select_option("#city-select", "shanghai")
        _click(page, "#city-go")
        assert page.locator("#categories").get_attribute("data-city") == "shanghai"
        _click(page, "a.category[data-category=water]")
        assert "上海城投水务" in page.inner_text("#inquiry-form")
        page.fill("input[name=account_no]", WATER_ACCOUNT)
        _click(page, "#submit")

        # The inquiry: the holder masked, the bill; exactly that amount.
        assert page.inner_text("#bill-biller") == "上海城投水务"
        assert page.inner_text("#bill-holder").startswith("*")
        assert page.inner_text("#bill-outstanding") == format_yuan(owed)
        assert page.get_attribute("input[name=amount]", "readonly") is not None
        _fits_phone(page)
        _shot(page, "1-inquiry")
        page.fill("#pay-nickname", "家里水费")
        page.fill("input[name=payment_password]", PAYMENT_PASSWORD)
        _click(page, "#submit")

        # The receipt.
        assert page.locator("#receipt").get_attribute("data-status") == "paid"
        assert page.inner_text("#receipt-status") == "缴费成功"
        assert page.inner_text("#receipt-amount") == format_yuan(owed)
        assert "家里水费" in page.inner_text("#receipt-saved")
        _fits_phone(page)
        _shot(page, "2-receipt")
        _click(page, "#back")
        saved = page.locator(".saved-account")
        assert saved.count() == 1 and "家里水费" in saved.inner_text()
        assert "暂无欠费" in saved.inner_text()

        # An electricity account saved without paying: the wallet's home reminds of it.
        page.goto(f"{server}/wallet/bills/inquiry?biller={power.id}&account_no={POWER_ACCOUNT}")
        power_owed = page.inner_text("#bill-outstanding")
        assert "电费可预存" in page.inner_text("#pay-form")
        page.fill("#save-only-nickname", "家里电费")
        _click(page, "#save-only-submit")
        assert page.url.endswith("/wallet/bills?saved=1")
        page.goto(f"{server}/wallet")
        reminder = page.locator(".bill-reminder")
        assert reminder.count() == 1
        assert "家里电费" in reminder.inner_text() and power_owed in reminder.inner_text()
        _fits_phone(page)
        _shot(page, "3-reminder")

        # A mobile top-up of one's own number, 100 CNY.
        page.goto(f"{server}/wallet/bills/topup")
        assert page.locator("#carrier").get_attribute("data-carrier") == "cmcc"
        page.click("text=100 元")
        page.fill("input[name=payment_password]", PAYMENT_PASSWORD)
        _fits_phone(page)
        _shot(page, "4-topup")
        _click(page, "#submit")
        assert page.inner_text("#receipt-status") == "充值成功"
        assert page.inner_text("#receipt-phone") == "139****9501"

        # The bills page: both saved accounts (one owing), the payments.
        page.goto(f"{server}/wallet/bills?city=shanghai")
        assert page.locator(".saved-account").count() == 2
        assert page.locator("tr.bill-payment").count() == 2
        _fits_phone(page)
        _shot(page, "5-bills")

        page.goto(f"{server}/wallet/statement")
        kinds = page.locator("tr.entry").evaluate_all("rows => rows.map(r => r.dataset.kind)")
        assert kinds[:3] == ["mobile_topup", "bill_payment", "topup"]
        browser.close()
    assert wallet_balance(platform, user_id) == 1_000_00 - owed - 100_00
    report = platform.reconcile.run()
    assert report.differences == []
