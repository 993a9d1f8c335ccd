"""What the Chromium tests share: a phone-sized screen, clicking through a form (no error on the
next page), the page fitting the phone, screenshots under test-artifacts/, and a shop's mobile
payment that opens the cashier, where the demo buyer signs in."""

from __future__ import annotations

import urllib.parse
from typing import Any

from tests.e2e.test_wallet_browser import ARTIFACTS
from tests.integration.gateway_support import signed_params
from tests.integration.merchant_portal_support import MERCHANT_PASSWORD

from paybao.wiring.wallet_demo import DEMO_LOGIN_PASSWORD, DEMO_PHONE

PHONE_SCREEN = {"width": 390, "height": 844}


def click_through(page: Any, selector: str, *, error_expected: bool = False) -> None:
    """Click and wait for the next page; it shows no error unless one is expected."""
    with page.expect_navigation():
        page.click(selector)
    errors = page.locator(".error")
    if not error_expected:
        assert errors.count() == 0, errors.first.inner_text()


def merchant_sign_in(page: Any, server: str, merchant_id: int) -> None:
    """The merchant portal's sign-in, as a test shop's owner (merchant_portal_support)."""
    page.goto(f"{server}/merchant/login")
    page.fill("input[name=merchant_id]", str(merchant_id))
    page.fill("input[name=password]", MERCHANT_PASSWORD)
    click_through(page, "#submit")


def fits_phone(page: Any) -> None:
    """Nothing but the page's own scrollers is wider than the phone."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_SCREEN["width"], f"{page.url}: the page is {width}px wide on a phone"


class Shots:
    """`shot(page, name)` saves test-artifacts/<prefix>-<name>.png (full page) and returns it."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, page: Any, name: str) -> bytes:
        ARTIFACTS.mkdir(exist_ok=True)
        png: bytes = page.screenshot(
            path=str(ARTIFACTS / f"{self.prefix}-{name}.png"), full_page=True
        )
        return png


def wap_pay_url(server: str, return_url: str, out_trade_no: str, amount: str, subject: str) -> str:
    """The gateway URL of a shop's signed mobile-web payment (alipay.trade.wap.pay) of `amount`
    yuan; opening it shows the cashier (the shop: gateway_support.make_shop)."""
    biz = {
        "out_trade_no": out_trade_no,
        "total_amount": amount,
        "subject": subject,
        "product_code": "QUICK_WAP_WAY",
    }
    params = signed_params("alipay.trade.wap.pay", biz, return_url=return_url)
    return f"{server}/gateway.do?{urllib.parse.urlencode(params)}"


def sign_in_at_the_cashier(page: Any) -> None:
    """The demo buyer signs in on the cashier page; it shows the ways to pay next."""
    page.fill("#phone", DEMO_PHONE)
    page.fill("#password", DEMO_LOGIN_PASSWORD)
    with page.expect_navigation():
        page.click("#login button")
