"""A withholding deduction a coupon paid part of, in Chromium on a phone-sized screen: the user
signs a car park's agreement on the sign page, holds the platform's 满100减10, the car park
charges 105.00, and the agreement's page in the wallet shows 95.00 taken, with the order's
105.00 and the coupon's 10.00 beside it, without scrolling sideways.
Screenshot: test-artifacts/withholding-coupon-1-detail.png."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from tests.e2e.browser_support import PHONE_SCREEN as VIEWPORT
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_agreements_browser import _charge
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.coupon_support import claim, operator_campaign
from tests.integration.gateway_support import (
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    make_buyer,
    make_shop,
    signed_params,
)

from paybao.bootstrap import Platform

pytestmark = pytest.mark.browser
_shot = Shots("withholding-coupon")
__all__ = ["server"]  # the fixture that serves the app
PHONE = "13700137002"


def _click(page: Any, selector: str) -> None:
    click_through(page, selector, error_expected=True)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_the_agreement_page_shows_what_a_coupon_took_off_a_charge(
    platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    make_shop(platform)  # the app _charge deducts for
    user_id = make_buyer(platform, PHONE, balance_fen=200_00)
    platform.services["alipay_methods"].base_url = server
    back_to = f"{server}/api/v1/status"
    biz = {
        "personal_product_code": "GENERAL_WITHHOLDING_P",
        "product_code": "GENERAL_WITHHOLDING",
        "sign_scene": "INDUSTRY|PARKING",
        "access_params": {"channel": "ALIPAYAPP"},
    }
    params = signed_params("alipay.user.agreement.page.sign", biz, return_url=back_to)

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()
        page.goto(f"{server}/gateway.do?{urllib.parse.urlencode(params)}")
        page.fill("#phone", PHONE)
        page.fill("#password", LOGIN_PASSWORD)
        _click(page, "#login button")
        page.fill("#payment_password", PAYMENT_PASSWORD)
        _click(page, "#sign-button")
        back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))
        number = back["agreement_no"]

        claim(platform, user_id, operator_campaign(platform))  # 满100减10
        _charge(platform, number, 105_00)
        page.goto(f"{server}/wallet/agreements/{number}")
        item = page.locator("li.deduction")
        assert item.count() == 1
        assert item.locator(".minus").inner_text() == "-95.00"
        assert item.locator(".discounted").inner_text() == "订单金额 ¥105.00 · 优惠 -¥10.00"
        assert page.inner_text("#month-deducted") == "¥95.00"
        fits_phone(page)
        _shot(page, "1-detail")
        browser.close()
