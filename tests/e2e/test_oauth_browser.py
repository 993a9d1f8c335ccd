"""Log in with paybao in Chromium on a phone-sized screen: a shop's site sends the user to the
authorize page, which names the shop and what it will learn; the user signs in there, agrees,
and lands back on the shop's redirect_uri with a one-time auth_code (and the shop's state),
which the shop trades for the user's id. In the wallet the user finds the shop under 已授权的应用
and removes it. Screenshots: test-artifacts/oauth-*.png."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from tests.e2e.browser_support import PHONE_SCREEN as VIEWPORT
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.gateway_support import APP_ID, LOGIN_PASSWORD, make_buyer, make_shop

from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError

pytestmark = pytest.mark.browser
_shot = Shots("oauth")

__all__ = ["server"]  # the fixture that serves the app
PHONE = "13700137601"


def _click(page: Any, selector: str) -> None:
    click_through(page, selector, error_expected=True)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_authorize_consent_redirect_then_remove_in_the_wallet(
    platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    # The shop's callbacks live on its notify_url's origin: here, the test server itself.
    make_shop(platform, notify_url=f"{server}/notify")
    user_id = make_buyer(platform, PHONE, balance_fen=0)
    back_to = f"{server}/api/v1/status"
    query = {"app_id": APP_ID, "scope": "auth_user", "redirect_uri": back_to, "state": "st-42"}
    authorize_url = f"{server}/oauth2/publicAppAuthorize.htm?{urllib.parse.urlencode(query)}"

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()

        page.goto(authorize_url)
        assert page.inner_text("#consent h1") == "测试商户"
        page.fill("#phone", PHONE)
        page.fill("#password", LOGIN_PASSWORD)
        _click(page, "#login button")
        assert page.locator("#agree").is_visible()
        assert "获取你的公开信息" in page.inner_text("#consent")
        fits_phone(page)
        _shot(page, "1-consent")

        _click(page, "#agree")
        assert page.url.startswith(back_to + "?"), page.url
        back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))
        assert (back["app_id"], back["source"], back["scope"], back["state"]) == (
            APP_ID,
            "alipay_wallet",
            "auth_user",
            "st-42",
        )
        issued = platform.services["user_oauth"].exchange_code(APP_ID, back["auth_code"])
        assert issued.user_id == user_id

        page.goto(f"{server}/wallet/authorized-apps")
        row = page.locator(f"li.grant[data-app-id='{APP_ID}']")
        assert "测试商户" in row.inner_text()
        fits_phone(page)
        _shot(page, "2-authorized-apps")
        _click(page, f"li.grant[data-app-id='{APP_ID}'] button.revoke")
        assert page.url.endswith("/wallet/authorized-apps?done=revoked")
        assert page.locator("#no-grants").is_visible()
        _shot(page, "3-removed")
        browser.close()

    with pytest.raises(DomainError) as refused:  # the token died with the authorisation
        platform.services["user_oauth"].holder(APP_ID, issued.access_token)
    assert refused.value.code == "oauth_token_invalid"
