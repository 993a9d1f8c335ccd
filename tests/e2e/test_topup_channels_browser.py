"""Top-up channels in Chromium on a phone-sized screen (390 px).

1. Online banking: the wallet's top-up page offers 网银充值; the user picks a bank and an
   amount, lands on the sandbox bank's own page, confirms with a card there, and is sent back
   to paybao, where the balance is credited (the bank's signed notice went over real HTTP).
2. Cash code: the user makes a code, the page shows its QR (decoded from the screenshot), the
   18 digits and the countdown; a partner redeems it through the API and the page turns to
   credited by itself.
Screenshots: test-artifacts/topup-*.png."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.topup_channel_support import (
    balance,
    bound_card_number,
    funded_user,
    kinds,
    partner,
)

from paybao.adapters.qr import decode_image
from paybao.bootstrap import Platform

pytestmark = pytest.mark.browser
__all__ = ["server"]  # the fixture that serves the app
PHONE_NUMBER = "13900139601"
LOGIN_PASSWORD = "abc12345"
PHONE = {"width": 390, "height": 844}


def _click(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)
    errors = page.locator(".error")
    assert errors.count() == 0, errors.first.inner_text()


def _shot(page: Any, name: str) -> bytes:
    png: bytes = page.screenshot(path=str(ARTIFACTS / f"topup-{name}.png"), full_page=True)
    return png


def _fits_phone(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _sign_in(playwright: Any, server: str) -> tuple[Any, Any]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
    page.goto(f"{server}/login")
    page.fill("input[name=phone]", PHONE_NUMBER)
    page.fill("input[name=password]", LOGIN_PASSWORD)
    _click(page, "#submit")
    return browser, page


def _served_at(platform: Platform, server: str) -> None:
    """The platform's public URL is the test server's (return, notify and the bank's page)."""
    platform.services["bank_pay_topups"].base_url = server
    channel = platform.services["bank_pay_topups"].channel
    channel.bank_base_url = server


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_online_banking_round_trip(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    person = funded_user(platform, PHONE_NUMBER, "王五")
    card = bound_card_number(platform, person)
    _served_at(platform, server)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser, page = _sign_in(playwright, server)
        page.goto(f"{server}/wallet/topup")
        assert "网银充值" in page.inner_text("main") and "现金充值码" in page.inner_text("main")
        _click(page, "a[href='/wallet/topup/bank-pay']")
        page.select_option("#bank_code", "ICBC")
        page.fill("#amount", "188.00")
        _fits_phone(page)
        _shot(page, "1-bank-pay-form")
        _click(page, "#submit")
        # The bank's own page: its name and colours, the amount, nothing of the wallet.
        assert "/sandbox-bank/netbank" in page.url
        assert page.inner_text("#bank-name") == "中国工商银行"
        assert page.inner_text("#bank-amount") == "¥188.00"
        page.fill("#card_number", card)
        page.fill("#password", "123456")
        _fits_phone(page)
        _shot(page, "2-bank-page")
        _click(page, "#bank-confirm")
        # Back at paybao: the notice arrived server to server before the browser did.
        assert "/wallet/topup/bank-pay/" in page.url
        assert page.get_attribute("#topup", "data-status") == "succeeded"
        assert page.inner_text("#balance") == "188.00"
        _fits_phone(page)
        _shot(page, "3-bank-pay-done")
        browser.close()
    topup = platform.services["bank_pay_topups"].topups(person.user_id)[0]
    assert (topup.status, topup.confirmed_by) == ("succeeded", "notice")
    assert balance(platform, person.user_id) == 188_00
    assert kinds(platform, person.user_id) == ["bank_pay_topup"]
    assert platform.reconcile.run().differences == []


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_cash_code_qr_digits_countdown_and_redemption(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    person = funded_user(platform, PHONE_NUMBER, "王五")
    counter = partner(platform, "拉卡拉 海淀 017")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser, page = _sign_in(playwright, server)
        page.goto(f"{server}/wallet/topup")
        _click(page, "a[href='/wallet/topup/cash']")
        page.fill("#amount", "500")
        _fits_phone(page)
        _shot(page, "4-cash-form")
        _click(page, "#submit")
        page.wait_for_function("document.getElementById('qr').naturalWidth > 0")
        digits = page.inner_text("#digits").replace(" ", "")
        assert len(digits) == 18 and digits.startswith("66")
        assert page.inner_text("#amount") == "500.00"
        left = page.inner_text("#countdown")
        assert left.startswith(("29:", "30:")), left
        _fits_phone(page)
        screenshot = _shot(page, "5-cash-code")
        # What a counter's scanner reads off the phone's screen is the code itself.
        assert decode_image(screenshot) == [digits]
        answer = httpx.post(
            f"{server}/api/v1/cash-partner/redemptions",
            json={"code": digits, "amount_fen": 500_00, "request_no": "LKL-0001"},
            headers={"Authorization": f"Bearer {counter.api_key}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        # The page polls its status and shows the credit by itself.
        page.wait_for_function(
            "document.getElementById('code').dataset.status === 'redeemed'", timeout=15_000
        )
        assert "拉卡拉 海淀 017" in page.inner_text("#say")
        _fits_phone(page)
        _shot(page, "6-cash-credited")
        browser.close()
    assert balance(platform, person.user_id) == 500_00
    assert kinds(platform, person.user_id) == ["cash_topup"]
