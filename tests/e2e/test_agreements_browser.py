"""Withholding agreements in Chromium on a phone-sized screen: a car park's site sends the user to
alipay.user.agreement.page.sign; the gateway redirects to the sign page, which shows the
merchant, scene and limits; the user signs in, confirms with the payment password and lands on
the merchant's return_url with signed parameters. The car park charges once; in the wallet
the user finds the agreement, sees the charge, sets a monthly cap and ends the agreement.
Screenshots: test-artifacts/agreements-*.png."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from tests.e2e.browser_support import PHONE_SCREEN as VIEWPORT
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.gateway_support import (
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    make_buyer,
    make_shop,
    signed_params,
)

from paybao.adapters.alipay.wire import verify_notification
from paybao.bootstrap import Platform
from paybao.domain.agreements import Product
from paybao.services.trades import NewTrade
from paybao.services.withholding import DeductionRequest

pytestmark = pytest.mark.browser
_shot = Shots("agreements")
_fits_phone = fits_phone


def _click(page: Any, selector: str) -> None:
    click_through(page, selector, error_expected=True)  # these pages may show an error


__all__ = ["server"]  # the fixture that serves the app
PHONE = "13700137001"


def _charge(platform: Platform, agreement_no: str, amount_fen: int) -> None:
    """The car park's exit gate charging (the gateway path is covered by other tests)."""
    new = NewTrade(
        app_id="2021000000000777",
        out_trade_no="exit-1",
        product=Product.GENERAL_WITHHOLDING.value,
        subject="停车费 沪A12345",
        total_fen=amount_fen,
        fingerprint="exit-1",
    )
    platform.services["withholding"].deduct(
        DeductionRequest(new, agreement_no, Product.GENERAL_WITHHOLDING)
    )


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_sign_on_the_sign_page_then_cap_and_unsign_in_the_wallet(
    platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    make_shop(platform)
    make_buyer(platform, PHONE, balance_fen=200_00)
    # The sign page's address is built from the public base URL: here, the test server.
    platform.services["alipay_methods"].base_url = server
    back_to = f"{server}/api/v1/status"
    biz = {
        "personal_product_code": "GENERAL_WITHHOLDING_P",
        "product_code": "GENERAL_WITHHOLDING",
        "sign_scene": "INDUSTRY|PARKING",
        "external_agreement_no": "plate-HuA12345",
        "external_logon_id": "沪A12345",
        "access_params": {"channel": "ALIPAYAPP"},
    }
    params = signed_params("alipay.user.agreement.page.sign", biz, return_url=back_to)
    sign_url = f"{server}/gateway.do?{urllib.parse.urlencode(params)}"

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()

        page.goto(sign_url)
        assert "/agreements/sign/" in page.url
        assert page.inner_text("#merchant") == "测试商户"
        assert page.inner_text("#scene") == "INDUSTRY|PARKING"
        assert page.inner_text("#external-logon") == "沪A12345"
        assert "100.00" in page.inner_text("#limits")
        page.fill("#phone", PHONE)
        page.fill("#password", LOGIN_PASSWORD)
        _click(page, "#login button")
        page.fill("#payment_password", PAYMENT_PASSWORD)
        _fits_phone(page)
        _shot(page, "1-sign")
        _click(page, "#sign-button")
        assert page.url.startswith(back_to + "?"), page.url
        back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))
        assert verify_notification(back, platform.services["platform_key"].public_pem)
        assert back["status"] == "NORMAL"
        number = back["agreement_no"]

        _charge(platform, number, 12_00)
        page.goto(f"{server}/wallet")
        _click(page, "#nav-agreements")
        row = page.locator(f"li.agreement[data-agreement-no='{number}']")
        assert row.get_attribute("data-status") == "NORMAL"
        _click(page, f"li.agreement[data-agreement-no='{number}'] a")
        assert page.inner_text("#month-deducted") == "¥12.00"
        assert page.locator("li.deduction").count() == 1
        page.fill("#cap-input", "50.00")
        page.fill("#cap-password", PAYMENT_PASSWORD)
        _click(page, "#save-cap")
        assert page.inner_text("#cap") == "¥50.00"
        _fits_phone(page)
        _shot(page, "2-detail")

        page.on("dialog", lambda dialog: dialog.accept())
        _click(page, "#unsign")
        assert page.url.endswith("/wallet/agreements?done=unsigned")
        assert row.get_attribute("data-status") == "UNSIGN"
        _fits_phone(page)
        _shot(page, "3-unsigned")
        browser.close()

    agreement = platform.services["agreements"].agreements_of(
        platform.services["users"].find_by_phone(PHONE).id
    )[0]
    assert (agreement.status.value, agreement.unsigned_by) == ("UNSIGN", "user")
