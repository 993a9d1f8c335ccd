"""Pre-authorisation in Chromium on a phone-sized screen: a car rental's app opens its
alipay.fund.auth.order.app.freeze order string; the gateway redirects to the confirmation page,
which says who freezes how much, what for and until when; the user signs in and confirms with
the payment password. The rental takes the fuel from the deposit; in the wallet the user sees
the frozen rest among the held money, finds the deposit in the list and reads what happened.
Screenshots: test-artifacts/preauth-*.png."""

from __future__ import annotations

import urllib.parse
from typing import Any

import httpx
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

from paybao.bootstrap import Platform

pytestmark = pytest.mark.browser
_shot = Shots("preauth")
_fits_phone = fits_phone


def _click(page: Any, selector: str) -> None:
    click_through(page, selector, error_expected=True)  # these pages may show an error


__all__ = ["server"]  # the fixture that serves the app
PHONE = "13700137011"


def _take_fuel(server: str, auth_no: str) -> None:
    """The rental's server: alipay.trade.pay from the freeze, over HTTP."""
    biz = {
        "out_trade_no": "fuel-1",
        "product_code": "PRE_AUTH_ONLINE",
        "auth_no": auth_no,
        "total_amount": "88.00",
        "subject": "还车补油费",
    }
    answer = httpx.post(f"{server}/gateway.do", data=signed_params("alipay.trade.pay", biz))
    assert '"code":"10000"' in answer.text, answer.text


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_confirm_a_deposit_then_find_it_in_the_wallet(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    make_shop(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=2_000_00)
    # The confirmation page's address is built from the public base URL: here, the server.
    platform.services["alipay_methods"].base_url = server
    biz = {
        "out_order_no": "rent-20261126-07",
        "out_request_no": "rent-20261126-07-f",
        "order_title": "租车押金 沪A·D12345",
        "amount": "1500.00",
        "product_code": "PRE_AUTH_ONLINE",
        "timeout_express": "7d",
    }
    params = signed_params("alipay.fund.auth.order.app.freeze", biz)
    order_url = f"{server}/gateway.do?{urllib.parse.urlencode(params)}"

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()

        page.goto(order_url)
        assert "/preauth/confirm/" in page.url
        assert page.inner_text("#merchant") == "测试商户"
        assert page.inner_text("#amount") == "¥1500.00"
        assert page.inner_text("#order-title") == "租车押金 沪A·D12345"
        page.fill("#phone", PHONE)
        page.fill("#password", LOGIN_PASSWORD)
        _click(page, "#login button")
        page.fill("#payment_password", PAYMENT_PASSWORD)
        assert "1500.00" in page.inner_text("#confirm-button")
        _fits_phone(page)
        _shot(page, "1-confirm")
        _click(page, "#confirm-button")
        assert page.get_attribute("#state", "data-status") == "AUTHORIZED"
        _fits_phone(page)
        _shot(page, "2-frozen")
        auth_no = page.inner_text("#auth-no")

        _take_fuel(server, auth_no)
        page.goto(f"{server}/wallet")
        hold = page.locator("tr.hold[data-kind='preauth']")
        assert hold.count() == 1 and "1412.00" in hold.inner_text()
        assert page.inner_text("#held") == "1412.00"
        _fits_phone(page)
        _shot(page, "3-wallet")
        _click(page, "#nav-preauth")
        row = page.locator(f"li.preauth[data-auth-no='{auth_no}']")
        assert row.get_attribute("data-status") == "AUTHORIZED"
        assert "¥1412.00 / ¥1500.00" in row.inner_text()
        _fits_phone(page)
        _shot(page, "4-list")
        _click(page, f"li.preauth[data-auth-no='{auth_no}'] a")
        assert page.inner_text("#paid") == "¥88.00"
        assert page.inner_text("#rest") == "¥1412.00"
        kinds = page.locator("li.operation").evaluate_all(
            "items => items.map(item => item.dataset.kind)"
        )
        assert kinds == ["PAY", "FREEZE"]
        _fits_phone(page)
        _shot(page, "5-detail")
        browser.close()

    (order,) = platform.services["preauth"].orders_of(user_id)
    assert (order.paid_fen, order.rest_fen) == (88_00, 1_412_00)
